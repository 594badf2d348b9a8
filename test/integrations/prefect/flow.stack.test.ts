// The Prefect flow (integrations/prefect/offload_flow.py) run for real by Prefect 3 from PyPI, in its local
// mode (temporary server, PREFECT_HOME in a temp dir), against the local stack: each task runs the built
// CLI, `offload run --table T --json`, on a fresh ClickHouse database, PostgreSQL database and S3 bucket.
// What Prefect recorded (task states, times, retries, logs) is read back from Prefect's API; what landed in
// Iceberg is read from the catalog and the tables' metadata.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPool } from '../../../src/state/pool.js';
import { tryLockTable } from '../../../src/state/locks.js';
import { CLI, freshCliStack, TradeBatches, until, type CliStack, type CurrentSnapshot } from '../../support/cli-stack.js';
import { PrefectDriver, prefectPython, type FlowRunAnswer, type TaskRunInfo } from '../../support/prefect/driver.js';

const BRONZE = ['bronze_trades_binance', 'bronze_trades_kraken'];
const SILVER = ['silver_trades'];
const GOLD = ['ohlcv_1m', 'ohlcv_5m', 'ohlcv_15m', 'ohlcv_30m', 'ohlcv_1h', 'ohlcv_1d'];
const ALL = [...BRONZE, ...SILVER, ...GOLD];
const HOUR = 3_600_000;

let stack: CliStack;
let driver: PrefectDriver;
let targetOf: Map<string, string>;
/** Each batch of trades in days of its own, in time order, older than the lag (see dayAlignedBatches). */
const batches = new TradeBatches(6);
const { seeded } = batches;
const seedBatch = (rows: number, spanMs: number, seed: string) => batches.seed(stack, rows, spanMs, seed);

function task(run: FlowRunAnswer, name: string): TaskRunInfo {
  const t = run.tasks.find((x) => x.name === name);
  assert.ok(t, `no task run named ${name} (tasks: ${run.tasks.map((x) => x.name).join(', ')})`);
  return t;
}

function states(run: FlowRunAnswer): Record<string, string> {
  return Object.fromEntries(run.tasks.map((t) => [t.name, t.state]));
}

function ms(iso: string | null): number {
  assert.ok(iso, 'a task run without a start or end time');
  return Date.parse(iso);
}

async function icebergRows(): Promise<Map<string, CurrentSnapshot>> {
  const snaps = await stack.snapshots();
  const out = new Map<string, CurrentSnapshot>();
  for (const [table, target] of targetOf) {
    const s = snaps.get(target);
    if (s) out.set(table, s);
  }
  return out;
}

/** Rows in ClickHouse up to each table's watermark, from `offload status --json`. */
async function clickhouseUpToWatermark(): Promise<Map<string, number>> {
  const report = await stack.status();
  return new Map(report.tables.map((t) => [t.name, t.clickhouse.ok ? t.clickhouse.value.rowsUpToWatermark : -1]));
}

before(async () => {
  const python = prefectPython();
  assert.ok(python, 'the Prefect venv is missing: run dev/prefect-env.sh (npm test does)');
  stack = await freshCliStack('prefect');
  targetOf = new Map(stack.configDoc().tables.map((t) => [String(t.name), String(t.target)]));
  // Two days of trades, all older than the 5-minute lag: every bronze and silver row can go, and the
  // candles of every size, days included.
  await seedBatch(20_000, 40 * HOUR, 'prefect-1');
  // The CLI is found through OFFLOAD_CLI, and the connections reach it through the worker's environment.
  driver = new PrefectDriver(python, { ...stack.env, OFFLOAD_CLI: `node ${CLI}` });
  await driver.ready();
});

after(async () => {
  await driver?.close();
  await stack?.drop();
});

