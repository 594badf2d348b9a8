// What the status view shows for one table: the shared shape of `offload status --json` and the TUI's rows.
import type { Watermark } from '../core/watermark.js';
import type { LateData } from './late-data.js';

export type Layer = 'bronze' | 'silver' | 'gold';

export type CellState<T> = { ok: true; value: T } | { ok: false; error: string };

export interface LastRun {
  runId: string;
  status: 'running' | 'committed' | 'aborted' | 'failed' | 'up_to_date';
  startedAt: string; // ISO
  finishedAt: string | null;
  durationMs: number | null;
  rows: number;
  error: string | null;
}

export interface TableStatus {
  name: string; // configured table name (= offload_watermarks.table_name)
  layer: Layer;
  source: string; // e.g. k2.bronze_trades_binance
  target: string; // e.g. cold.bronze_trades_binance
  lagSec: number;
  watermark: CellState<Watermark & { status: string }>;
  clickhouse: CellState<{ totalRows: number; rowsUpToWatermark: number; pendingRows: number }>;
  iceberg: CellState<{ exists: boolean; rows: number; snapshotId: string | null; snapshotAt: string | null }>;
  /** ClickHouse rows up to the watermark minus Iceberg rows; 0 when both sides agree. */
  delta: number | null;
  /**
   * Data that arrived at or below the watermark after it was committed (pipeline/late-data.ts): late rows
   * and the partitions holding them; for candle tables the closed windows whose values changed since.
   * null: nothing offloaded yet (or a cell it needs is unknown).
   */
  late: CellState<LateData> | null;
  lastRun: LastRun | null;
  /** Another worker holds this table's lock right now. */
  isBusy: boolean;
}

export interface ServiceInfo {
  name: 'ClickHouse' | 'PostgreSQL' | 'S3' | 'Iceberg';
  url: string; // redacted
  ok: boolean;
  version?: string;
  error?: string;
}

export interface StatusReport {
  generatedAt: string;
  services: ServiceInfo[];
  tables: TableStatus[];
}
