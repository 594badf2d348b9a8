// `offload run --all --every <duration>` as an operator runs it: the built CLI in the foreground on a fresh
// ClickHouse database, PostgreSQL database and S3 bucket of the local stack, stopped with SIGTERM.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as watermarks from '../../src/state/watermarks.js';
import { decodeWatermark, EPOCH, sameWatermark } from '../../src/core/watermark.js';
import { createPool } from '../../src/state/pool.js';
import { SUMMARY } from '../../src/pipeline/stage.js';
import type { ScheduleLogLine } from '../../src/pipeline/schedule.js';
import { CLI, freshCliStack, TradeBatches, until, type CliStack } from '../support/cli-stack.js';
import { ROOT, SHIPPED_TABLES } from '../support/stack.js';

const TABLES = SHIPPED_TABLES;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let stack: CliStack;
/** Each batch of trades in days of its own, in time order, older than the lag (see dayAlignedBatches). */
const batches = new TradeBatches(6);
const { seeded } = batches;
const seedBatch = (rows: number, spanMs: number, seed: string) => batches.seed(stack, rows, spanMs, seed);

/** The CLI in interval mode, its output lines collected as they come. */
class Scheduler {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn('node', [CLI, ...args], { cwd: ROOT, env: stack.env, stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.lines.push(l));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** The --json lines. */
  get json(): ScheduleLogLine[] {
    return this.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ScheduleLogLine);
  }

  tables(tick?: number): Array<Extract<ScheduleLogLine, { event: 'table' }>> {
    return this.json.filter(
      (l): l is Extract<ScheduleLogLine, { event: 'table' }> => l.event === 'table' && (tick === undefined || l.tick === tick),
    );
  }

  finished(): Array<Extract<ScheduleLogLine, { event: 'tick-finished' }>> {
    return this.json.filter((l): l is Extract<ScheduleLogLine, { event: 'tick-finished' }> => l.event === 'tick-finished');
  }

  /**
   * `fn` while the process is stopped (SIGSTOP … SIGCONT). Seeding inserts each exchange on its own, and trades
   * of closed windows are late by design: a tick between the two inserts would take a day's candles with one
   * exchange only and rightly never come back for the other's (late data). Stopped, no query of it starts meanwhile.
   */
  async paused<T>(fn: () => Promise<T>): Promise<T> {
    this.child.kill('SIGSTOP');
    try {
      return await fn();
    } finally {
      this.child.kill('SIGCONT');
    }
  }

  async stop(timeoutMs = 120_000): Promise<number | null> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  describe(): string {
    return `stdout:\n${this.lines.slice(-40).join('\n')}\nstderr:\n${this.stderr.slice(-3000)}`;
  }
}

/** Iceberg rows per configured table equal ClickHouse rows up to its watermark; returns the Iceberg rows. */
async function assertIcebergMatchesClickHouse(): Promise<Map<string, number>> {
  const report = await stack.status();
  const snaps = await stack.snapshots();
  const out = new Map<string, number>();
  for (const t of report.tables) {
    assert.ok(t.clickhouse.ok, `${t.name}: ${JSON.stringify(t.clickhouse)}`);
    const rows = snaps.get(t.target)?.totalRecords ?? 0;
    assert.equal(rows, t.clickhouse.value.rowsUpToWatermark, `${t.name}: Iceberg rows vs ClickHouse rows up to the watermark`);
    out.set(t.name, rows);
  }
  return out;
}

before(async () => {
  stack = await freshCliStack('every');
  await seedBatch(10_000, 40 * HOUR, 'every-1'); // two days: closed candles of every size
});

after(async () => {
  await stack?.drop();
});

