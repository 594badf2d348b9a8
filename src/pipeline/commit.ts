// Step 8, commit. With the JDBC catalog: ONE transaction of the state store — the catalog's compare-and-set
// of the metadata pointer, the watermark moving from exactly the value the run was planned from, and the
// run record becoming committed. Data and watermark become visible together or not at all. The fault point
// `inside-commit` sits just before COMMIT is sent, `after-commit` just after it went through.
//
// With a REST catalog the table's commit is a request to another system and cannot share that transaction
// (docs/rest-catalog.md): the REST commit first — it alone makes the run's rows visible, exactly once, by the
// catalog's own compare-and-set (assert-ref-snapshot-id) — then the same watermark/run transaction in
// PostgreSQL, which mirrors it. `inside-commit` sits between the two: the table holds the run, PostgreSQL
// does not yet; the next run's recovery reconciles PostgreSQL from the snapshot summary. A commit whose answer
// was lost is settled from the reloaded table (our snapshot id there or not) and, if not applied, sent again:
// it applies at most once, its requirements name the version it was built on.
//
// A lost race is settled here too: when another offload of the table committed meanwhile (JDBC: the
// watermark moved; REST: a snapshot of another run of this table sits after our base — read from the table,
// since the winner updates PostgreSQL only after its REST commit) the run's rows may overlap theirs, so it is
// discarded and planned again; when only the table moved (another writer), the same change is staged again
// on its new version and committed.
import { CommitConflict, OffloadError } from '../core/errors.js';
import { sameWatermark, type Watermark } from '../core/watermark.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { currentSnapshot } from '../iceberg/metadata.js';
import { CommitOutcomeUnknown } from '../iceberg/rest-protocol.js';
import { commitOutcome, discardStaged, rebuildOn, type AnyStagedCommit, type Table } from '../iceberg/table.js';
import type { StateStore, StateTransaction } from '../state/store.js';
import type { OffloadEvents } from './events.js';
import { faultPoint } from './faults.js';
import { SUMMARY } from './stage.js';

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

/** The watermark from `expected` to `watermark` (CommitConflict when it moved) and the run committed, inside `tx`. */
async function recordCommit(tx: StateTransaction, committed: Table, snapshotId: bigint, o: CommitRunOptions): Promise<void> {
  await tx.advanceWatermark(o.tableName, o.watermark, {
    rowCount: o.rows,
    runId: o.runId,
    durationSeconds: o.durationSeconds,
    expected: o.expected,
  });
  await tx.markRunCommitted(o.runId, {
    snapshotId,
    metadataLocation: committed.metadataLocation,
    rows: o.rows,
    bytes: o.bytes,
    files: o.files,
    windowEnd: o.watermark,
    replacedUtf8: o.replacedUtf8,
  });
}

/**
 * The JDBC catalog's commit transaction: compare-and-set of the catalog pointer (CommitConflict when the
 * table moved), the watermark from `expected` to `watermark` (CommitConflict when it moved), the run committed.
 */
export async function commitRun(state: StateStore, catalog: Catalog, staged: AnyStagedCommit, o: CommitRunOptions): Promise<Table> {
  return state.transaction(
    async (tx) => {
      const committed = await catalog.commit(staged, tx.connection);
      await recordCommit(tx, committed, staged.snapshotId ?? 0n, o);
      return committed;
    },
    {
      beforeCommit: () => {
        faultPoint('inside-commit', o.tableName);
        o.onCommitSent?.();
      },
    },
  );
}

/** How often a REST commit whose answer was lost, and which the reloaded table does not hold, is sent again. */
const REST_COMMIT_SENDS = 3;

/**
 * The REST catalog's commit: the request (settled when its answer is lost), then the watermark/run
 * transaction in PostgreSQL. Once the table holds the run, no error leaves `pending.commitSent` false: what
 * the run wrote is the table's now.
 */
async function commitRemote(
  state: StateStore,
  catalog: Catalog,
  pending: PendingCommit,
  o: CommitRunOptions & { events: OffloadEvents },
): Promise<Table> {
  const committed = await sendOnce(catalog, pending, o);
  faultPoint('inside-commit', o.tableName);
  try {
    await state.transaction((tx) => recordCommit(tx, committed, pending.staged.snapshotId ?? 0n, o));
  } catch (err) {
    // Never a CommitConflict here (that would discard files the table now references): the table is the truth.
    throw new OffloadError(
      `${o.tableName}: run ${o.runId} is committed in the Iceberg table (snapshot ${pending.staged.snapshotId}), but recording it in ` +
        `PostgreSQL failed (${(err as Error).message}); the next run's recovery records it from the table`,
      { cause: err },
    );
  }
  return committed;
}

