// Plain data for the UI's own tests: a status report shaped like the k2 platform's nine tables, with
// one table in each state the main screen colours (up to date, pending, failed, busy, unreachable).
import type { Watermark } from '../../../src/core/watermark.js';
import type { Layer, StatusReport, TableStatus } from '../../../src/pipeline/status-model.js';
import type { TableDetails } from '../../../src/ui/backend.js';

export const NOW = Date.parse('2026-02-11T12:10:00Z');

function wm(timestamp: string, tieBreak: string | null = null): TableStatus['watermark'] {
  return { ok: true, value: { timestamp, tieBreak, status: 'committed' } };
}

export function tableStatus(name: string, layer: Layer, over: Partial<TableStatus> = {}): TableStatus {
  return {
    name,
    layer,
    source: `k2.${name}`,
    target: `cold.${name}`,
    lagSec: 300,
    watermark: wm('2026-02-11T12:00:00.000000Z', '1001'),
    clickhouse: { ok: true, value: { totalRows: 1500, rowsUpToWatermark: 1200, pendingRows: 300 } },
    iceberg: { ok: true, value: { exists: true, rows: 1200, snapshotId: '5512345678901234567', snapshotAt: '2026-02-11T12:01:00Z' } },
    delta: 0,
    late: { ok: true, value: { rows: 0, partitions: [], changedWindows: [], changedPartitions: [] } },
    held: [],
    cursor: 'exchange_timestamp',
    lastRun: {
      runId: `run-${name}`,
      status: 'committed',
      startedAt: '2026-02-11T12:00:55Z',
      finishedAt: '2026-02-11T12:01:00Z',
      durationMs: 4200,
      rows: 1200,
      error: null,
    },
    isBusy: false,
    ...over,
  };
}

export function sampleReport(): StatusReport {
  return {
    generatedAt: new Date(NOW).toISOString(),
    services: [
      { name: 'ClickHouse', url: 'http://default:***@127.0.0.1:18123', ok: true, version: '18.16.1' },
      { name: 'PostgreSQL', url: 'postgres://offload:***@127.0.0.1:15432/offload', ok: true, version: '15.14' },
      { name: 'S3', url: 'http://127.0.0.1:19900', location: 's3://warehouse/iceberg', ok: true },
    ],
    tables: [
      tableStatus('bronze_trades_binance', 'bronze', {
        watermark: wm('2026-02-11T12:05:00.000000Z', '5012345678'),
        clickhouse: { ok: true, value: { totalRows: 2_400_000, rowsUpToWatermark: 2_400_000, pendingRows: 0 } },
        iceberg: { ok: true, value: { exists: true, rows: 2_400_000, snapshotId: '1', snapshotAt: null } },
      }),
      tableStatus('bronze_trades_kraken', 'bronze', {
        watermark: wm('2026-02-11T12:04:59.000000Z', '0'),
        clickhouse: { ok: true, value: { totalRows: 812_345, rowsUpToWatermark: 800_000, pendingRows: 12_345 } },
        iceberg: { ok: true, value: { exists: true, rows: 800_000, snapshotId: '2', snapshotAt: null } },
      }),
      tableStatus('silver_trades', 'silver', {
        lastRun: {
          runId: 'run-silver',
          status: 'failed',
          startedAt: '2026-02-11T12:08:00Z',
          finishedAt: '2026-02-11T12:08:03Z',
          durationMs: 3000,
          rows: 0,
          error: 'S3 PutObject: 503 Slow Down',
        },
      }),
      tableStatus('ohlcv_1m', 'gold', { isBusy: true }),
      tableStatus('ohlcv_5m', 'gold', {
        clickhouse: { ok: false, error: 'cannot reach ClickHouse at http://default:***@127.0.0.1:18123 (timeout)' },
        delta: null,
      }),
      tableStatus('ohlcv_15m', 'gold'),
      tableStatus('ohlcv_30m', 'gold'),
      tableStatus('ohlcv_1h', 'gold', {
        watermark: { ok: true, value: { timestamp: '1970-01-01T00:00:00.000000Z', tieBreak: null, status: 'never' } },
        clickhouse: { ok: true, value: { totalRows: 40, rowsUpToWatermark: 0, pendingRows: 38 } },
        iceberg: { ok: true, value: { exists: false, rows: 0, snapshotId: null, snapshotAt: null } },
        lastRun: null,
      }),
      tableStatus('ohlcv_1d', 'gold', {
        clickhouse: { ok: true, value: { totalRows: 3, rowsUpToWatermark: 2, pendingRows: 0 } },
        iceberg: { ok: true, value: { exists: true, rows: 2, snapshotId: '9', snapshotAt: null } },
      }),
    ],
  };
}

export const WATERMARK: Watermark = { timestamp: '2026-02-11T12:09:00.000000Z', tieBreak: '5012399999' };

export function sampleDetails(table: string): TableDetails {
  return {
    table,
    snapshots: {
      ok: true,
      value: [
        {
          snapshotId: '7301234567890123456',
          committedAt: '2026-02-11T12:01:00.000Z',
          operation: 'append',
          addedRecords: 1200,
          addedFiles: 2,
          totalRecords: 2400,
          watermark: '2026-02-11T12:00:00.000000Z#1001',
          runId: 'run-b',
        },
        {
          snapshotId: '6209876543210987654',
          committedAt: '2026-02-11T11:00:00.000Z',
          operation: 'append',
          addedRecords: 1200,
          addedFiles: 1,
          totalRecords: 1200,
          watermark: '2026-02-11T10:55:00.000000Z#17',
          runId: 'run-a',
        },
      ],
    },
    runs: {
      ok: true,
      value: [
        {
          runId: 'run-c',
          status: 'failed',
          startedAt: '2026-02-11T12:05:00Z',
          finishedAt: '2026-02-11T12:05:02Z',
          durationMs: 2000,
          rows: 0,
          error: 'S3 PutObject: 503 Slow Down',
          windowStart: null,
          windowEnd: null,
          files: null,
          bytes: null,
          snapshotId: null,
        },
        {
          runId: 'run-b',
          status: 'committed',
          startedAt: '2026-02-11T12:00:55Z',
          finishedAt: '2026-02-11T12:01:00Z',
          durationMs: 4200,
          rows: 1200,
          error: null,
          windowStart: { timestamp: '2026-02-11T10:55:00.000000Z', tieBreak: '17' },
          windowEnd: { timestamp: '2026-02-11T12:00:00.000000Z', tieBreak: '1001' },
          files: 2,
          bytes: 48_000,
          snapshotId: '7301234567890123456',
        },
      ],
    },
    partitions: {
      ok: true,
      value: [
        { partition: 'exchange_timestamp_day=2026-02-10', records: 900, files: 1, smallFiles: 1, deleteFiles: 0 },
        { partition: 'exchange_timestamp_day=2026-02-11', records: 1500, files: 2, smallFiles: 2, deleteFiles: 0 },
      ],
    },
    config: [
      { key: 'source', value: `k2.${table}` },
      { key: 'cursor', value: 'exchange_timestamp' },
      { key: 'tie-break', value: 'sequence_number' },
      { key: 'lag', value: '5m' },
      { key: 'partition spec', value: 'day(exchange_timestamp)' },
      { key: 'target', value: `cold.${table}` },
    ],
  };
}
