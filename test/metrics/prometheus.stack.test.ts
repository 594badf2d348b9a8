// The metrics as an operator's monitoring sees them: the built CLI in interval mode with --metrics-port
// on a fresh corner of the local stack, scraped every second by a real Prometheus (Debian's package) that
// also evaluates the shipped alert rules. Read back through Prometheus' HTTP API only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import YAML from 'yaml';
import { FaultProxy, targetOf, throughProxy } from '../../src/drill/fault-proxy.js';
import { CLI, dayAlignedBatches, freshCliStack, until, type CliStack } from '../support/cli-stack.js';
import { freePort, startPrometheus, type Prometheus } from '../support/prometheus.js';
import { ROOT } from '../support/stack.js';

const HOUR = 3_600_000;
const TABLE = 'bronze_trades_binance';

/** An offload process of this test, its output lines kept. */
class Offload {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn('node', [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.stdout.push(l));
    createInterface({ input: this.child.stderr! }).on('line', (l) => this.stderr.push(l));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 120_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  describe(): string {
    return `stdout:\n${this.stdout.slice(-30).join('\n')}\nstderr:\n${this.stderr.slice(-30).join('\n')}`;
  }
}

/**
 * The shipped rules with thresholds a test can reach: the freshness rule's "N × interval" becomes 3 × 1 s,
 * and no rule waits (`for`) before firing. The expressions are otherwise the shipped ones.
 */
function testRules(): string {
  const doc = YAML.parse(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string; for?: string }> }>;
  };
  for (const group of doc.groups) {
    for (const rule of group.rules) {
      delete rule.for;
      if (rule.alert === 'OffloadFreshnessLagHigh') {
        assert.match(rule.expr, /> 3 \* 900/, 'the freshness rule no longer has the threshold this test rewrites');
        rule.expr = rule.expr.replace('3 * 900', '3 * 1');
      }
    }
  }
  return YAML.stringify(doc);
}

let stack: CliStack;
let prometheus: Prometheus;
const ports = { healthy: 0, broken: 0, watch: 0 };
const nextBatch = dayAlignedBatches(6);
const committed = { binance: 0, kraken: 0 };
/** A moment (Unix seconds) while the healthy scheduler and serve-metrics were both scraped. */
let liveAt = 0;

async function seedOld(rows: number, spanMs: number, seed: string) {
  const { start, end } = nextBatch(spanMs);
  const r = await stack.seed(rows, start, end, seed);
  committed.binance += r.binance;
  committed.kraken += r.kraken;
  return { ...r, end };
}

/** The one value of an instant query for the healthy scheduler's table, or undefined while absent. */
async function value(expr: string): Promise<number | undefined> {
  const r = await prometheus.query(expr);
  return r.length === 1 ? r[0].value : undefined;
}

before(async () => {
  stack = await freshCliStack('prom');
  ports.healthy = await freePort();
  ports.broken = await freePort();
  ports.watch = await freePort();
  prometheus = await startPrometheus({
    targets: [
      { job: 'offload', target: `127.0.0.1:${ports.healthy}` },
      { job: 'offload-broken', target: `127.0.0.1:${ports.broken}` },
      { job: 'offload-watch', target: `127.0.0.1:${ports.watch}` },
    ],
    rules: testRules(),
  });
});

after(async () => {
  await prometheus?.stop();
  await stack?.drop();
});

