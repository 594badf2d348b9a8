// The offload of one table (docs/architecture.md "The exactly-once protocol"): one run, bounded. It fixes
// its upper bound H when it first plans (the newest cursor value old enough then) and takes (W, H] in as
// many batches as the batch size needs, then ends — rows arriving meanwhile wait for the next run, so a
// run on a table that never stops receiving rows still ends, in one commit when its window fits one batch.
// The steps: 1 claim (claim.ts) → 2 recover (recover.ts) → 3 plan (plan.ts) → 4 extract
// (extract.ts) → 5 write (write.ts) → 6 upload (upload.ts), the three overlapped by move.ts → 7 stage
// (stage.ts) → 8 commit (commit.ts). This file only sequences them. Every step reports typed events
// (events.ts); the CLI prints them, the TUI reduces them. The offload is handed its services as interfaces
// (OffloadDeps), so the batch loop also runs on in-memory ones in a unit test.
import { mkdir, rm } from 'node:fs/promises';
import type { TableConfig } from '../config/tables.js';
import { isRowValueError } from '../clickhouse/client.js';
import { OffloadError } from '../core/errors.js';
import { formatInstant, type Micros, type Watermark } from '../core/watermark.js';
import type { Catalog } from '../iceberg/catalog.js';
import { discardUnreferenced, type FileIO } from '../iceberg/io.js';
import { currentSchema, defaultSpec } from '../iceberg/metadata.js';
import type { DuckDBSession } from '../iceberg/parquet.js';
import { discardStaged, type AnyStagedCommit, type Table } from '../iceberg/table.js';
import type { StateStore } from '../state/store.js';
import { claimTable, ensureWatermarkRow } from './claim.js';
import { commitBatch, type PendingCommit } from './commit.js';
import { OffloadEvents, type OffloadEvent, type OffloadPhase } from './events.js';
import { moveSlices } from './move.js';
import { recordBatchWindows } from './late-data.js';
import { planNext, planSlices, recordUpToDate, startRun, watermarkOf, type Plan, type PlannedNext } from './plan.js';
import { prepareTable, tableIdentifier } from './prepare.js';
import { ProgressReport } from './progress-report.js';
import { currentTable, reconcileWatermark, recoverTable } from './recover.js';
import { canHold, heldRowsWarning, holdRefusedRows, reviewHeldRows, withHeld, type HeldRows } from './held-rows.js';
import { RowsRefused, refusedRowsError } from './refused-rows.js';
import type { RowSource, SourceShape } from './source.js';
import { stageRun, snapshotOfRun } from './stage.js';
import { OffloadStopped, throwIfStopped } from './stop.js';
import { Uploads } from './upload.js';
import { removeTableWorkDirs, runWorkDir } from './work-dirs.js';
import { openWriterDuckDB, watermarkFromFiles } from './write.js';

/** What an offload is handed: interfaces, implemented by the real services in services.ts. */
export interface OffloadDeps {
  /** Where rows come from (ClickHouse: source.ts ClickHouseRows). */
  source: RowSource;
  /** Locks, watermarks, runs and the commit transaction (PostgreSQL: state/store.ts PostgresStateStore). */
  state: StateStore;
  /**
   * The Iceberg catalog (iceberg/catalog.ts): the JDBC catalog, whose compare-and-set runs inside the state
   * store's transaction, or a REST catalog, whose commit PostgreSQL mirrors after it (commit.ts).
   */
  catalog: Catalog;
  io: FileIO;
  /** Local scratch directory (default: the system's temp directory). */
  workDir?: string;
}

export interface OffloadOptions {
  events?: OffloadEvents;
  /** Plan and report the window and a row estimate; write nothing. */
  dryRun?: boolean;
  /** The source clock, instead of ClickHouse's now() (tests, replays). */
  now?: Date;
  /** Most rows one run (one commit) takes; larger windows are cut at whole cursor values. Default 20,000,000. */
  maxRowsPerBatch?: number;
  /** Most batches (commits) in one call; default: every batch the run's window (W, H] needs. */
  maxBatches?: number;
  /** Periods smaller than this are merged into one slice (fewer, larger steps). Default 250,000. */
  minSliceRows?: number;
  duckdb?: { threads?: number; memoryLimit?: string };
  /** Attempts to commit one batch when another writer moved the table meanwhile. Default 4. */
  maxCommitAttempts?: number;
  /** Re-plans after the watermark moved under us. Default 2. */
  maxReplans?: number;
  /** Uploads in flight at once. Default 2 (each buffers up to part size × queue size of the FileIO). */
  uploadConcurrency?: number;
  /** Queries reading one slice at once (default 1 for Native and query sources and small slices, 2 for tables over CSV/Parquet). */
  extractStreams?: number;
  /**
   * A stop request, checked before each batch is planned and before the commit transaction begins: a commit
   * under way is completed, a batch not yet committing is abandoned (its files discarded, its run aborted).
   * Stopped after at least one commit → the committed batches are the result; before any → OffloadStopped.
   */
  signal?: AbortSignal;
}