/**
 * Sends the staged version to the REST catalog so that it applies at most once: an answer lost
 * (CommitOutcomeUnknown) is settled by reloading the table — our snapshot there: committed; not there: the
 * same version is sent again. A conflict after a lost answer is ours if the table holds our snapshot, else
 * the table moved on and the lost request can never apply (its requirements name our base).
 */
async function sendOnce(catalog: Catalog, pending: PendingCommit, o: { tableName: string; events: OffloadEvents }): Promise<Table> {
  let unknown = false;
  for (let sent = 1; ; sent++) {
    pending.commitSent = true;
    try {
      return await catalog.commit(pending.staged);
    } catch (err) {
      const isUnknown = err instanceof CommitOutcomeUnknown;
      if (!isUnknown && !(unknown && err instanceof CommitConflict)) {
        pending.commitSent = unknown; // this request was not applied; an earlier one whose answer was lost may have been
        throw err;
      }
      unknown = true;
      o.events.emit({
        kind: 'log',
        table: o.tableName,
        level: 'warn',
        message: `${(err as Error).message}; reading the table to see whether the commit was applied`,
      });
      const current = await catalog.loadTable(pending.staged.ident);
      if (current && commitOutcome(current, pending.staged) === 'committed') return current;
      if (!isUnknown) {
        pending.commitSent = false;
        throw err;
      }
      if (sent >= REST_COMMIT_SENDS) throw err;
      // Not applied (or not yet): the same version again; whichever request arrives first applies, the other gets 409.
    }
  }
}

/** A run's commit under way: the version staged for it (replaced when restaged), and whether COMMIT was sent. */
export interface PendingCommit {
  staged: AnyStagedCommit;
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

/**
 * Commits the staged batch: the table as committed, or `replan` when another offload of the table committed
 * meanwhile (the run is then aborted and its files removed).
 */
export async function commitBatch(
  deps: { state: StateStore; catalog: Catalog; io: FileIO },
  pending: PendingCommit,
  o: CommitBatchOptions,
): Promise<Table | 'replan'> {
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
  let committed: Table;
  for (let attempt = 1; ; attempt++) {
    if (o.lockLost.aborted)
      throw new OffloadError(`${o.tableName}: the table's lock was lost (its PostgreSQL connection dropped); not committing`);
    try {
      const durationSeconds = (Date.now() - o.started) / 1000;
      committed =
        deps.catalog.kind === 'jdbc'
          ? await commitRun(deps.state, deps.catalog, pending.staged, {
              ...run,
              durationSeconds,
              onCommitSent: () => (pending.commitSent = true),
            })
          : await commitRemote(deps.state, deps.catalog, pending, { ...run, durationSeconds, events: o.events });
      break;
    } catch (err) {
      if (!(err instanceof CommitConflict) || pending.commitSent) throw err;
      const current = await deps.catalog.loadTable(pending.staged.ident);
      if (await offloadedMeanwhile(deps, pending.staged, current, o)) {
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
      if (attempt >= maxAttempts || !current) throw err;
      // Another writer moved the Iceberg table (not the watermark): build the same change on its new version.
      o.events.emit({
        kind: 'log',
        table: o.tableName,
        level: 'warn',
        message: `commit conflict on ${o.target} (attempt ${attempt}); restaging on the new version`,
        code: 'commit-conflict-restaged',
      });
      pending.staged = await rebuildOn(current, deps.io, pending.staged);
    }
  }
  faultPoint('after-commit', o.tableName);
  return committed;
}

/**
 * After a lost race: did another offload of this table commit since the run was planned? JDBC: the watermark
 * in PostgreSQL moved (it moves with every commit). REST: a snapshot after our base in the reloaded table
 * carries this table's `offload.table` — PostgreSQL may not show it yet.
 */
async function offloadedMeanwhile(
  deps: { state: StateStore; catalog: Catalog },
  staged: AnyStagedCommit,
  current: Table | null,
  o: { tableName: string; expected: Watermark },
): Promise<boolean> {
  if (deps.catalog.kind === 'jdbc') {
    const state = await deps.state.readWatermark(o.tableName);
    return !state || !sameWatermark(state.watermark, o.expected);
  }
  if (!current) return true;
  const base = currentSnapshot(staged.baseTable.metadata)?.['snapshot-id'];
  const byId = new Map(current.metadata.snapshots.map((s) => [s['snapshot-id'], s]));
  for (let s = currentSnapshot(current.metadata); s && s['snapshot-id'] !== base; s = byId.get(s['parent-snapshot-id'] ?? -1n)) {
    if (s.summary[SUMMARY.table] === o.tableName && s.summary[SUMMARY.watermark] !== undefined) return true;
  }
  return false;
}