describe('offload run --all --every', () => {
  it('a bad --every is a usage error (exit code 2) that says what is expected', async () => {
    for (const [args, message] of [
      [['--every', 'soon'], /--every: "soon" is not a positive duration \(expected e\.g\. "90s", "15m", "1h", "1h30m"\)/],
      [['--every', '0s'], /--every: "0s" is not a positive duration/],
      [['--every', '1m', '--dry-run'], /--every cannot be combined with --dry-run/],
    ] as const) {
      const r = await stack.offload(['run', '--all', ...args]);
      assert.equal(r.exitCode, 2, `${args.join(' ')}: ${String(r.stderr)}`);
      assert.match(String(r.stderr), message);
    }
  });

  it('keeps tables up to date: two ticks with new trades between them, both picked up; one line per table per tick', async () => {
    const s = new Scheduler(['run', '--all', '--every', '2s', '--json']);
    try {
      const first = await until(() => s.finished()[0], 'the first tick to finish', 180_000).catch((e) =>
        assert.fail(`${e.message}\n${s.describe()}`),
      );
      const firstLines = s.tables(first.tick);
      assert.deepEqual(firstLines.map((l) => l.table).sort(), [...TABLES].sort());
      const committedRows = (lines: typeof firstLines, table: string) =>
        lines.filter((l) => l.table === table && l.status === 'committed').reduce((n, l) => n + (l.rows ?? 0), 0);
      assert.equal(committedRows(firstLines, 'bronze_trades_binance'), seeded.binance, s.describe());
      assert.equal(committedRows(firstLines, 'bronze_trades_kraken'), seeded.kraken);
      assert.equal(committedRows(firstLines, 'silver_trades'), seeded.binance + seeded.kraken);

      // New trades between ticks: a later tick picks them up (all of them, once — inserted while the process
      // is stopped, perhaps in the middle of a tick).
      const fresh = await s.paused(() => seedBatch(2_000, 30 * MINUTE, 'every-2'));
      const picked = await until(
        () => {
          const later = s.tables().filter((l) => l.tick > first.tick);
          const binance = committedRows(later, 'bronze_trades_binance');
          const kraken = committedRows(later, 'bronze_trades_kraken');
          const silver = committedRows(later, 'silver_trades');
          return binance === fresh.binance && kraken === fresh.kraken && silver === fresh.total ? later : undefined;
        },
        'a later tick to offload the new trades',
        120_000,
      ).catch((e) => assert.fail(`${e.message}\n${s.describe()}`));
      assert.ok(
        picked.every((l) => l.status !== 'failed'),
        s.describe(),
      );

      // Ticks keep coming on the schedule with nothing new: up to date.
      const lastTick = Math.max(...picked.map((l) => l.tick));
      await until(() => s.finished().find((f) => f.tick > lastTick), 'one more tick', 60_000);
      const quiet = s.tables(s.finished().find((f) => f.tick > lastTick)!.tick);
      assert.deepEqual(
        quiet.map((l) => l.status),
        TABLES.map(() => 'up-to-date'),
      );

      const code = await s.stop();
      assert.equal(code, 0, s.describe());
      const json = s.json;
      assert.equal(json[0].event, 'started');
      assert.equal(json.at(-1)!.event, 'stopped', s.describe());
      // One line per table per finished tick.
      for (const f of s.finished()) assert.equal(s.tables(f.tick).length, TABLES.length, `tick ${f.tick}`);
    } finally {
      s.child.kill('SIGKILL');
    }
    const rows = await assertIcebergMatchesClickHouse();
    assert.equal(rows.get('bronze_trades_binance'), seeded.binance);
    assert.equal(rows.get('bronze_trades_kraken'), seeded.kraken);
    assert.equal(rows.get('silver_trades'), seeded.binance + seeded.kraken);
  });

  it('a tick still running when the next is due is skipped and logged, never started twice', async () => {
    // A tick of nine tables with new rows takes far longer than 200 ms.
    await seedBatch(20_000, 20 * MINUTE, 'every-3');
    const s = new Scheduler(['run', '--all', '--every', '200ms', '--json']);
    try {
      await until(
        () => s.json.some((l) => l.event === 'tick-skipped') && s.finished().length >= 2,
        'a skipped tick and two finished ticks',
        180_000,
      ).catch((e) => assert.fail(`${e.message}\n${s.describe()}`));
      const code = await s.stop();
      assert.equal(code, 0, s.describe());
    } finally {
      s.child.kill('SIGKILL');
    }
    const json = s.json;
    const skipped = json.filter((l): l is Extract<ScheduleLogLine, { event: 'tick-skipped' }> => l.event === 'tick-skipped');
    const started = new Set(s.tables().map((l) => l.tick));
    for (const k of skipped) {
      assert.ok(!started.has(k.tick), `tick ${k.tick} was skipped and still ran`);
      assert.ok(started.has(k.runningTick), `tick ${k.tick} names tick ${k.runningTick} as running, which never ran`);
      // The running tick had not finished when the skip was logged.
      const skipAt = json.indexOf(k);
      const finishedAt = json.findIndex((l) => l.event === 'tick-finished' && l.tick === k.runningTick);
      assert.ok(finishedAt === -1 || finishedAt > skipAt, `tick ${k.tick} skipped after tick ${k.runningTick} had finished`);
    }
    // Never two ticks at once: each tick's lines end (tick-finished) before the next tick's first line.
    let current: number | null = null;
    for (const l of json) {
      if (l.event === 'table') {
        if (current === null) current = l.tick;
        assert.equal(l.tick, current, `tick ${l.tick} ran while tick ${current} was still running`);
      } else if (l.event === 'tick-finished') {
        assert.equal(l.tick, current);
        current = null;
      }
    }
    assert.match(s.lines.find((l) => l.includes('"tick-skipped"')) ?? '', /"runningForMs":\d+/);
    await assertIcebergMatchesClickHouse();
  });

  it('two interval processes on the same tables are safe together: each row is committed by exactly one of them', async (t) => {
    const fresh = await seedBatch(10_000, 2 * HOUR, 'every-5');
    const a = new Scheduler(['run', '--all', '--every', '1s', '--json']);
    const b = new Scheduler(['run', '--all', '--every', '1s', '--json']);
    try {
      await until(() => a.finished().length >= 2 && b.finished().length >= 2, 'two ticks of each process', 180_000).catch((e) =>
        assert.fail(`${e.message}\n${a.describe()}\n${b.describe()}`),
      );
      assert.deepEqual(await Promise.all([a.stop(), b.stop()]), [0, 0], `${a.describe()}\n${b.describe()}`);
    } finally {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
    }
    const lines = [...a.tables(), ...b.tables()];
    assert.deepEqual(
      lines.filter((l) => l.status === 'failed'),
      [],
    );
    const committed = (table: string) =>
      lines.filter((l) => l.table === table && l.status === 'committed').reduce((n, l) => n + (l.rows ?? 0), 0);
    assert.equal(committed('bronze_trades_binance'), fresh.binance);
    assert.equal(committed('bronze_trades_kraken'), fresh.kraken);
    assert.equal(committed('silver_trades'), fresh.total);
    t.diagnostic(`busy lines: ${lines.filter((l) => l.status === 'busy').length} of ${lines.length}`);
    await assertIcebergMatchesClickHouse();
  });

  it('SIGTERM during a run stops it after the commit: no run left running, watermarks equal the snapshots', async () => {
    // Enough rows that each bronze table takes seconds; one table at a time, so the signal can be sent once
    // the first table has committed and while the second is running.
    await seedBatch(40_000, 60 * MINUTE, 'every-4');
    const runsBefore = (await stack.query<{ n: string }>(`SELECT count(*) AS n FROM offload_runs WHERE status = 'committed'`))[0].n;
    const s = new Scheduler(['run', '--all', '--every', '1h', '--concurrency', '1']);
    const pool = createPool({ connectionString: stack.pgUrl }, { env: stack.env, max: 1 });
    try {
      const running = await until(
        async () => {
          const rows = await stack.query<{ table_name: string; status: string }>(
            `SELECT table_name, status FROM offload_runs WHERE status IN ('running', 'committed')`,
          );
          const committed = rows.filter((r) => r.status === 'committed').length - Number(runsBefore);
          return committed > 0 ? rows.find((r) => r.status === 'running')?.table_name : undefined;
        },
        'one table committed and the next running',
        180_000,
        20,
      ).catch((e) => assert.fail(`${e.message}\n${s.describe()}`));
      const code = await s.stop();
      assert.equal(code, 0, s.describe());
      const out = s.lines.join('\n');
      assert.match(out, /stopping \(SIGTERM\): tick 1 ends after its current commit/);
      assert.match(out, /stopped after 1 ticks \(0 skipped/);
      // The first table committed; the one running at the signal was abandoned before its commit (or, had it
      // reached its commit, completed it); nothing started after.
      const lines = new Map(TABLES.map((t) => [t, s.lines.find((l) => l.includes(`tick 1  ${t} (`)) ?? '']));
      assert.equal([...lines.values()].filter((l) => / {2}committed {2}/.test(l)).length >= 1, true, s.describe());
      assert.match(lines.get(running)!, / {2}(committed {2}|skipped {2}.*stopped (while moving its data|before its commit))/, s.describe());
      for (const t of ['silver_trades', 'ohlcv_1m', 'ohlcv_1d'])
        assert.match(lines.get(t)!, / {2}skipped {2}not run: a stop was requested/);

      const stillRunning = await stack.query(`SELECT table_name, status FROM offload_runs WHERE status = 'running'`);
      assert.deepEqual(stillRunning, []);
      const aborted = await stack.query<{ table_name: string; error: string }>(
        `SELECT table_name, error FROM offload_runs WHERE status = 'aborted'`,
      );
      assert.ok(
        aborted.every((r) => r.table_name === running && /stopped/.test(r.error)),
        JSON.stringify(aborted),
      );
      // Every watermark is exactly its table's current snapshot's (or the epoch, for a table never committed).
      const snaps = await stack.snapshots();
      const doc = stack.configDoc();
      for (const w of await watermarks.list(pool)) {
        const target = String(doc.tables.find((t) => t.name === w.table)!.target);
        const snap = snaps.get(target);
        if (!snap) {
          assert.ok(sameWatermark(w.watermark, EPOCH), `${w.table}: a watermark without a snapshot`);
          continue;
        }
        assert.equal(w.committedRunId, snap.summary[SUMMARY.runId], `${w.table}: the watermark's run is not the current snapshot's`);
        const inSnapshot = decodeWatermark(snap.summary[SUMMARY.watermark]);
        assert.ok(
          sameWatermark(w.watermark, inSnapshot),
          `${w.table}: watermark ${JSON.stringify(w.watermark)} vs snapshot ${JSON.stringify(inSnapshot)}`,
        );
        assert.notEqual(w.status, 'running', `${w.table}: watermark status left running`);
      }
    } finally {
      s.child.kill('SIGKILL');
      await pool.end();
    }
    // Nothing lost or duplicated: whatever each table committed is exactly ClickHouse up to its watermark.
    await assertIcebergMatchesClickHouse();

    // The next run picks up what the stop left.
    const again = await stack.offload(['run', '--all', '--json']);
    assert.equal(again.exitCode, 0, String(again.stderr));
    const rows = await assertIcebergMatchesClickHouse();
    assert.equal(rows.get('bronze_trades_binance'), seeded.binance);
    assert.equal(rows.get('bronze_trades_kraken'), seeded.kraken);
    assert.equal(rows.get('silver_trades'), seeded.binance + seeded.kraken);
  });
});