export interface CommittedBatch {
  runId: string;
  snapshotId: string;
  rows: number;
  files: number;
  bytes: number;
  watermark: Watermark;
  window: { lower: Watermark; upper: Watermark };
  durationMs: number;
  /** Per source column, values whose bytes were not UTF-8 and were committed with U+FFFD (absent: none). */
  replacedUtf8?: Record<string, number>;
}

export type OffloadResult =
  | {
      table: string;
      status: 'committed';
      batches: CommittedBatch[];
      rows: number;
      files: number;
      bytes: number;
      watermark: Watermark;
      durationMs: number;
      /** Rows this run held back (refused by the source; pipeline/held-rows.ts); absent: none. */
      held?: HeldRows[];
    }
  | { table: string; status: 'up-to-date'; watermark: Watermark; durationMs: number; held?: HeldRows[] }
  | { table: string; status: 'busy'; durationMs: number }
  | {
      table: string;
      status: 'dry-run';
      window: { lower: Watermark; upper: Watermark } | null;
      estimatedRows: number;
      batches: number;
      durationMs: number;
    };

/** One run of one table: (W, H] with H fixed when it plans, in batches (at most `maxBatches`). Throws on failure (after a `failed` event). */
export async function offloadTable(cfg: TableConfig, deps: OffloadDeps, options: OffloadOptions = {}): Promise<OffloadResult> {
  const events = options.events ?? new OffloadEvents();
  const started = Date.now();
  const emit = (e: OffloadEvent) => events.emit(e);
  const lock = await claimTable(cfg, deps.state, events);
  if (!lock) return { table: cfg.name, status: 'busy', durationMs: Date.now() - started };
  const ident = tableIdentifier(cfg);
  // Opened once the first slice is being extracted (loading DuckDB takes a third of a second of the main
  // thread, which waits on ClickHouse then), awaited by the first write.
  let duck: Promise<DuckDBSession> | undefined;
  const writerDuck = (): Promise<DuckDBSession> => {
    if (!duck) {
      duck = openWriterDuckDB(options.duckdb ?? {}, deps.workDir);
      duck.catch(() => undefined); // awaited by the batch; never an unhandled rejection meanwhile
    }
    return duck;
  };
  const report = new ProgressReport(events, cfg.name, started);
  try {
    await ensureWatermarkRow(cfg, deps.state);
    emit({ kind: 'phase', table: cfg.name, runId: '', phase: 'recover' });
    await recoverTable({ state: deps.state, catalog: deps.catalog, io: deps.io, tableName: cfg.name, ident, events });
    // Local scratch of this table's killed runs (none of its runs is alive while we hold the lock).
    await removeTableWorkDirs(deps.workDir, cfg.name, (ids) => deps.state.knownRunIds(cfg.name, ids)).catch(() => undefined); // best effort: scratch only

    let shape = await deps.source.shape(cfg);
    let table = await currentTable(deps.catalog, deps.io, ident);
    if (!options.dryRun) table = await prepareTable(cfg, deps, table, shape.columns, events);
    // Values held back by earlier runs that ClickHouse still refuses stay out of this run's windows.
    shape = withHeld(shape, await reviewHeldRows(cfg, deps.state, deps.source, shape, emit));

    const batches: CommittedBatch[] = [];
    const held: HeldRows[] = [];
    let refused: RowsRefused | undefined;
    let replans = 0;
    // H: set by the first plan, handed to every later one (the next batch, a re-plan after a lost compare-and-set).
    let upperBound: Micros | undefined;
    const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
    while (batches.length < maxBatches) {
      if (options.signal?.aborted && batches.length > 0) break;
      throwIfStopped(options.signal, cfg.name, 'before its first batch');
      const next = await planNext(cfg, deps.state, deps.source, shape, { ...options, upperBound });
      if (next.plan.kind === 'up-to-date') {
        if (refused) break;
        if (batches.length === 0) {
          if (options.dryRun) {
            return { table: cfg.name, status: 'dry-run', window: null, estimatedRows: 0, batches: 0, durationMs: Date.now() - started };
          }
          await recordUpToDate(cfg, deps.state, next.from);
          emit({ kind: 'up-to-date', table: cfg.name, watermark: next.from });
          return { table: cfg.name, status: 'up-to-date', watermark: next.from, durationMs: Date.now() - started, ...heldOf(held) };
        }
        break;
      }
      upperBound ??= next.plan.windowUpper;
      if (options.dryRun) {
        const window = { lower: next.from, upper: watermarkOf(next.plan.upper, null) };
        emit({ kind: 'planned', table: cfg.name, runId: '', window, estimatedRows: next.plan.windowRows, batches: next.plan.batches });
        return {
          table: cfg.name,
          status: 'dry-run',
          window,
          estimatedRows: next.plan.windowRows,
          batches: next.plan.batches,
          durationMs: Date.now() - started,
        };
      }
      let outcome: BatchOutcome;
      try {
        outcome = await runBatch(cfg, deps, shape, table!, next, writerDuck, options, events, lock.signal, {
          report,
          batch: batches.length + 1,
          holds: (r) => !refused && canHold(cfg, r, held.length),
        });
      } catch (err) {
        // Rows of one cursor value the source refuses, held back: recorded, left out, and the run goes on.
        if (err instanceof RowsRefused && !refused && canHold(cfg, err, held.length)) {
          const h = await holdRefusedRows(cfg, deps.state, deps.source, shape, err, err.runId!);
          held.push(h);
          emit(heldRowsWarning(cfg, h));
          shape = withHeld(shape, [err.found.value!]);
          continue;
        }
        // Otherwise (`refusedRows: stop`, or not narrowed to one value): the rows before them still go (the
        // run's H moves down to just before them), then the run fails at them — never past them.
        const before = err instanceof RowsRefused && !refused ? err.rows.lower : null;
        if (before === null || (next.lower !== null && before.cursor <= next.lower.cursor)) throw err;
        refused = err as RowsRefused;
        upperBound = before.cursor;
        continue;
      }
      if (outcome.kind === 'replan') {
        if (++replans > (options.maxReplans ?? 2))
          throw new OffloadError(`${cfg.name}: the watermark kept moving under this worker (${replans} re-plans); giving up`);
        table = (await currentTable(deps.catalog, deps.io, ident)) ?? table;
        // REST: the winner records its commit in PostgreSQL only after it; plan from what the table says.
        if (deps.catalog.kind === 'rest') await reconcileWatermark({ state: deps.state, tableName: cfg.name, ident, events }, table);
        continue;
      }
      if (outcome.kind === 'empty') {
        // The planned rows vanished before they were read (recorded up to date by runBatch).
        if (batches.length === 0) {
          emit({ kind: 'up-to-date', table: cfg.name, watermark: next.from });
          return { table: cfg.name, status: 'up-to-date', watermark: next.from, durationMs: Date.now() - started, ...heldOf(held) };
        }
        break;
      }
      batches.push(outcome.batch);
      report.committed(outcome.batch.rows);
      table = outcome.table;
      // The batch ran up to H: the run has taken its whole window.
      if (next.plan.upper === next.plan.windowUpper) break;
    }
    if (refused) throw await afterRefusal(cfg, deps.state, refused, batches);
    const last = batches[batches.length - 1];
    const result = {
      table: cfg.name,
      status: 'committed' as const,
      batches,
      rows: batches.reduce((s, b) => s + b.rows, 0),
      files: batches.reduce((s, b) => s + b.files, 0),
      bytes: batches.reduce((s, b) => s + b.bytes, 0),
      watermark: last.watermark,
      durationMs: Date.now() - started,
      ...heldOf(held),
    };
    report.finished();
    emit({
      kind: 'finished',
      table: cfg.name,
      runId: last.runId,
      snapshotId: last.snapshotId,
      watermark: last.watermark,
      rows: result.rows,
      files: result.files,
      bytes: result.bytes,
      batches: batches.length,
      durationMs: result.durationMs,
    });
    return result;
  } catch (err) {
    if (err instanceof OffloadStopped) emit({ kind: 'skipped', table: cfg.name, reason: err.message });
    else emit({ kind: 'failed', table: cfg.name, error: (err as Error).message });
    throw err;
  } finally {
    report.close();
    (await duck?.catch(() => undefined))?.close();
    await lock.release();
  }
}

