// Step 2, recover, run by the worker that holds the table's lock before it plans: a run still
// marked `running` belongs to a process that died (a live one would hold the lock). What it did is read
// from the catalog, never guessed from the clock: if a snapshot of the table carries its run id it
// committed (and the watermark must be the one that snapshot carries), otherwise it is aborted. Its files,
// if any, are left for `offload gc`. Nothing else is ever "fixed up" outside a commit: a watermark that
// disagrees with the current snapshot is reported as an invariant violation, not overwritten. An ambiguous
// commit (the connection lost while COMMIT was under way) is settled the same way: its run is still running.
import { InvariantViolation } from '../core/errors.js';
import { decodeWatermark, sameWatermark } from '../core/watermark.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { currentSnapshot } from '../iceberg/metadata.js';
import { readTableAt } from '../iceberg/table.js';
import type { Table } from '../iceberg/snapshot-producer.js';
import type { TableIdentifier } from '../iceberg/types.js';
import { formatIdentifier } from '../iceberg/types.js';
import type { StateStore } from '../state/store.js';
import { snapshotOfRun, snapshotWatermark, SUMMARY } from './stage.js';
import type { OffloadEvents } from './events.js';

export interface RecoveredRun {
  runId: string;
  outcome: 'committed' | 'aborted';
}

export interface RecoverOptions {
  state: StateStore;
  catalog: Catalog;
  io: FileIO;
  tableName: string;
  ident: TableIdentifier;
  events?: OffloadEvents;
}

/** The table as the catalog points at it now, or null when it does not exist yet. */
export async function currentTable(catalog: Catalog, io: FileIO, ident: TableIdentifier): Promise<Table | null> {
  const row = await catalog.loadTable(ident);
  if (!row?.metadataLocation) return null;
  return readTableAt(io, ident, row.metadataLocation);
}

/** Resolves every run of the table left `running`; then checks the watermark against the current snapshot. */
export async function recoverTable(o: RecoverOptions): Promise<RecoveredRun[]> {
  const stale = await o.state.findRunningRuns(o.tableName);
  const out: RecoveredRun[] = [];
  let table = stale.length > 0 ? await currentTable(o.catalog, o.io, o.ident) : null;
  for (const run of stale) {
    const snapshot = table ? snapshotOfRun(table.metadata, run.runId) : undefined;
    if (table && snapshot) {
      const isCurrent = currentSnapshot(table.metadata)?.['snapshot-id'] === snapshot['snapshot-id'];
      const snapWatermark = decodeWatermark(snapshot.summary[SUMMARY.watermark]);
      const rows = Number(snapshot.summary['added-records'] ?? 0);
      await o.state.transaction(async (tx) => {
        await tx.markRunCommitted(run.runId, {
          snapshotId: snapshot['snapshot-id'],
          metadataLocation: table!.metadataLocation,
          rows,
          bytes: Number(snapshot.summary['added-files-size'] ?? 0),
          files: Number(snapshot.summary['added-data-files'] ?? 0),
          ...(snapWatermark ? { windowEnd: snapWatermark } : {}),
        });
        if (isCurrent && snapWatermark) {
          const state = await tx.readWatermark(o.tableName);
          if (!state || !sameWatermark(state.watermark, snapWatermark)) {
            await tx.advanceWatermark(o.tableName, snapWatermark, { rowCount: rows, runId: run.runId });
          }
        }
      });
      out.push({ runId: run.runId, outcome: 'committed' });
      o.events?.emit({
        kind: 'log',
        table: o.tableName,
        level: 'warn',
        message: `recovered run ${run.runId}: it committed snapshot ${snapshot['snapshot-id']} before its process died`,
      });
    } else {
      await o.state.markRunAborted(
        run.runId,
        `aborted by recovery: its process (${run.worker}) died and no snapshot of ${formatIdentifier(o.ident)} carries its run id`,
      );
      await o.state.markTableFailed(o.tableName, `run ${run.runId} did not finish (its process died); nothing of it was committed`);
      out.push({ runId: run.runId, outcome: 'aborted' });
      o.events?.emit({
        kind: 'log',
        table: o.tableName,
        level: 'warn',
        message: `recovered run ${run.runId}: it never committed (aborted; its files are left for offload gc)`,
      });
    }
    table = await currentTable(o.catalog, o.io, o.ident);
  }
  await checkInvariant(o, table ?? (await currentTable(o.catalog, o.io, o.ident)));
  return out;
}

/** The watermark in PostgreSQL must be the one the table's current snapshot carries (or the initial one when there is none). */
export async function checkInvariant(o: Pick<RecoverOptions, 'state' | 'tableName' | 'ident'>, table: Table | null): Promise<void> {
  const state = await o.state.readWatermark(o.tableName);
  if (!state) return; // no watermark row yet: created on the first commit's ensure
  const snap = table ? currentSnapshot(table.metadata) : undefined;
  const fromSnapshot = table ? snapshotWatermark(table.metadata) : null;
  if (snap && fromSnapshot === null) {
    // A snapshot someone else wrote (compaction, another engine): it carries no watermark; nothing to compare.
    return;
  }
  const hasCommitted = state.committedRunId !== null;
  if (!snap) {
    if (hasCommitted) {
      throw new InvariantViolation(
        `${o.tableName}: the watermark says run ${state.committedRunId} committed up to ${state.watermark.timestamp}, but ${formatIdentifier(o.ident)} has no snapshot. ` +
          `Was the Iceberg table dropped or replaced? Nothing was done; restore it, or reset the watermark deliberately.`,
      );
    }
    return;
  }
  if (!sameWatermark(state.watermark, fromSnapshot)) {
    throw new InvariantViolation(
      `${o.tableName}: watermark ${JSON.stringify(state.watermark)} in PostgreSQL differs from ${JSON.stringify(fromSnapshot)} in the current snapshot ` +
        `${snap['snapshot-id']} of ${formatIdentifier(o.ident)}. Nothing was done.`,
    );
  }
}