describe('metrics scraped by a real Prometheus', () => {
  it('run --all --every: rows counter equals the committed rows, freshness lag falls after a tick, the freshness alert fires', async () => {
    const first = await seedOld(6_000, 30 * HOUR, 'prom-1');
    // Trades stamped in the coming hours stay pending (newer than now − lag) for the whole test: the
    // source has rows past the watermark, which the freshness rule asks for.
    await stack.seed(500, new Date(Date.now() + HOUR), new Date(Date.now() + 2 * HOUR), 'prom-future');

    const s = new Offload(['run', '--all', '--every', '3s', '--metrics-port', String(ports.healthy), '--log-format', 'json'], stack.env);
    try {
      const rows = `offload_rows_total{job="offload", table="${TABLE}"}`;
      const lag = `offload_freshness_lag_seconds{job="offload", table="${TABLE}"}`;
      // Two ticks: the first commits, the second finds the table up to date.
      await until(
        async () =>
          (await value(rows)) === committed.binance &&
          ((await value(`offload_runs_total{job="offload", table="${TABLE}", outcome="up_to_date"}`)) ?? 0) >= 1,
        'Prometheus to show the first batch committed and a second tick',
        180_000,
        500,
      ).catch((e) => assert.fail(`${e.message}\n${s.describe()}\n${prometheus.log()}`));
      assert.equal(await value(`offload_rows_total{job="offload", table="bronze_trades_kraken"}`), committed.kraken);
      assert.equal(await value(`offload_rows_total{job="offload", table="silver_trades"}`), committed.binance + committed.kraken);
      assert.equal(await value(`offload_runs_total{job="offload", table="${TABLE}", outcome="committed"}`), 1);
      assert.equal(await value(`offload_runs_total{job="offload", table="${TABLE}", outcome="failed"}`), 0);
      assert.ok(((await value(`offload_files_total{job="offload", table="${TABLE}"}`)) ?? 0) >= 1);
      assert.ok(((await value(`offload_bytes_total{job="offload", table="${TABLE}"}`)) ?? 0) > 0);
      assert.equal(await value(`offload_run_duration_seconds_count{job="offload", table="${TABLE}", outcome="committed"}`), 1);
      // The watermark is the newest trade of the batch (seconds precision in the seed).
      const watermark = await value(`offload_watermark_timestamp_seconds{job="offload", table="${TABLE}"}`);
      assert.ok(
        watermark !== undefined && watermark <= first.end.getTime() / 1000 && watermark > first.end.getTime() / 1000 - 3600,
        `watermark ${watermark}`,
      );
      // Per tick: the status refresh (Iceberg rows, pending rows) and the files.
      await until(
        async () => (await value(`offload_iceberg_rows{job="offload", table="${TABLE}"}`)) === committed.binance,
        'the Iceberg rows of a status refresh',
        30_000,
        500,
      );
      assert.ok(((await value(`offload_pending_rows{job="offload", table="${TABLE}"}`)) ?? 0) > 0, 'the future trades are pending');
      assert.ok(((await value(`offload_iceberg_data_files{job="offload", table="${TABLE}"}`)) ?? 0) >= 1);
      const ratio = await value(`offload_iceberg_small_file_ratio{job="offload", table="${TABLE}"}`);
      assert.ok(ratio !== undefined && ratio >= 0 && ratio <= 1, `small-file ratio ${ratio}`);
      assert.equal(await value(`offload_orphan_files{job="offload", table="${TABLE}"}`), 0);
      assert.equal(await value(`offload_service_up{job="offload", service="PostgreSQL"}`), 1);
      assert.equal(await value(`offload_service_up{job="offload", service="S3"}`), 1);
      assert.ok(((await value(`process_resident_memory_bytes{job="offload"}`)) ?? 0) > 0, 'prom-client default metrics');
      const lagBefore = (await value(lag))!;
      assert.ok(lagBefore > 3 * 86_400, `lag ${lagBefore} s: the batch lies days back`);

      // The freshness alert, evaluated by Prometheus with the shipped rule (threshold 3 × 1 s here).
      const firing = await until(
        async () =>
          (await prometheus.alerts()).find(
            (a) =>
              a.labels.alertname === 'OffloadFreshnessLagHigh' &&
              a.labels.table === TABLE &&
              a.labels.job === 'offload' &&
              a.state === 'firing',
          ),
        'OffloadFreshnessLagHigh to fire',
        60_000,
        500,
      ).catch((e) => assert.fail(`${e.message}\n${prometheus.log()}`));
      assert.ok(Number(firing.value) > 3, `alert value ${firing.value}`);

      // A later batch of trades: the next tick commits it and the lag falls by the days it moved.
      const second = await seedOld(3_000, 10 * HOUR, 'prom-2');
      await until(
        async () => (await value(rows)) === committed.binance,
        'Prometheus to show the second batch committed',
        120_000,
        500,
      ).catch((e) => assert.fail(`${e.message}\n${s.describe()}`));
      // The batch ends at least a day after the first: the lag drops by more than the seconds that passed.
      const lagAfter = await until(
        async () => {
          const v = await value(lag);
          return v !== undefined && v < lagBefore - 12 * 3600 ? v : undefined;
        },
        'the lag to fall',
        30_000,
        500,
      ).catch((e) =>
        assert.fail(
          `${e.message}: lag was ${lagBefore} s, the watermark moved ${(second.end.getTime() - first.end.getTime()) / 3600_000} h`,
        ),
      );
      assert.ok(lagAfter > 0);
      assert.equal(await value(`offload_runs_total{job="offload", table="${TABLE}", outcome="committed"}`), 2);

      // serve-metrics on the same tables: what it reads equals what the scheduler committed.
      const watch = new Offload(['serve-metrics', '--metrics-port', String(ports.watch), '--interval', '1s'], stack.env);
      try {
        await until(
          async () => (await value(`offload_iceberg_rows{job="offload-watch", table="${TABLE}"}`)) === committed.binance,
          'serve-metrics to show the Iceberg rows',
          60_000,
          500,
        ).catch((e) => assert.fail(`${e.message}\n${watch.describe()}`));
        assert.equal(
          await value(`offload_watermark_timestamp_seconds{job="offload-watch", table="${TABLE}"}`),
          await value(`offload_watermark_timestamp_seconds{job="offload", table="${TABLE}"}`),
        );
        assert.equal(await value(`offload_rows_total{job="offload-watch", table="${TABLE}"}`), 0, 'serve-metrics offloads nothing');
        liveAt = Date.now() / 1000;
        assert.equal(await watch.stop(), 0, watch.describe());
      } finally {
        watch.child.kill('SIGKILL');
      }

      assert.equal(await s.stop(), 0, s.describe());
      // --log-format json: every line the scheduler printed is one JSON record.
      for (const line of [...s.stdout, ...s.stderr]) {
        const record = JSON.parse(line) as Record<string, unknown>;
        assert.ok(
          typeof record.time === 'string' &&
            typeof record.level === 'string' &&
            typeof record.event === 'string' &&
            typeof record.message === 'string',
          line,
        );
      }
      assert.ok(
        s.stdout.some(
          (l) => JSON.parse(l).event === 'committed' && JSON.parse(l).table === TABLE && typeof JSON.parse(l).runId === 'string',
        ),
        s.describe(),
      );
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  it('the failure counter rises while S3 is unreachable, and the repeated-failures alert fires', async () => {
    // A second scheduler whose S3 goes away once it runs: every bronze run fails, the later layers are skipped.
    // S3 answers at the start (a scheduler checks its services before its first tick and exits 4 on one it
    // cannot reach), through a proxy closed as soon as the scheduler serves its metrics: then connections are refused.
    const s3 = await FaultProxy.start({ target: targetOf(stack.env.AWS_ENDPOINT_URL_S3), protocol: 'tcp' });
    const s = new Offload(['run', '--all', '--every', '2s', '--metrics-port', String(ports.broken)], {
      ...stack.env,
      AWS_ENDPOINT_URL_S3: throughProxy(stack.env.AWS_ENDPOINT_URL_S3, s3),
      AWS_MAX_ATTEMPTS: '1',
    });
    await until(
      () =>
        fetch(`http://127.0.0.1:${ports.broken}/metrics`)
          .then((r) => r.ok)
          .catch(() => false),
      'the second scheduler to serve its metrics',
      60_000,
      200,
    ).catch((e) => assert.fail(`${e.message}\n${s.describe()}`));
    await s3.close();
    const start = Date.now() / 1000;
    try {
      const failed = `offload_runs_total{job="offload-broken", table="${TABLE}", outcome="failed"}`;
      await until(async () => ((await value(failed)) ?? 0) >= 3, 'three failed runs in Prometheus', 180_000, 500).catch((e) =>
        assert.fail(`${e.message}\n${s.describe()}`),
      );
      const series = await prometheus.queryRange(failed, start, Date.now() / 1000);
      const points = series[0].values.map(([, v]) => v);
      assert.ok(points[0] < points.at(-1)!, `the counter rose: ${points.join(' ')}`);
      assert.equal(
        await value(`offload_runs_total{job="offload-broken", table="silver_trades", outcome="skipped"}`).then((v) => (v ?? 0) >= 1),
        true,
      );
      assert.equal(await value(`offload_rows_total{job="offload-broken", table="${TABLE}"}`), 0);
      await until(
        async () =>
          (await prometheus.alerts()).some(
            (a) =>
              a.labels.alertname === 'OffloadRepeatedFailures' &&
              a.labels.job === 'offload-broken' &&
              a.labels.table === TABLE &&
              a.state === 'firing',
          ),
        'OffloadRepeatedFailures to fire',
        60_000,
        500,
      ).catch((e) => assert.fail(`${e.message}\n${prometheus.log()}`));
      assert.equal(await s.stop(), 0, s.describe());
    } finally {
      s.child.kill('SIGKILL');
      await s3.close();
    }
  });

  it('every panel of the Grafana dashboard is a query this Prometheus answers', async () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/offload.json'), 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    assert.ok(liveAt > 0, 'the first test ran');
    let queries = 0;
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        const expr = target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$table', '.*').replaceAll('$layer', '.*');
        // At a moment the schedulers were up (their series are stale since they stopped).
        const result = await prometheus.query(expr, liveAt).catch((e: Error) => assert.fail(`${panel.title}: ${e.message}`));
        assert.ok(result.length > 0, `${panel.title}: ${expr} returned no series`);
        queries++;
      }
    }
    assert.ok(queries >= 18, `${queries} panel queries`);
  });
});