function heldOf(held: HeldRows[]): { held?: HeldRows[] } {
  return held.length > 0 ? { held } : {};
}

/** The run's failure once the rows before the refused ones are committed: the refusal, saying how far the table got. */
async function afterRefusal(cfg: TableConfig, state: StateStore, refused: RowsRefused, batches: CommittedBatch[]): Promise<RowsRefused> {
  const last = batches[batches.length - 1];
  const committed = last
    ? `The ${batches.reduce((s, b) => s + b.rows, 0)} rows before them were committed (watermark ${formatInstant(last.watermark.timestamp)}).`
    : undefined;
  const err = new RowsRefused(cfg.name, refused.reason, refused.advice, refused.rows, {
    cause: refused.cause,
    committed,
    found: refused.found,
  });
  await state.markTableFailed(cfg.name, err.message);
  return err;
}

type BatchOutcome = { kind: 'committed'; batch: CommittedBatch; table: Table } | { kind: 'replan' } | { kind: 'empty' };

/** One run: record it, extract, write and upload the planned batch, stage it, commit it. */
async function runBatch(
  cfg: TableConfig,
  deps: OffloadDeps,
  shape: SourceShape,
  table: Table,
  next: PlannedNext,
  duck: () => Promise<DuckDBSession>,
  options: OffloadOptions,
  events: OffloadEvents,
  lockLost: AbortSignal,
  progress: { report: ProgressReport; batch: number; holds: (refused: RowsRefused) => boolean },
): Promise<BatchOutcome> {
  const plan = next.plan as Extract<Plan, { kind: 'window' }>;
  const { runId, windowStart, started } = await startRun(cfg, deps.state, next, events, progress.batch);
  progress.report.planned(runId, plan.windowRows);
  const phase = (p: OffloadPhase) => events.emit({ kind: 'phase', table: cfg.name, runId, phase: p });
  const workDir = runWorkDir(deps.workDir, cfg.name, runId);
  const uploads = new Uploads(deps.io, options.uploadConcurrency ?? 2);
  let pending: PendingCommit | undefined;
  try {
    await mkdir(workDir, { recursive: true });
    const schema = currentSchema(table.metadata);
    const spec = defaultSpec(table.metadata);
    const slices = await planSlices(cfg, deps.source, shape, { schema, spec }, next, options.minSliceRows);

    // A candle table's windows as they are now, to tell later whether a late trade changed one (status).
    await recordBatchWindows(cfg, deps.source, deps.state, shape, { runId, lower: next.lower, upper: plan.upper });
    phase('extract');
    progress.report.extracting();
    const moved = await moveSlices({
      cfg,
      source: deps.source,
      shape,
      schema,
      spec,
      table,
      slices,
      lower: next.lower,
      upper: plan.upper,
      duck,
      workDir,
      runId,
      events,
      extractStreams: options.extractStreams,
      signal: options.signal,
      uploads,
      estimatedRows: plan.rows,
      lockLost,
      onProgress: (p) => progress.report.moved(p),
    });
    if (moved.files.length === 0) {
      await deps.state.markRunUpToDate(runId);
      await deps.state.markTableUpToDate(cfg.name);
      events.emit({
        kind: 'log',
        table: cfg.name,
        level: 'warn',
        message: `no rows found in the planned window (they vanished since planning); nothing committed`,
      });
      return { kind: 'empty' };
    }
    const watermark = await watermarkFromFiles(await duck(), moved.files, cfg, shape, schema);
    const dataFiles = moved.files.map((f) => f.dataFile);
    const rows = dataFiles.reduce((s, f) => s + Number(f.recordCount), 0);
    const bytes = dataFiles.reduce((s, f) => s + Number(f.fileSizeInBytes), 0);

    phase('stage');
    pending = {
      staged: await stageRun(table, deps.io, dataFiles, {
        tableName: cfg.name,
        runId,
        watermark,
        windowStart,
        metadataFile: deps.catalog.kind === 'jdbc',
      }),
      commitSent: false,
    };

    throwIfStopped(options.signal, cfg.name, 'before its commit');
    phase('commit');
    const committed = await commitBatch(deps, pending, {
      tableName: cfg.name,
      target: cfg.target,
      runId,
      expected: next.from,
      watermark,
      rows,
      bytes,
      files: dataFiles.length,
      replacedUtf8: moved.replacedUtf8,
      started,
      lockLost,
      maxAttempts: options.maxCommitAttempts,
      events,
    });
    if (committed === 'replan') return { kind: 'replan' };
    const durationMs = Date.now() - started;
    const batch: CommittedBatch = {
      runId,
      snapshotId: String(pending.staged.snapshotId),
      rows,
      files: dataFiles.length,
      bytes,
      watermark,
      window: { lower: windowStart, upper: watermark },
      durationMs,
      ...(Object.keys(moved.replacedUtf8).length > 0 ? { replacedUtf8: moved.replacedUtf8 } : {}),
    };
    events.emit({
      kind: 'committed',
      table: cfg.name,
      runId,
      snapshotId: batch.snapshotId,
      watermark,
      rows,
      files: batch.files,
      bytes,
      durationMs,
    });
    if (batch.replacedUtf8) events.emit(replacedUtf8Warning(cfg.name, runId, batch.window, batch.replacedUtf8));
    return { kind: 'committed', batch, table: committed };
  } catch (caught) {
    // A value the source refuses fails every run until it changes there: say where the rows are.
    const err = isRowValueError(caught)
      ? await refusedRowsError(cfg, deps.source, shape, { from: next.from, lower: next.lower, upper: plan.upper }, caught, {
          isRowValueError,
          runId,
        })
      : (caught as Error);
    // Rows held back end this batch only: its run is aborted (the table goes on), not failed.
    const isHeld = err instanceof RowsRefused && progress.holds(err);
    await failRun(cfg, deps, runId, pending?.staged, uploads.started, pending?.commitSent ?? false, err, isHeld);
    throw err;
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined); // local scratch: a leftover is harmless
  }
}

