// The collector's bookkeeping on a real prom-client registry: events, outcomes, status reports and files
// in; metric values out (read through the registry, as a scrape would). No service involved.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsCollector, watermarkSeconds } from '../../src/metrics/collect.js';
import { createOffloadMetrics, type OffloadMetrics } from '../../src/metrics/registry.js';
import type { OffloadEvent } from '../../src/pipeline/events.js';
import type { StatusReport, TableStatus } from '../../src/pipeline/status-model.js';
import { noTableYet } from '../../src/pipeline/table-files.js';

const T = 'bronze_trades_binance';
const W = (timestamp: string) => ({ timestamp, tieBreak: null });

function setup() {
  let now = Date.parse('2026-02-11T12:00:00Z');
  const metrics = createOffloadMetrics();
  const collector = new MetricsCollector(
    metrics,
    [
      { name: T, layer: 'bronze', lagMs: 300_000, closedWindowMs: null },
      { name: 'silver_trades', layer: 'silver', lagMs: 60_000, closedWindowMs: null },
      { name: 'ohlcv_1h', layer: 'gold', lagMs: 60_000, closedWindowMs: 3_600_000 },
    ],
    () => now,
  );
  return {
    metrics,
    collector,
    advance: (ms: number) => (now += ms),
    now: () => now,
  };
}

/** The value of a metric's series whose labels include `labels`, after a scrape's collect hooks. */
async function seriesValue(metrics: OffloadMetrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  await metrics.registry.metrics(); // runs the scrape-time hooks, as a scrape does
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const data = await metric.get();
  const match = data.values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val));
  return match?.value;
}

function committed(rows: number, watermark: string, durationMs = 2_000): OffloadEvent {
  return { kind: 'committed', table: T, runId: 'r1', snapshotId: '1', watermark: W(watermark), rows, files: 2, bytes: 1_000, durationMs };
}

