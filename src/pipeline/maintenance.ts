// What compaction and repair share: they hold the table's lock like an offload (claim.ts) — so no offload of
// the table commits meanwhile and the watermark they read stays the table's — resolve runs a dead process
// left (recover.ts), record themselves as a run of their kind before writing anything, and on failure
// leave nothing behind unless their COMMIT may have gone through (the catalog then says what happened).
import { randomUUID } from 'node:crypto';
import type { TableConfig } from '../config/tables.js';
import type { Watermark } from '../core/watermark.js';
import type { Catalog, PointerCatalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { JdbcTableCatalog } from '../iceberg/jdbc-table-catalog.js';
import { discardStaged, type AnyStagedCommit, type Table } from '../iceberg/table.js';
import type { TableLock } from '../state/locks.js';
import type { RunKind } from '../state/runs.js';
import type { StateStore } from '../state/store.js';
import { claimTable, ensureWatermarkRow } from './claim.js';
import { MaintenanceNeedsJdbc } from './commit.js';
import { OffloadEvents } from './events.js';
import { tableIdentifier } from './prepare.js';
import { currentTable, recoverTable } from './recover.js';
import { snapshotOfRun } from './stage.js';

/** What compaction and repair are handed (OffloadDeps without the row source). */
export interface MaintenanceDeps {
  state: StateStore;
  catalog: Catalog;
  io: FileIO;
  /** Local scratch directory (default: the system's temp directory). */
  workDir?: string;
}

/** A table claimed for compaction or repair: its lock, current version and watermark. */
export interface ClaimedTable {
  lock: TableLock;
  /** null: the Iceberg table does not exist yet. */
  table: Table | null;
  watermark: Watermark;
  /** The offload run that moved the watermark there. */
  watermarkRunId: string | null;
}

/**
 * Claims the table (null when another worker holds it), resolves runs a dead process left, and reads the
 * table and its watermark. The caller releases the lock. Warnings of recovery go to `onLog`.
 */
export async function claimForMaintenance(
  cfg: TableConfig,
  deps: MaintenanceDeps,
  onLog: (level: 'info' | 'warn' | 'error', message: string) => void,
): Promise<ClaimedTable | null> {
  // Own events: the claim's and recovery's are not the caller's offload events (a scheduled tick counts those).
  const events = new OffloadEvents();
  events.on((e) => {
    if (e.kind === 'log') onLog(e.level, e.message);
  });
  pointerCatalogOf(deps.catalog, cfg.name); // refused before anything is claimed or written
  const lock = await claimTable(cfg, deps.state, events);
  if (!lock) return null;
  try {
    const ident = tableIdentifier(cfg);
    await ensureWatermarkRow(cfg, deps.state);
    await recoverTable({ state: deps.state, catalog: deps.catalog, io: deps.io, tableName: cfg.name, ident, events });
    const table = await currentTable(deps.catalog, deps.io, ident);
    const mark = await deps.state.readWatermark(cfg.name);
    return { lock, table, watermark: mark!.watermark, watermarkRunId: mark!.committedRunId };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** The JDBC catalog's pointer store, which compaction, repair and expiry commit through; MaintenanceNeedsJdbc for any other catalog. */
export function pointerCatalogOf(catalog: Catalog, table: string): PointerCatalog {
  if (catalog instanceof JdbcTableCatalog) return catalog.pointers;
  throw new MaintenanceNeedsJdbc(table);
}

/** Records a compaction or repair as a run `running` (before it writes anything); its window is the watermark it keeps. */
export async function startMaintenanceRun(cfg: TableConfig, state: StateStore, kind: Exclude<RunKind, 'offload'>, watermark: Watermark) {
  const runId = randomUUID();
  await state.startRun({ table: cfg.name, icebergTable: cfg.target, kind, runId, windowStart: watermark, windowEnd: watermark });
  return { runId, started: Date.now() };
}

/**
 * A compaction or repair that failed: recorded as failed, and what it wrote removed (uploaded files, staged
 * metadata) — unless its COMMIT was sent and the catalog shows it went through, when the run row already
 * says committed (same transaction).
 */
export async function failMaintenanceRun(
  deps: MaintenanceDeps,
  cfg: TableConfig,
  runId: string,
  written: { staged?: AnyStagedCommit; uploaded: readonly string[]; commitSent: boolean },
  err: Error,
): Promise<void> {
  try {
    if (written.commitSent) {
      const t = await currentTable(deps.catalog, deps.io, tableIdentifier(cfg));
      if (t && snapshotOfRun(t.metadata, runId)) return;
    }
    if (!(await deps.state.markRunFailed(runId, err.message))) return;
    if (written.staged) await discardStaged(deps.io, written.staged, { dataFiles: true }).catch(() => undefined);
    else await deps.io.deleteMany([...written.uploaded]).catch(() => undefined);
  } catch {
    // The state store or storage is unreachable: the run stays `running` and the next claim's recovery resolves it; gc collects its files.
  }
}
