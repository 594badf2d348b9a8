// The Prometheus metrics of the offload: every definition in one place, on a registry of its own (never
// prom-client's global one, so two registries — a test's and a process's — never mix). Names follow the
// Prometheus conventions: base units (seconds, bytes), `_total` for counters, `_timestamp_seconds` for
// instants. Per table the labels are `table` (the configured name) and `layer` (bronze, silver, gold).
// What each metric means, and the alerts built on them: README "Monitoring".
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How a run ended, as `offload_runs_total{outcome}` counts it (one committed batch is one run). */
export const RUN_OUTCOMES = ['committed', 'up_to_date', 'busy', 'failed', 'skipped'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/** What became of a lost compare-and-set on commit. */
export const CONFLICT_RESOLUTIONS = ['restaged', 'replanned'] as const;
export type ConflictResolution = (typeof CONFLICT_RESOLUTIONS)[number];

type TableLabels = 'table' | 'layer';

/** Run durations from a second (an up-to-date check) to an hour (a backfill batch). */
const DURATION_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export interface OffloadMetrics {
  registry: Registry;
  rows: Counter<TableLabels>;
  bytes: Counter<TableLabels>;
  files: Counter<TableLabels>;
  runs: Counter<TableLabels | 'outcome'>;
  commitConflicts: Counter<TableLabels | 'resolution'>;
  runDuration: Histogram<TableLabels | 'outcome'>;
  watermark: Gauge<TableLabels>;
  freshnessLag: Gauge<TableLabels>;
  expectedLag: Gauge<TableLabels>;
  lastSuccess: Gauge<TableLabels>;
  pendingRows: Gauge<TableLabels>;
  heldRows: Gauge<TableLabels>;
  sourceRows: Gauge<TableLabels>;
  icebergRows: Gauge<TableLabels>;
  busy: Gauge<TableLabels>;
  runInProgress: Gauge<TableLabels>;
  dataFiles: Gauge<TableLabels>;
  dataBytes: Gauge<TableLabels>;
  partitions: Gauge<TableLabels>;
  maxFilesPerPartition: Gauge<TableLabels>;
  smallFiles: Gauge<TableLabels>;
  smallFileRatio: Gauge<TableLabels>;
  orphanFiles: Gauge<TableLabels>;
  orphanBytes: Gauge<TableLabels>;
  serviceUp: Gauge<'service'>;
  statusRefreshed: Gauge<string>;
  /** Runs `fn` at every scrape, before the metrics are read: for values derived from the clock (lags, ages). */
  beforeScrape(fn: () => void): void;
}

/** A fresh registry with every offload metric and prom-client's default process metrics. */
export function createOffloadMetrics(): OffloadMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const hooks: Array<() => void> = [];
  const labelNames = ['table', 'layer'] as const;
  const counter = <L extends string>(name: string, help: string, extra: readonly L[] = []) =>
    new Counter<TableLabels | L>({ name, help, labelNames: [...labelNames, ...extra], registers });
  const gauge = (name: string, help: string, collect?: () => void) =>
    new Gauge<TableLabels>({ name, help, labelNames, registers, ...(collect ? { collect } : {}) });
  // The clock-derived gauges are computed when scraped (cheap arithmetic on values kept per tick).
  const atScrape = () => {
    for (const fn of hooks) fn();
  };
  return {
    registry,
    rows: counter('offload_rows_total', 'Rows committed to the Iceberg table.'),
    bytes: counter('offload_bytes_total', 'Bytes of the Parquet data files committed to the Iceberg table.'),
    files: counter('offload_files_total', 'Parquet data files committed to the Iceberg table.'),
    runs: counter(
      'offload_runs_total',
      'Offload runs by outcome: committed (one per committed batch), up_to_date, busy (another worker held the table), failed, skipped.',
      ['outcome'],
    ),
    commitConflicts: counter(
      'offload_commit_conflicts_total',
      'Commits that lost the catalog compare-and-set to another writer: restaged on the new table version, or replanned because the watermark moved.',
      ['resolution'],
    ),
    runDuration: new Histogram<TableLabels | 'outcome'>({
      name: 'offload_run_duration_seconds',
      help: 'How long runs took, by outcome (a committed batch from its plan to its commit).',
      labelNames: [...labelNames, 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    watermark: gauge('offload_watermark_timestamp_seconds', 'The watermark: the newest cursor value offloaded (Unix time).'),
    freshnessLag: gauge(
      'offload_freshness_lag_seconds',
      'How far the Iceberg table is behind: now minus the watermark (offload_expected_lag_seconds of it by design).',
      atScrape,
    ),
    expectedLag: gauge(
      'offload_expected_lag_seconds',
      "The most the freshness lag reaches by design between runs: the table's configured lag (late-data allowance), plus twice the window for candle tables.",
    ),
    lastSuccess: gauge(
      'offload_last_success_timestamp_seconds',
      'When a run of the table last committed or found it up to date (Unix time).',
    ),
    pendingRows: gauge(
      'offload_pending_rows',
      'ClickHouse rows after the watermark (not offloaded yet, those inside the late-data allowance included).',
    ),
    heldRows: gauge(
      'offload_held_rows',
      'Rows held back because ClickHouse refuses to read them (refusedRows: hold): they wait for a fix at the source.',
    ),
    sourceRows: gauge('offload_source_rows', 'Rows of the ClickHouse source.'),
    icebergRows: gauge('offload_iceberg_rows', "Rows of the Iceberg table (its current snapshot's total-records)."),
    busy: gauge('offload_table_busy', '1 while another worker holds the table (its advisory lock), else 0.'),
    runInProgress: gauge('offload_run_in_progress_seconds', 'How long the run under way has been running; 0 when none runs.', atScrape),
    dataFiles: gauge('offload_iceberg_data_files', "Live data files of the Iceberg table's current snapshot."),
    dataBytes: gauge('offload_iceberg_data_bytes', 'Bytes of the live data files of the Iceberg table.'),
    partitions: gauge('offload_iceberg_partitions', 'Partitions holding live data files.'),
    maxFilesPerPartition: gauge('offload_iceberg_max_files_per_partition', 'The most live data files in one partition.'),
    smallFiles: gauge('offload_iceberg_small_data_files', "Live data files smaller than 75 % of the table's targetFileSize."),
    smallFileRatio: gauge('offload_iceberg_small_file_ratio', 'Small data files over all live data files (0 to 1; 0 for an empty table).'),
    orphanFiles: gauge(
      'offload_orphan_files',
      "Files under the table location that no kept snapshot references, older than offload gc's safety age (what offload gc would delete).",
    ),
    orphanBytes: gauge('offload_orphan_bytes', 'Bytes of those orphan files.'),
    serviceUp: new Gauge<'service'>({
      name: 'offload_service_up',
      help: '1 when the service answered the last status refresh, else 0.',
      labelNames: ['service'],
      registers,
    }),
    statusRefreshed: new Gauge({
      name: 'offload_status_refresh_timestamp_seconds',
      help: 'When the per-table status (watermarks, row counts, files) was last refreshed (Unix time).',
      registers,
    }),
    beforeScrape: (fn) => void hooks.push(fn),
  };
}