describe('MetricsCollector', () => {
  it('every table starts with zero counters for every outcome and its expected lag (candles: lag + 2 windows)', async () => {
    const { metrics } = setup();
    for (const outcome of ['committed', 'up_to_date', 'busy', 'failed', 'skipped']) {
      assert.equal(await seriesValue(metrics, 'offload_runs_total', { table: T, layer: 'bronze', outcome }), 0);
    }
    assert.equal(await seriesValue(metrics, 'offload_rows_total', { table: 'silver_trades', layer: 'silver' }), 0);
    assert.equal(await seriesValue(metrics, 'offload_expected_lag_seconds', { table: T }), 300);
    assert.equal(await seriesValue(metrics, 'offload_expected_lag_seconds', { table: 'ohlcv_1h' }), 60 + 7200);
    assert.equal(await seriesValue(metrics, 'offload_table_busy', { table: T }), 0);
  });

  it('a committed batch adds its rows, bytes and files, counts a committed run, observes its duration and sets the watermark', async () => {
    const { metrics, collector } = setup();
    collector.onEvent({ kind: 'phase', table: T, runId: '', phase: 'claim' });
    collector.onEvent(committed(1_500, '2026-02-11T11:50:00.000000Z', 4_000));
    collector.onEvent(committed(500, '2026-02-11T11:54:00.000000Z', 1_000));
    assert.equal(await seriesValue(metrics, 'offload_rows_total', { table: T }), 2_000);
    assert.equal(await seriesValue(metrics, 'offload_bytes_total', { table: T }), 2_000);
    assert.equal(await seriesValue(metrics, 'offload_files_total', { table: T }), 4);
    assert.equal(await seriesValue(metrics, 'offload_runs_total', { table: T, outcome: 'committed' }), 2);
    const histogram = await metrics.runDuration.get();
    const sum = histogram.values.find((v) => v.metricName === 'offload_run_duration_seconds_sum' && v.labels.outcome === 'committed');
    const count = histogram.values.find((v) => v.metricName === 'offload_run_duration_seconds_count' && v.labels.outcome === 'committed');
    assert.equal(sum?.value, 5);
    assert.equal(count?.value, 2);
    assert.equal(
      await seriesValue(metrics, 'offload_watermark_timestamp_seconds', { table: T }),
      Date.parse('2026-02-11T11:54:00Z') / 1000,
    );
    assert.equal(
      await seriesValue(metrics, 'offload_last_success_timestamp_seconds', { table: T }),
      Date.parse('2026-02-11T12:00:00Z') / 1000,
    );
  });

  it('freshness lag is now − watermark at scrape time: it grows with the clock and falls when a batch commits', async () => {
    const { metrics, collector, advance } = setup();
    collector.onEvent(committed(10, '2026-02-11T11:50:00.000000Z'));
    assert.equal(await seriesValue(metrics, 'offload_freshness_lag_seconds', { table: T }), 600);
    advance(60_000);
    assert.equal(await seriesValue(metrics, 'offload_freshness_lag_seconds', { table: T }), 660);
    collector.onEvent(committed(10, '2026-02-11T11:59:00.000000Z'));
    assert.equal(await seriesValue(metrics, 'offload_freshness_lag_seconds', { table: T }), 120);
    // No watermark known yet: no lag series (not a made-up 0).
    assert.equal(await seriesValue(metrics, 'offload_freshness_lag_seconds', { table: 'silver_trades' }), undefined);
  });

  it('outcomes: up to date, busy (and the busy gauge until the table is had again), failed, skipped; durations from the claim', async () => {
    const { metrics, collector, advance } = setup();
    collector.onEvent({ kind: 'phase', table: T, runId: '', phase: 'claim' });
    advance(1_500);
    collector.onEvent({ kind: 'up-to-date', table: T, watermark: W('2026-02-11T11:00:00.000000Z') });
    collector.onEvent({ kind: 'phase', table: T, runId: '', phase: 'claim' });
    collector.onEvent({ kind: 'busy', table: T });
    assert.equal(await seriesValue(metrics, 'offload_table_busy', { table: T }), 1);
    collector.onEvent({ kind: 'failed', table: T, error: 'cannot reach S3' });
    collector.onEvent({ kind: 'skipped', table: 'silver_trades', reason: 'not run: the bronze layer failed' });
    for (const [outcome, n] of [
      ['up_to_date', 1],
      ['busy', 1],
      ['failed', 1],
    ] as const) {
      assert.equal(await seriesValue(metrics, 'offload_runs_total', { table: T, outcome }), n, outcome);
    }
    assert.equal(await seriesValue(metrics, 'offload_runs_total', { table: 'silver_trades', outcome: 'skipped' }), 1);
    assert.equal(await seriesValue(metrics, 'offload_table_busy', { table: T }), 0);
    const histogram = await metrics.runDuration.get();
    assert.equal(
      histogram.values.find((v) => v.metricName === 'offload_run_duration_seconds_sum' && v.labels.outcome === 'up_to_date')?.value,
      1.5,
    );
  });

  it('commit conflicts are counted from the log events that carry their code, by resolution', async () => {
    const { metrics, collector } = setup();
    collector.onEvent({
      kind: 'log',
      table: T,
      level: 'warn',
      message: 'commit conflict on cold.x (attempt 1); restaging',
      code: 'commit-conflict-restaged',
    });
    collector.onEvent({
      kind: 'log',
      table: T,
      level: 'warn',
      message: 'commit conflict on cold.x (attempt 2); restaging',
      code: 'commit-conflict-restaged',
    });
    collector.onEvent({ kind: 'log', table: T, level: 'warn', message: 'the watermark moved', code: 'commit-conflict-replanned' });
    collector.onEvent({ kind: 'log', table: T, level: 'info', message: 'creating Iceberg table cold.x' });
    assert.equal(await seriesValue(metrics, 'offload_commit_conflicts_total', { table: T, resolution: 'restaged' }), 2);
    assert.equal(await seriesValue(metrics, 'offload_commit_conflicts_total', { table: T, resolution: 'replanned' }), 1);
  });

  it('a run a table ended without a terminal event still counts once (failed before the pipeline could report)', async () => {
    const { metrics, collector } = setup();
    collector.onEvent(committed(5, '2026-02-11T11:00:00.000000Z'));
    collector.settle([
      {
        table: T,
        layer: 'bronze',
        status: 'committed',
        result: {
          table: T,
          status: 'committed',
          batches: [],
          rows: 5,
          files: 2,
          bytes: 1,
          watermark: W('2026-02-11T11:00:00.000000Z'),
          durationMs: 1,
        },
      },
      { table: 'silver_trades', layer: 'silver', status: 'failed', error: new Error('PostgreSQL refused the lock') },
    ]);
    assert.equal(await seriesValue(metrics, 'offload_runs_total', { table: T, outcome: 'committed' }), 1);
    assert.equal(await seriesValue(metrics, 'offload_runs_total', { table: 'silver_trades', outcome: 'failed' }), 1);
    // The next tick's failure of the same table, reported by an event, is counted once too.
    collector.onEvent({ kind: 'failed', table: 'silver_trades', error: 'again' });
    collector.settle([{ table: 'silver_trades', layer: 'silver', status: 'failed', error: new Error('again') }]);
    assert.equal(await seriesValue(metrics, 'offload_runs_total', { table: 'silver_trades', outcome: 'failed' }), 2);
  });

  it('a status report sets pending rows, row counts, service state; a report older than an event does not undo it', async () => {
    const { metrics, collector, advance, now } = setup();
    const readAt = now();
    advance(1_000);
    // While the report was being read, a batch committed.
    collector.onEvent({
      kind: 'planned',
      table: T,
      runId: 'r2',
      window: { lower: W('2026-02-11T11:00:00.000000Z'), upper: W('2026-02-11T11:55:00.000000Z') },
      estimatedRows: 10,
      batches: 1,
    });
    collector.onEvent(committed(10, '2026-02-11T11:55:00.000000Z'));
    collector.onStatus(
      report([
        tableStatus({
          watermark: '2026-02-11T11:00:00.000000Z',
          pending: 42,
          total: 1_042,
          iceberg: 1_000,
          running: '2026-02-11T11:59:00Z',
        }),
      ]),
      readAt,
    );
    assert.equal(
      await seriesValue(metrics, 'offload_watermark_timestamp_seconds', { table: T }),
      Date.parse('2026-02-11T11:55:00Z') / 1000,
      'the event is newer than the report',
    );
    assert.equal(
      await seriesValue(metrics, 'offload_run_in_progress_seconds', { table: T }),
      0,
      'the run the report saw running has committed since',
    );
    assert.equal(await seriesValue(metrics, 'offload_pending_rows', { table: T }), 42);
    assert.equal(await seriesValue(metrics, 'offload_source_rows', { table: T }), 1_042);
    assert.equal(await seriesValue(metrics, 'offload_iceberg_rows', { table: T }), 1_000);
    assert.equal(await seriesValue(metrics, 'offload_held_rows', { table: T }), 0);
    assert.equal(await seriesValue(metrics, 'offload_service_up', { service: 'ClickHouse' }), 1);
    assert.equal(await seriesValue(metrics, 'offload_service_up', { service: 'PostgreSQL' }), 0);

    // A later report: a run of another worker under way for 90 s, the table busy; ClickHouse counts failed.
    collector.onStatus(
      report([
        tableStatus({
          watermark: '2026-02-11T11:56:00.000000Z',
          running: new Date(now() - 90_000).toISOString(),
          busy: true,
          clickhouseError: 'timeout',
          held: [3, 2],
        }),
      ]),
      now(),
    );
    assert.equal(await seriesValue(metrics, 'offload_held_rows', { table: T }), 5, 'rows of every held cursor value');
    assert.equal(
      await seriesValue(metrics, 'offload_watermark_timestamp_seconds', { table: T }),
      Date.parse('2026-02-11T11:56:00Z') / 1000,
    );
    assert.equal(await seriesValue(metrics, 'offload_run_in_progress_seconds', { table: T }), 90);
    assert.equal(await seriesValue(metrics, 'offload_table_busy', { table: T }), 1);
    assert.equal(await seriesValue(metrics, 'offload_pending_rows', { table: T }), undefined, 'a failed cell drops its series');
  });

  it('files: counts and the small-file ratio; unknown files drop their series', async () => {
    const { metrics, collector } = setup();
    collector.onFiles({
      table: T,
      exists: true,
      dataFiles: 8,
      dataBytes: 800,
      partitions: 2,
      maxFilesPerPartition: 5,
      smallFiles: 6,
      orphanFiles: 3,
      orphanBytes: 30,
    });
    assert.equal(await seriesValue(metrics, 'offload_iceberg_small_file_ratio', { table: T }), 0.75);
    assert.equal(await seriesValue(metrics, 'offload_iceberg_max_files_per_partition', { table: T }), 5);
    assert.equal(await seriesValue(metrics, 'offload_orphan_files', { table: T }), 3);
    collector.onFiles(noTableYet('silver_trades'));
    assert.equal(await seriesValue(metrics, 'offload_iceberg_small_file_ratio', { table: 'silver_trades' }), 0);
    collector.onFilesUnknown(T);
    assert.equal(await seriesValue(metrics, 'offload_iceberg_data_files', { table: T }), undefined);
  });

  it('watermarkSeconds reads microsecond timestamps', () => {
    assert.equal(watermarkSeconds(W('2026-02-11T12:02:00.123456Z')), Date.parse('2026-02-11T12:02:00.123Z') / 1000);
    assert.equal(watermarkSeconds(W('1970-01-01T00:00:00.000000Z')), 0);
  });
});

