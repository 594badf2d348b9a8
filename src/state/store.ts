// The state store as the offload sees it: the table locks, the watermark rows, the run records and the
// transaction that commits a batch. The offload is handed this interface, not a pool, so its batch loop
// runs on an in-memory store in a unit test; PostgresStateStore is the store itself (pool.ts, locks.ts,
// watermarks.ts, runs.ts underneath).
import type pg from 'pg';
import type { Watermark } from '../core/watermark.js';
import { tryLockTable, type TableLock } from './locks.js';
import { withTransaction, type Queryable } from './pool.js';
import * as heldRows from './held-rows.js';
import * as runs from './runs.js';
import * as watermarks from './watermarks.js';
import * as windows from './windows.js';

/** Inside the store's one transaction: what the commit and recovery write there. */
export interface StateTransaction {
  /** The transaction's connection: the catalog's compare-and-set runs on it, so it commits with the rest. */
  readonly connection: Queryable;
  readWatermark(table: string): Promise<watermarks.WatermarkState | null>;
  /** Moves the watermark (from `options.expected` only, when given: anything else is a CommitConflict). */
  advanceWatermark(table: string, watermark: Watermark, options: watermarks.AdvanceOptions): Promise<void>;
  /** running → committed; throws when the run is no longer running. */
  markRunCommitted(runId: string, result: runs.CommittedRun): Promise<void>;
}

export interface StateStore {
  /** The database outside any transaction (each statement commits on its own), for a catalog commit of its own. */
  readonly connection: Queryable;
  /** Claims a table for this worker; null when another session holds it. */
  tryLockTable(table: string): Promise<TableLock | null>;
  /** Watermark rows at 1970-01-01 for tables that have none; returns the tables created. */
  ensureWatermarks(tables: watermarks.EnsureTable[]): Promise<string[]>;
  readWatermark(table: string): Promise<watermarks.WatermarkState | null>;
  markTableRunning(table: string): Promise<boolean>;
  markTableUpToDate(table: string): Promise<boolean>;
  markTableFailed(table: string, message: string): Promise<boolean>;
  startRun(run: runs.StartRun): Promise<runs.OffloadRun>;
  markRunUpToDate(runId: string): Promise<boolean>;
  markRunFailed(runId: string, error: string): Promise<boolean>;
  markRunAborted(runId: string, reason: string): Promise<boolean>;
  /** A table's runs still marked running, oldest first. */
  findRunningRuns(table: string): Promise<runs.OffloadRun[]>;
  /** Which of `runIds` are runs of `table` in this store. */
  knownRunIds(table: string, runIds: readonly string[]): Promise<Set<string>>;
  /** What run `runId` read of each closed window of a candle table (before its commit; read back only once committed). */
  recordWindows(table: string, runId: string, windows: readonly windows.WindowFingerprint[]): Promise<void>;
  /** Records rows of a table its runs hold back (the source refuses them); a value already held is kept as it was. */
  holdRows(record: Omit<heldRows.HeldRowsRecord, 'heldAt'>): Promise<void>;
  /** The values a table's runs hold back. */
  heldRows(table: string): Promise<heldRows.HeldRowsRecord[]>;
  /** Forgets held values of a table (the source reads them again). */
  releaseHeldRows(table: string, cursors: readonly bigint[]): Promise<void>;
  /**
   * `fn` inside one transaction; any error rolls it back. `beforeCommit` runs last, just before COMMIT is
   * sent: after it the outcome may be unknown to the caller (a connection lost during COMMIT).
   */
  transaction<T>(fn: (tx: StateTransaction) => Promise<T>, options?: { beforeCommit?: () => void }): Promise<T>;
}

/** The state store in PostgreSQL (offload_watermarks, offload_runs, advisory locks), on one pool. */
export class PostgresStateStore implements StateStore {
  constructor(readonly pool: pg.Pool) {}

  get connection(): Queryable {
    return this.pool;
  }

  tryLockTable(table: string): Promise<TableLock | null> {
    return tryLockTable(this.pool, table);
  }

  ensureWatermarks(tables: watermarks.EnsureTable[]): Promise<string[]> {
    return watermarks.ensure(this.pool, tables);
  }

  readWatermark(table: string): Promise<watermarks.WatermarkState | null> {
    return watermarks.read(this.pool, table);
  }

  markTableRunning(table: string): Promise<boolean> {
    return watermarks.markRunning(this.pool, table);
  }

  markTableUpToDate(table: string): Promise<boolean> {
    return watermarks.markUpToDate(this.pool, table);
  }

  markTableFailed(table: string, message: string): Promise<boolean> {
    return watermarks.markFailed(this.pool, table, message);
  }

  startRun(run: runs.StartRun): Promise<runs.OffloadRun> {
    return runs.start(this.pool, run);
  }

  markRunUpToDate(runId: string): Promise<boolean> {
    return runs.markUpToDate(this.pool, runId);
  }

  markRunFailed(runId: string, error: string): Promise<boolean> {
    return runs.markFailed(this.pool, runId, error);
  }

  markRunAborted(runId: string, reason: string): Promise<boolean> {
    return runs.markAborted(this.pool, runId, reason);
  }

  findRunningRuns(table: string): Promise<runs.OffloadRun[]> {
    return runs.findRunning(this.pool, table);
  }

  knownRunIds(table: string, runIds: readonly string[]): Promise<Set<string>> {
    return runs.knownIds(this.pool, table, runIds);
  }

  recordWindows(table: string, runId: string, list: readonly windows.WindowFingerprint[]): Promise<void> {
    return windows.record(this.pool, table, runId, list);
  }

  holdRows(record: Omit<heldRows.HeldRowsRecord, 'heldAt'>): Promise<void> {
    return heldRows.hold(this.pool, record);
  }

  heldRows(table: string): Promise<heldRows.HeldRowsRecord[]> {
    return heldRows.ofTables(this.pool, [table]);
  }

  releaseHeldRows(table: string, cursors: readonly bigint[]): Promise<void> {
    return heldRows.release(this.pool, table, cursors);
  }

  transaction<T>(fn: (tx: StateTransaction) => Promise<T>, options: { beforeCommit?: () => void } = {}): Promise<T> {
    return withTransaction(
      this.pool,
      (client) =>
        fn({
          connection: client,
          readWatermark: (table) => watermarks.read(client, table),
          advanceWatermark: (table, watermark, o) => watermarks.advance(client, table, watermark, o),
          markRunCommitted: (runId, result) => runs.markCommitted(client, runId, result),
        }),
      { beforeCommit: options.beforeCommit },
    );
  }
}