describe('the Prefect flow, run by Prefect', () => {
  let first: FlowRunAnswer;
  let afterFirst: Map<string, CurrentSnapshot>;

  it('offloads all nine tables: bronze concurrently, then silver, then gold', async () => {
    first = await driver.run({ config: stack.configFile, retry_delay_seconds: 1 });
    assert.equal(first.flowRun.state, 'COMPLETED', `${first.flowRun.message}\n${driver.console.slice(-3000)}`);
    assert.deepEqual(states(first), Object.fromEntries([...ALL].sort().map((n) => [n, 'COMPLETED'])));

    // Layer order, from the times Prefect recorded.
    const bronzeEnd = Math.max(...BRONZE.map((n) => ms(task(first, n).end)));
    const silverStart = Math.min(...SILVER.map((n) => ms(task(first, n).start)));
    const silverEnd = Math.max(...SILVER.map((n) => ms(task(first, n).end)));
    const goldStart = Math.min(...GOLD.map((n) => ms(task(first, n).start)));
    assert.ok(bronzeEnd <= silverStart, 'silver started before bronze ended');
    assert.ok(silverEnd <= goldStart, 'gold started before silver ended');
    const [a, b] = BRONZE.map((n) => task(first, n));
    assert.ok(ms(a.start) < ms(b.end) && ms(b.start) < ms(a.end), 'the bronze tasks did not run at the same time');
    // …and the dependencies Prefect knows of (its graph): silver waits for both bronze tasks, gold for silver.
    const idOf = new Map(Object.entries(first.taskIds).map(([id, name]) => [name, id]));
    assert.deepEqual(a.waitFor, []);
    assert.deepEqual([...task(first, 'silver_trades').waitFor].sort(), BRONZE.map((n) => idOf.get(n)).sort());
    for (const n of GOLD) assert.deepEqual(task(first, n).waitFor, [idOf.get('silver_trades')], n);

    // What landed: every table's Iceberg rows are what its task reported and what ClickHouse holds up to
    // its watermark; bronze and silver have every seeded trade.
    afterFirst = await icebergRows();
    const upToWatermark = await clickhouseUpToWatermark();
    const result = first.result!.tables;
    for (const name of ALL) {
      const snap = afterFirst.get(name);
      assert.ok(snap, `${name}: no Iceberg snapshot`);
      assert.equal(result[name].status, 'committed', `${name}: ${JSON.stringify(result[name])}`);
      assert.ok(result[name].rows > 0, `${name}: no rows offloaded`);
      assert.equal(snap.totalRecords, result[name].rows, `${name}: Iceberg rows vs the task's result`);
      assert.equal(snap.totalRecords, upToWatermark.get(name), `${name}: Iceberg rows vs ClickHouse rows up to the watermark`);
    }
    assert.equal(afterFirst.get('bronze_trades_binance')!.totalRecords, seeded.binance);
    assert.equal(afterFirst.get('bronze_trades_kraken')!.totalRecords, seeded.kraken);
    assert.equal(afterFirst.get('silver_trades')!.totalRecords, seeded.binance + seeded.kraken);

    // The JSON results became Prefect logs of each task.
    for (const name of ALL) {
      const line = first.logs.find((l) => l.task === name && l.message.startsWith(`${name} (`));
      assert.ok(line, `no result log for ${name}`);
      assert.match(
        line.message,
        new RegExp(`^${name} \\((bronze|silver|gold)\\): committed, ${result[name].rows.toLocaleString('en-US')} rows`),
      );
    }
  });

  it('running the flow twice adds no rows', async () => {
    const second = await driver.run({ config: stack.configFile, retry_delay_seconds: 1 });
    assert.equal(second.flowRun.state, 'COMPLETED', second.flowRun.message ?? '');
    const result = second.result!.tables;
    for (const name of ALL) {
      assert.equal(task(second, name).state, 'COMPLETED', name);
      assert.equal(result[name].rows, 0, `${name}: ${JSON.stringify(result[name])}`);
      assert.equal(result[name].status, 'up-to-date', name);
    }
    const now = await icebergRows();
    for (const name of ALL) {
      assert.equal(now.get(name)!.totalRecords, afterFirst.get(name)!.totalRecords, `${name}: rows changed`);
      assert.equal(now.get(name)!.snapshotId, afterFirst.get(name)!.snapshotId, `${name}: a new snapshot`);
    }
  });

  it('a failing table fails its task and the layers after it; the other tables still succeed', async () => {
    const before = await icebergRows();
    const fresh = await seedBatch(3_000, HOUR, 'prefect-2');
    // A third bronze table whose source does not exist in ClickHouse.
    const doc = stack.configDoc();
    const missing = {
      name: 'bronze_trades_missing',
      layer: 'bronze',
      source: `${stack.clickhouseDatabase}.no_such_table`,
      cursor: 'exchange_timestamp',
      target: 'cold.bronze_trades_missing',
    };
    const config = stack.writeConfig('with-missing.json', { ...doc, tables: [...doc.tables.slice(0, 2), missing, ...doc.tables.slice(2)] });

    const run = await driver.run({ config, retry_delay_seconds: 1 });
    assert.equal(run.flowRun.state, 'FAILED');
    assert.match(run.flowRun.message ?? '', /8 of 10 tables failed: bronze_trades_missing, silver_trades, ohlcv_1m/);
    const failed = task(run, 'bronze_trades_missing');
    assert.equal(failed.state, 'FAILED');
    assert.match(failed.message ?? '', /bronze_trades_missing: offload exited with \d+ \(/);
    assert.match(failed.message ?? '', /no_such_table/);
    assert.equal(failed.runCount, 1, 'a failure that will not pass by itself is not retried');
    for (const name of BRONZE) assert.equal(task(run, name).state, 'COMPLETED', name);
    for (const name of [...SILVER, ...GOLD]) {
      const t = task(run, name);
      assert.equal(t.state, 'FAILED', name);
      assert.match(
        t.message ?? '',
        new RegExp(`UpstreamLayerFailed: ${name} not offloaded: the (silver|gold) layer comes after .*bronze_trades_missing`),
      );
    }

    // The healthy bronze tables took the new trades; nothing after the failed layer moved.
    const after = await icebergRows();
    assert.equal(after.get('bronze_trades_binance')!.totalRecords, seeded.binance);
    assert.equal(after.get('bronze_trades_kraken')!.totalRecords, seeded.kraken);
    for (const name of [...SILVER, ...GOLD]) assert.equal(after.get(name)!.snapshotId, before.get(name)!.snapshotId, `${name} moved`);

    // With the table fixed (here: removed), the next run catches silver and gold up.
    const fixed = await driver.run({ config: stack.configFile, retry_delay_seconds: 1 });
    assert.equal(fixed.flowRun.state, 'COMPLETED', fixed.flowRun.message ?? '');
    assert.equal(fixed.result!.tables.silver_trades.rows, fresh.total);
    const caughtUp = await icebergRows();
    assert.equal(caughtUp.get('silver_trades')!.totalRecords, seeded.binance + seeded.kraken);
    const upToWatermark = await clickhouseUpToWatermark();
    for (const name of ALL) assert.equal(caughtUp.get(name)!.totalRecords, upToWatermark.get(name), name);
  });

  it('a table another worker holds is retried by Prefect and offloaded once it is free', async () => {
    const fresh = await seedBatch(1_000, HOUR, 'prefect-3');
    // Another worker: this test holds the table's lock until the flow's first attempt has been refused.
    const pool = createPool({ connectionString: stack.pgUrl }, { env: stack.env, max: 1, applicationName: 'another worker' });
    const lock = await tryLockTable(pool, 'bronze_trades_binance');
    assert.ok(lock, 'could not take the lock');
    // The real CLI, wrapped only to note each attempt's exit code for this table.
    const attempts = join(stack.dir, 'attempts');
    const wrapper = join(stack.dir, 'offload-noting-attempts.sh');
    writeFileSync(
      wrapper,
      `#!/bin/sh\nnode '${CLI}' "$@"\nrc=$?\n[ "$3" = bronze_trades_binance ] && echo "$rc" >> '${attempts}'\nexit $rc\n`,
    );
    chmodSync(wrapper, 0o755);
    try {
      const running = driver.run({ config: stack.configFile, offload_cli: wrapper, retries: 5, retry_delay_seconds: 1 });
      await until(() => existsSync(attempts) && readFileSync(attempts, 'utf8').trim().length > 0, 'the first attempt', 300_000);
      await lock.release();
      const run = await running;

      assert.equal(readFileSync(attempts, 'utf8').split('\n')[0], '5', 'the first attempt was not refused as busy (exit code 5)');
      const binance = task(run, 'bronze_trades_binance');
      assert.equal(binance.state, 'COMPLETED', binance.message ?? '');
      assert.ok(binance.runCount >= 2, `run count ${binance.runCount}: no retry`);
      assert.ok(
        run.logs.some(
          (l) =>
            l.task === 'bronze_trades_binance' && /exited with 5 \(another worker holds the table\).*Prefect retries this/.test(l.message),
        ),
        'the busy attempt is not in the logs',
      );
      assert.equal(run.flowRun.state, 'COMPLETED', run.flowRun.message ?? '');
      assert.equal(run.result!.tables.bronze_trades_binance.rows, fresh.binance);
      const rows = await icebergRows();
      assert.equal(rows.get('bronze_trades_binance')!.totalRecords, seeded.binance);
      assert.equal(rows.get('silver_trades')!.totalRecords, seeded.binance + seeded.kraken);
    } finally {
      await lock.release();
      await pool.end();
    }
  });

  it('the deployment in prefect.yaml: every 15 minutes, one run at a time; a manual trigger runs all three layers through a worker', async () => {
    const fresh = await seedBatch(2_000, HOUR, 'prefect-4');
    const before = await icebergRows();
    const run = await driver.deploy({ config: stack.configFile, retry_delay_seconds: 1 });

    const d = run.deployment;
    assert.equal(d.name, 'offload-every-15m');
    assert.equal(d.entrypoint, 'offload_flow.py:offload_all');
    assert.equal(d.workPool, 'offload');
    assert.deepEqual(d.schedules, [{ interval: 900, timezone: 'UTC', active: true }]);
    assert.deepEqual(d.concurrency, { limit: 1, collisionStrategy: 'CANCEL_NEW' });
    // The runs the schedule makes are 15 minutes apart.
    assert.deepEqual(d.scheduledRunSpacingSeconds, [900, 900, 900]);
    assert.match(JSON.stringify(d.pullSteps), /set_working_directory.*integrations\/prefect/);

    // The run triggered by hand, executed by the worker, offloaded every layer in order.
    assert.equal(run.flowRun.state, 'COMPLETED', `${run.flowRun.message}\nworker (exit ${run.workerExitCode}):\n${run.workerOutput}`);
    assert.deepEqual(states(run), Object.fromEntries([...ALL].sort().map((n) => [n, 'COMPLETED'])));
    assert.ok(Math.max(...BRONZE.map((n) => ms(task(run, n).end))) <= ms(task(run, 'silver_trades').start));
    assert.ok(ms(task(run, 'silver_trades').end) <= Math.min(...GOLD.map((n) => ms(task(run, n).start))));
    const after = await icebergRows();
    assert.equal(after.get('bronze_trades_binance')!.totalRecords, before.get('bronze_trades_binance')!.totalRecords + fresh.binance);
    assert.equal(after.get('bronze_trades_kraken')!.totalRecords, before.get('bronze_trades_kraken')!.totalRecords + fresh.kraken);
    assert.equal(after.get('silver_trades')!.totalRecords, seeded.binance + seeded.kraken);
    const upToWatermark = await clickhouseUpToWatermark();
    for (const name of ALL) assert.equal(after.get(name)!.totalRecords, upToWatermark.get(name), name);
    // Logs of the worker's run are in Prefect, per task.
    assert.ok(
      run.logs.some(
        (l) =>
          l.task === 'silver_trades' &&
          l.message.startsWith(`silver_trades (silver): committed, ${fresh.total.toLocaleString('en-US')} rows`),
      ),
      'no result log for silver_trades',
    );
  });
});