/** The warning of a committed batch some of whose strings were not UTF-8: how many per column, where, how to find them. */
export function replacedUtf8Warning(
  table: string,
  runId: string,
  window: { lower: Watermark; upper: Watermark },
  replaced: Record<string, number>,
): OffloadEvent {
  const total = Object.values(replaced).reduce((s, n) => s + n, 0);
  const columns = Object.entries(replaced)
    .map(([c, n]) => `${c}: ${n}`)
    .join(', ');
  return {
    kind: 'log',
    table,
    level: 'warn',
    code: 'invalid-utf8-replaced',
    message: `${total} value${total === 1 ? '' : 's'} not valid UTF-8 committed with U+FFFD in place of the invalid bytes (${columns}), run ${runId}, window (${window.lower.timestamp}, ${window.upper.timestamp}]; ClickHouse still has the original bytes: WHERE NOT isValidUTF8(<column>)`,
  };
}

/**
 * A run that failed: recorded as failed, and what it wrote removed — unless its commit may have gone through.
 * Then the table says: it holds the run (JDBC: so does PostgreSQL, same transaction; REST: the next run's
 * recovery records it from the table), or — REST, answer lost and not settled — it may still apply, so every
 * file stays and the run stays `running` for recovery to settle from the table.
 */
async function failRun(
  cfg: TableConfig,
  deps: OffloadDeps,
  runId: string,
  staged: AnyStagedCommit | undefined,
  uploaded: string[],
  commitSent: boolean,
  err: Error,
  isHeld = false,
): Promise<void> {
  try {
    if (commitSent) {
      // The outcome of the commit is unknown: the catalog says what happened.
      const t = await currentTable(deps.catalog, deps.io, tableIdentifier(cfg));
      if (t && snapshotOfRun(t.metadata, runId)) return;
      if (deps.catalog.kind === 'rest') {
        await deps.state.markTableFailed(cfg.name, err.message);
        return;
      }
    }
    const isStop = err instanceof OffloadStopped || isHeld;
    const marked = isStop ? await deps.state.markRunAborted(runId, err.message) : await deps.state.markRunFailed(runId, err.message);
    if (isStop) await deps.state.markTableUpToDate(cfg.name);
    else await deps.state.markTableFailed(cfg.name, err.message);
    if (marked) {
      if (staged) await discardStaged(deps.io, staged, { dataFiles: true });
      else await discardUnreferenced(deps.io, uploaded);
    }
  } catch {
    // The state store or storage is unreachable: the run stays `running` and the next run's recovery resolves it; gc collects its files.
  }
}
