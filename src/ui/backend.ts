// The port the TUI needs from the rest of the tool. The UI renders what these calls return and the
// events they emit; it knows no SQL and never opens a connection itself. `pipeline-backend.ts`
// implements it with the pipeline's functions; the UI's tests implement it with plain data.
import type { TableFiles } from '../pipeline/table-files.js';
import type { DrillReport } from '../drill/report.js';
import type { DrillChoiceOption } from '../drill/catalogue.js';
import type { DrillEvent } from '../drill/events.js';
import type { Watermark } from '../core/watermark.js';
import type { OffloadEvent } from '../pipeline/events.js';
import type { CellState, LastRun, StatusReport } from '../pipeline/status-model.js';

/** One snapshot of the table's Iceberg history, newest first in `TableDetails.snapshots`. */
export interface SnapshotRow {
  snapshotId: string;
  committedAt: string; // ISO
  operation: string; // append, overwrite, …
  addedRecords: number;
  addedFiles: number;
  totalRecords: number | null;
  /** The snapshot summary's `offload.watermark`, as written (null for snapshots not made by an offload). */
  watermark: string | null;
  runId: string | null;
}

/** One row of `offload_runs`, newest first. */
export interface RunRecord extends LastRun {
  windowStart: Watermark | null;
  windowEnd: Watermark | null;
  files: number | null;
  bytes: number | null;
  snapshotId: string | null;
}

export interface PartitionRow {
  /** The partition as a person reads it, e.g. `exchange_timestamp_day=2026-02-11`. */
  partition: string;
  records: number;
  files: number;
  /** Data files smaller than the compaction policy's share of the target size. */
  smallFiles: number;
  /** Delete files (another engine's merge-on-read deletes) in the partition. */
  deleteFiles: number;
}

/** A configuration setting of the table, already rendered to text (secrets never appear here). */
export interface ConfigEntry {
  key: string;
  value: string;
}

export interface TableDetails {
  table: string;
  /** Each section loads on its own, so one that fails shows its error and the others still show. */
  snapshots: CellState<SnapshotRow[]>;
  runs: CellState<RunRecord[]>;
  partitions: CellState<PartitionRow[]>;
  config: ConfigEntry[];
  /** Data files and the orphans `offload gc` would delete (absent: not read by this backend). */
  files?: CellState<TableFiles>;
}

export type RunScope = { kind: 'table'; table: string } | { kind: 'all' };

export interface RunOptions {
  /**
   * One table's stop within a run of several (`x` during offload all): aborted, that table stops as the
   * whole run would — before its commit, or before it starts — and the others go on.
   */
  tableSignal?: (table: string) => AbortSignal;
}

/** Table care from the TUI (`v`, `c`): verify against ClickHouse, or compact small files. */
export type CareKind = 'verify' | 'compact';

/** One partition's result, as it arrives. */
export interface CarePartition {
  /** The partition as a person reads it, e.g. `exchange_timestamp_day=2026-02-11`. */
  partition: string;
  /** verify: match, differ, unverifiable; compact: compacted, skipped, failed. */
  status: string;
  /** The numbers behind it, in words (e.g. "1,200 rows both sides", "48 → 1 files"). */
  detail: string;
  /** A partition that differs or failed: shown as an error. */
  isProblem: boolean;
}

/** Live progress: partitions done of those known so far, and the one just finished (if any). */
export interface CareProgress {
  done: number;
  total: number;
  partition?: CarePartition;
}

export interface CareOutcome {
  /** verify: match, differ, unverifiable, no-table; compact: compacted, nothing-to-compact, busy, no-table, stopped. */
  status: string;
  /** One line: what was found or done. */
  summary: string;
  isProblem: boolean;
  partitions: CarePartition[];
}

/** A fault the drill screen offers: a crash point, a transient fault, two workers, or random kills. */
export type DrillFault = DrillChoiceOption;

export interface DrillChoice {
  table: string;
  fault: DrillFault;
}

export interface OffloadBackend {
  /**
   * Services and one row per configured table. A service that is down shows in the report's cells
   * (`CellState`) rather than as a rejection; a rejection means nothing could be loaded at all.
   */
  loadStatus(signal: AbortSignal): Promise<StatusReport>;

  loadDetails(table: string, signal: AbortSignal): Promise<TableDetails>;

  /**
   * Offloads one table, or every table in layers (bronze → silver → gold). Every event goes to
   * `onEvent`; the promise settles when the work has ended, whatever its outcome (a failure arrives
   * as a `failed` event, or as a rejection the caller reports).
   *
   * Aborting `signal` is a safe stop: work that has not reached its commit transaction is abandoned
   * (its files become orphans for `offload gc`); a commit already under way is completed, never cut.
   */
  run(scope: RunScope, onEvent: (event: OffloadEvent) => void, signal: AbortSignal, options?: RunOptions): Promise<void>;

  /**
   * Verifies (read only) or compacts one table, reporting each partition as it is done. Aborting `signal`
   * stops a compaction between partitions (one under way is finished) and abandons a verification.
   */
  care?(kind: CareKind, table: string, onProgress: (p: CareProgress) => void, signal: AbortSignal): Promise<CareOutcome>;

  /** Releases connections; called once when the TUI exits. */
  close(): Promise<void>;

  // Drill mode (`d`). Optional: a backend without it shows the drill screen as unavailable.

  /** The tables and faults the drill screen offers. */
  drillMenu?(): { tables: string[]; faults: DrillFault[] };

  /**
   * Runs a drill on a sandbox copy of the table (never the table itself): the offload dies at the fault
   * (or meets it), the next run recovers, the invariants are checked. Every step arrives as an event;
   * aborting `signal` stops between steps (the sandbox is removed either way).
   */
  drill?(choice: DrillChoice, onEvent: (event: DrillEvent) => void, signal: AbortSignal): Promise<DrillReport>;

  /** Writes the report as JSON and Markdown; resolves with the Markdown file's path. */
  saveDrillReport?(report: DrillReport): Promise<string>;
}
