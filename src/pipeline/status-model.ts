// What the status view shows for one table: the shared shape of `offload status --json` and the TUI's rows.
import type { ServiceName } from '../core/errors.js';
import type { Watermark } from '../core/watermark.js';
import type { HeldRowsView } from './held-rows.js';
import type { LateData } from './late-data.js';

export type Layer = 'bronze' | 'silver' | 'gold';

/**
 * A value, or why it could not be read: `exitCode` is the failure kind's (3 configuration, 4 unreachable, …);
 * `service` names the service that is down when that is the whole reason (its line in `services` says why).
 */
export type CellState<T> = { ok: true; value: T } | { ok: false; error: string; exitCode?: number; service?: ServiceName | 'Iceberg' };

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
  /**
   * The watermark the row's counts belong to: the one the current Iceberg snapshot carries (its summary's
   * `offload.watermark`), or the state store's while the table has no snapshot; `status` is the state
   * store's (`new` for a table never offloaded: its first run creates its row).
   */
  watermark: CellState<Watermark & { status: string }>;
  /** ClickHouse rows: in total, up to `watermark`, and past it. */
  clickhouse: CellState<{ totalRows: number; rowsUpToWatermark: number; pendingRows: number }>;
  /**
   * The current snapshot: its live rows (total-records − total-position-deletes, for tables other engines delete
   * from; `rowsApproximate` when equality deletes make that an upper bound), and the watermark it carries (null
   * before any offload snapshot).
   */
  iceberg: CellState<{
    exists: boolean;
    rows: number;
    rowsApproximate?: boolean;
    snapshotId: string | null;
    snapshotAt: string | null;
    /** `offload.watermark` of the current snapshot (the collector always sets it; null without one). */
    watermark?: Watermark | null;
  }>;
  /**
   * ClickHouse rows up to the snapshot's watermark minus the snapshot's rows; 0 when both sides agree. Read
   * in that order (snapshot, then the count up to its watermark), so a commit in between never shows as Δ.
   */
  delta: number | null;
  /**
   * Data that arrived at or below the watermark after it was committed (pipeline/late-data.ts): late rows
   * and the partitions holding them; for candle tables the closed windows whose values changed since.
   * null: nothing offloaded yet (or a cell it needs is unknown).
   */
  late: CellState<LateData> | null;
  /** Rows the table's runs hold back because ClickHouse refuses to read them (pipeline/held-rows.ts); [] when none or unknown. */
  held: HeldRowsView[];
  /** The cursor column (what held rows are located by). */
  cursor: string;
  lastRun: LastRun | null;
  /** Another worker holds this table's lock right now. */
  isBusy: boolean;
}

export interface ServiceInfo {
  /** The services probed; 'Iceberg' is a REST catalog (the JDBC catalog is PostgreSQL). */
  name: ServiceName | 'Iceberg';
  url: string; // redacted
  /** S3: the warehouse location probed (`s3://bucket/prefix`). */
  location?: string;
  ok: boolean;
  version?: string;
  /** The one line a person reads: what failed and what to check. */
  error?: string;
  /** The failure in a few words (`connection refused`, `login refused …`), for narrow displays. */
  reason?: string;
  /** The failure kind's exit code: 3 (settings refused) or 4 (unreachable). */
  exitCode?: number;
}

export interface StatusReport {
  generatedAt: string;
  services: ServiceInfo[];
  tables: TableStatus[];
}

/** A table's state in words, the same in `offload status` and on the TUI's rows. */
export type TableState = 'running' | 'busy' | 'failed' | 'pending' | 'up-to-date' | 'unknown';

export const TABLE_STATE_LABEL: Record<TableState, string> = {
  'up-to-date': 'up to date',
  pending: 'pending',
  running: 'running',
  failed: 'failed',
  busy: 'busy',
  unknown: 'unknown',
};

/** The state the report alone shows (the TUI adds what its own offloads tell it first). */
export function tableState(t: TableStatus): TableState {
  if (t.lastRun?.status === 'failed') return 'failed';
  if (!t.clickhouse.ok || !t.watermark.ok) return 'unknown';
  return t.clickhouse.value.pendingRows > 0 ? 'pending' : 'up-to-date';
}