function report(tables: TableStatus[]): StatusReport {
  return {
    generatedAt: '2026-02-11T12:00:00Z',
    services: [
      { name: 'ClickHouse', url: 'http://ch', ok: true },
      { name: 'PostgreSQL', url: 'postgres://pg', ok: false, error: 'refused' },
    ],
    tables,
  };
}

function tableStatus(o: {
  watermark: string;
  pending?: number;
  total?: number;
  iceberg?: number;
  running?: string;
  busy?: boolean;
  clickhouseError?: string;
  /** Rows of each held cursor value. */
  held?: number[];
}): TableStatus {
  return {
    name: T,
    layer: 'bronze',
    source: 'k2.bronze_trades_binance',
    target: 'cold.bronze_trades_binance',
    lagSec: 300,
    held: (o.held ?? []).map((rows, i) => ({
      at: `2026-02-11T10:0${i}:00.000000Z`,
      rows,
      error: 'ClickHouse error 407: Decimal convert overflow',
      see: 'see them: …',
      heldAt: '2026-02-11T11:00:00Z',
    })),
    cursor: 'exchange_timestamp',
    watermark: { ok: true, value: { ...W(o.watermark), status: 'idle' } },
    clickhouse: o.clickhouseError
      ? { ok: false, error: o.clickhouseError }
      : { ok: true, value: { totalRows: o.total ?? 0, rowsUpToWatermark: (o.total ?? 0) - (o.pending ?? 0), pendingRows: o.pending ?? 0 } },
    iceberg: { ok: true, value: { exists: true, rows: o.iceberg ?? 0, snapshotId: '1', snapshotAt: null } },
    delta: 0,
    late: null,
    lastRun: o.running
      ? { runId: 'r9', status: 'running', startedAt: o.running, finishedAt: null, durationMs: null, rows: 0, error: null }
      : null,
    isBusy: o.busy ?? false,
  };
}
