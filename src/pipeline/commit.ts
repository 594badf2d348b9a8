// Step 8, commit: ONE transaction of the state store — the catalog's compare-and-set of the metadata
// pointer, the watermark moving from exactly the value the run was planned from, and the run record
// becoming committed. Data and watermark become visible together or not at all. The fault point
// `inside-commit` sits just before COMMIT is sent, `after-commit` just after it went through.
// A lost compare-and-set is settled here too: when the watermark moved as well, another worker offloaded
// the table and the run's rows may overlap theirs, so the run is discarded and planned again; when only the
// table moved (another writer), the same change is staged again on its new version and committed.
import { CommitConflict, OffloadError } from '../core/errors.js';
import { sameWatermark, type Watermark } from '../core/watermark.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { discardStaged, restage, type StagedCommit } from '../iceberg/table.js';
import type { StateStore } from '../state/store.js';
import type { OffloadEvents } from './events.js';
import { faultPoint } from './faults.js';

export interface CommitRunOptions {
  tableName: string;
  runId: string;
  /** The watermark the run was planned from: the commit fails (CommitConflict) if it moved meanwhile. */
  expected: Watermark;
  watermark: Watermark;
  rows: number;
  bytes: number;
  files: number;
  /** Per source column, values whose bytes were not UTF-8, written with U+FFFD. */
  replacedUtf8?: Record<string, number>;
  durationSeconds: number;
  /** Called just before COMMIT is sent (after it, the outcome may be unknown to us). */
  onCommitSent?: () => void;
}

/**
 * The commit transaction: compare-and-set of the catalog pointer (CommitConflict when the table moved),
 * the watermark from `expected` to `watermark` (CommitConflict when it moved), the run committed.
 */
export async function commitRun(state: StateStore, catalog: Catalog, staged: StagedCommit, o: CommitRunOptions): Promise<void> {
  await state.transaction(
    async (tx) => {
      await catalog.compareAndSetMetadataLocation(tx.connection, staged.ident, { expected: staged.base, next: staged.next });
      await tx.advanceWatermark(o.tableName, o.watermark, {
        rowCount: o.rows,
        runId: o.runId,
        durationSeconds: o.durationSeconds,
        expected: o.expected,
      });
      await tx.markRunCommitted(o.runId, {
        snapshotId: staged.snapshotId ?? 0n,
        metadataLocation: staged.next,
        rows: o.rows,
        bytes: o.bytes,
        files: o.files,
        windowEnd: o.watermark,
        replacedUtf8: o.replacedUtf8,
      });
    },
    {
      beforeCommit: () => {
        faultPoint('inside-commit', o.tableName);
        o.onCommitSent?.();
      },
    },
  );
}

/** A run's commit under way: the version staged for it (replaced when restaged), and whether COMMIT was sent. */
export interface PendingCommit {
  staged: StagedCommit;
  commitSent: boolean;
}

export interface CommitBatchOptions extends Omit<CommitRunOptions, 'durationSeconds' | 'onCommitSent'> {
  /** The Iceberg table's name, for messages. */
  target: string;
  /** When the run began (ms since the epoch). */
  started: number;
  /** Aborted when the table's lock was lost: nothing is committed then. */
  lockLost: AbortSignal;
  /** Commits tried when other writers move the table meanwhile. Default 4. */
  maxAttempts?: number;
  events: OffloadEvents;
}

/** Commits the staged batch; `replan` when the watermark moved under the run (the run is then aborted and its files removed). */
export async function commitBatch(
  deps: { state: StateStore; catalog: Catalog; io: FileIO },
  pending: PendingCommit,
  o: CommitBatchOptions,
): Promise<'committed' | 'replan'> {
  const maxAttempts = o.maxAttempts ?? 4;
  const run = {
    tableName: o.tableName,
    runId: o.runId,
    expected: o.expected,
    watermark: o.watermark,
    rows: o.rows,
    bytes: o.bytes,
    files: o.files,
    replacedUtf8: o.replacedUtf8,
  };
  for (let attempt = 1; ; attempt++) {
    if (o.lockLost.aborted)
      throw new OffloadError(`${o.tableName}: the table's lock was lost (its PostgreSQL connection dropped); not committing`);
    try {
      await commitRun(deps.state, deps.catalog, pending.staged, {
        ...run,
        durationSeconds: (Date.now() - o.started) / 1000,
        onCommitSent: () => (pending.commitSent = true),
      });
      break;
    } catch (err) {
      if (!(err instanceof CommitConflict) || pending.commitSent) throw err;
      const state = await deps.state.readWatermark(o.tableName);
      if (!state || !sameWatermark(state.watermark, o.expected)) {
        // Someone else offloaded this table meanwhile: our rows may overlap theirs. Drop them and plan again.
        o.events.emit({
          kind: 'log',
          table: o.tableName,
          level: 'warn',
          message: `the watermark moved during run ${o.runId}; discarding it and planning again`,
          code: 'commit-conflict-replanned',
        });
        await discardStaged(deps.io, pending.staged, { dataFiles: true });
        await deps.state.markRunAborted(o.runId, 'superseded: the watermark moved before this run could commit; re-planned');
        return 'replan';
      }
      if (attempt >= maxAttempts) throw err;
      // Another writer moved the Iceberg table (not the watermark): build the same change on its new version.
      o.events.emit({
        kind: 'log',
        table: o.tableName,
        level: 'warn',
        message: `commit conflict on ${o.target} (attempt ${attempt}); restaging on the new version`,
        code: 'commit-conflict-restaged',
      });
      pending.staged = await restage(deps.catalog, deps.io, pending.staged);
    }
  }
  faultPoint('after-commit', o.tableName);
  return 'committed';
}
