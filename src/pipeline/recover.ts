// Step 2, recover, run by the worker that holds the table's lock before it plans: a run still
// marked `running` belongs to a process that died (a live one would hold the lock). What it did is read
// from the catalog, never guessed from the clock: if a snapshot of the table carries its run id it
// committed (and the watermark must be the one that snapshot carries), otherwise it is aborted. Its files,
// if any, are left for `offload gc`. An ambiguous commit (the connection lost while COMMIT was under way, or
// a REST commit whose answer was lost) is settled the same way: its run is still running.
//
// Then the watermark is checked against the table: the watermark of the newest offload snapshot in main's
// history (the current one, or an ancestor when a compaction or another engine committed on top). With the
// JDBC catalog they move in one transaction, so any difference is an invariant violation and nothing is
// "fixed up". With a REST catalog PostgreSQL mirrors the table after each commit (commit.ts), so a process
// that died between the two leaves PostgreSQL exactly one run behind: that is recorded from the snapshot
// summary (its run id and watermark are the truth); any other difference is an invariant violation.
import { InvariantViolation } from '../core/errors.js';
import { decodeWatermark, formatWatermark, sameWatermark } from '../core/watermark.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { currentSnapshot } from '../iceberg/metadata.js';
import type { Table } from '../iceberg/snapshot-producer.js';
import type { Snapshot, TableIdentifier } from '../iceberg/types.js';
import { formatIdentifier } from '../iceberg/types.js';
import type { StateStore } from '../state/store.js';
import { newestOffloadSnapshot, snapshotOfRun, SUMMARY } from './stage.js';
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

/**
 * The table as the catalog has it now, or null when it does not exist yet. (`io` is the FileIO the caller
 * works with; the catalog reads the metadata with its own.)
 */
export async function currentTable(catalog: Catalog, io: FileIO, ident: TableIdentifier): Promise<Table | null> {
  void io;
  return catalog.loadTable(ident);
}

/** Resolves every run of the table left `running`; then checks the watermark against the current snapshot. */
export async function recoverTable(o: RecoverOptions): Promise<RecoveredRun[]> {
  const stale = await o.state.findRunningRuns(o.tableName);
  const out: RecoveredRun[] = [];
  let table = stale.length > 0 ? await currentTable(o.catalog, o.io, o.ident) : null;
  for (const run of stale) {
    const snapshot = table ? snapshotOfRun(table.metadata, run.runId) : undefined;
    if (table && snapshot) {
      // The newest offload snapshot, not only the current one: others may have committed on top of it.
      const isNewest = newestOffloadSnapshot(table.metadata, o.tableName)?.['snapshot-id'] === snapshot['snapshot-id'];
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
        if (isNewest && snapWatermark) {
          const state = await tx.readWatermark(o.tableName);
          if (state && isOneRunBehind(state.watermark, snapshot)) {
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
  table ??= await currentTable(o.catalog, o.io, o.ident);
  if (o.catalog.kind === 'rest') await reconcileWatermark(o, table);
  else await checkInvariant(o, table);
  return out;
}

/** Whether PostgreSQL's watermark is the one `snapshot`'s run started from: the commit it has not recorded yet. */
function isOneRunBehind(watermark: { timestamp: string; tieBreak: string | null }, snapshot: Snapshot): boolean {
  const start = decodeWatermark(snapshot.summary[SUMMARY.windowStart]);
  return start === null ? true : sameWatermark(watermark, start);
}

/**
 * A REST catalog's table is the truth and PostgreSQL its mirror: when PostgreSQL is exactly one run behind
 * the newest offload snapshot (its process died between the REST commit and the PostgreSQL update), the
 * watermark is moved to the snapshot's, with its run id. Anything else is left to checkInvariant.
 */
export async function reconcileWatermark(
  o: Pick<RecoverOptions, 'state' | 'tableName' | 'ident' | 'events'>,
  table: Table | null,
): Promise<void> {
  const state = await o.state.readWatermark(o.tableName);
  const newest = table ? newestOffloadSnapshot(table.metadata, o.tableName) : undefined;
  const fromSnapshot = newest ? decodeWatermark(newest.summary[SUMMARY.watermark]) : null;
  if (state && newest && fromSnapshot && !sameWatermark(state.watermark, fromSnapshot) && isOneRunBehind(state.watermark, newest)) {
    const runId = newest.summary[SUMMARY.runId] ?? null;
    await o.state.transaction(async (tx) => {
      const now = await tx.readWatermark(o.tableName);
      if (!now || !sameWatermark(now.watermark, state.watermark)) return; // moved meanwhile: checked below
      await tx.advanceWatermark(o.tableName, fromSnapshot, {
        rowCount: Number(newest.summary['added-records'] ?? 0),
        runId: runId ?? 'recovered',
        expected: state.watermark,
      });
    });
    o.events?.emit({
      kind: 'log',
      table: o.tableName,
      level: 'warn',
      message: `recovered the watermark from snapshot ${newest['snapshot-id']} (run ${runId ?? '?'}): ${formatWatermark(fromSnapshot)}, committed to the table before PostgreSQL recorded it`,
    });
  }
  await checkInvariant(o, table);
}

/**
 * The watermark in PostgreSQL must be the one the newest offload snapshot of main's history carries (or the
 * initial one when the table has no snapshot).
 */
export async function checkInvariant(o: Pick<RecoverOptions, 'state' | 'tableName' | 'ident'>, table: Table | null): Promise<void> {
  const state = await o.state.readWatermark(o.tableName);
  if (!state) return; // no watermark row yet: created on the first commit's ensure
  const current = table ? currentSnapshot(table.metadata) : undefined;
  const snap = table ? newestOffloadSnapshot(table.metadata, o.tableName) : undefined;
  const fromSnapshot = snap ? decodeWatermark(snap.summary[SUMMARY.watermark]) : null;
  if (current && fromSnapshot === null) {
    // Only snapshots someone else wrote (compaction, another engine), or ours expired: nothing to compare.
    return;
  }
  const hasCommitted = state.committedRunId !== null;
  if (!snap || !current) {
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
      `${o.tableName}: watermark ${JSON.stringify(state.watermark)} in PostgreSQL differs from ${JSON.stringify(fromSnapshot)} in snapshot ` +
        `${snap['snapshot-id']} of ${formatIdentifier(o.ident)} (the newest an offload committed). Nothing was done.`,
    );
  }
}
