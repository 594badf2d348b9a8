// offload_runs: one row per offload attempt — and per compaction or repair of a partition, which commit the
// same way (kind). A run starts 'running' before anything is written and ends committed (in the commit
// transaction itself), up_to_date, failed, or aborted (by recovery, when a crashed run's id is not in the
// catalog).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { OffloadError } from '../core/errors.js';
import type { Watermark } from '../core/watermark.js';
import { isoUtcSql, type Queryable } from './pool.js';

export type RunStatus = 'running' | 'committed' | 'aborted' | 'failed' | 'up_to_date';

/** offload: rows appended, watermark moved; compact: a partition's files rewritten; repair: a partition's files replaced from ClickHouse. */
export type RunKind = 'offload' | 'compact' | 'repair';

export interface OffloadRun {
  runId: string;
  table: string;
  icebergTable: string | null;
  kind: RunKind;
  /** host:pid of the process that ran it. */
  worker: string;
  status: RunStatus;
  /** The window (start, end]; null until planned. */
  windowStart: Watermark | null;
  windowEnd: Watermark | null;
  rows: number;
  bytes: number;
  files: number;
  /** Iceberg snapshot id (63-bit) as a decimal string. */
  snapshotId: string | null;
  metadataLocation: string | null;
  error: string | null;
  /** Per source column, values whose bytes were not UTF-8, written with U+FFFD; null when none were. */
  replacedUtf8: Record<string, number> | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
}

const MAX_ERROR_CHARS = 8000;

/** This process as a worker: host:pid. */
export function workerId(): string {
  return `${hostname()}:${process.pid}`;
}

interface Row {
  run_id: string;
  table_name: string;
  iceberg_table: string | null;
  kind: RunKind;
  worker: string;
  status: RunStatus;
  ws_ts: string | null;
  window_start_tie_break: string | null;
  we_ts: string | null;
  window_end_tie_break: string | null;
  rows: string;
  bytes: string;
  files: number;
  snapshot_id: string | null;
  metadata_location: string | null;
  error: string | null;
  replaced_utf8: Record<string, number> | null;
  started_at: string;
  finished_at: string | null;
  duration_ms: string | null;
}

const COLUMNS = `run_id::text AS run_id, table_name, iceberg_table, kind, worker, status,
       ${isoUtcSql('window_start_timestamp')} AS ws_ts, window_start_tie_break::text AS window_start_tie_break,
       ${isoUtcSql('window_end_timestamp')} AS we_ts, window_end_tie_break::text AS window_end_tie_break,
       rows, bytes, files, snapshot_id::text AS snapshot_id, metadata_location, error, replaced_utf8,
       ${isoUtcSql('started_at')} AS started_at, ${isoUtcSql('finished_at')} AS finished_at, duration_ms`;

function toRun(r: Row): OffloadRun {
  return {
    runId: r.run_id,
    table: r.table_name,
    icebergTable: r.iceberg_table,
    kind: r.kind,
    worker: r.worker,
    status: r.status,
    windowStart: r.ws_ts === null ? null : { timestamp: r.ws_ts, tieBreak: r.window_start_tie_break },
    windowEnd: r.we_ts === null ? null : { timestamp: r.we_ts, tieBreak: r.window_end_tie_break },
    rows: Number(r.rows),
    bytes: Number(r.bytes),
    files: r.files,
    snapshotId: r.snapshot_id,
    metadataLocation: r.metadata_location,
    error: r.error,
    replacedUtf8: r.replaced_utf8,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  };
}

// Ends a run: finished_at and duration from the database clock, so workers' clocks do not matter.
const FINISH = `finished_at = clock_timestamp(),
            duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::bigint`;

export interface StartRun {
  table: string;
  icebergTable?: string;
  /** Default: offload. */
  kind?: RunKind;
  /** Default: a new random UUID. */
  runId?: string;
  /** Default: this process (host:pid). */
  worker?: string;
  windowStart?: Watermark;
  windowEnd?: Watermark;
}

/** Records a new run as 'running'. */
export async function start(db: Queryable, run: StartRun): Promise<OffloadRun> {
  const r = await db.query<Row>(
    `INSERT INTO offload_runs (run_id, table_name, iceberg_table, worker, status,
                               window_start_timestamp, window_start_tie_break, window_end_timestamp, window_end_tie_break, kind)
     VALUES ($1::uuid, $2, $3, $4, 'running', $5::timestamptz, $6::numeric, $7::timestamptz, $8::numeric, $9)
     RETURNING ${COLUMNS}`,
    [
      run.runId ?? randomUUID(),
      run.table,
      run.icebergTable ?? null,
      run.worker ?? workerId(),
      run.windowStart?.timestamp ?? null,
      run.windowStart?.tieBreak ?? null,
      run.windowEnd?.timestamp ?? null,
      run.windowEnd?.tieBreak ?? null,
      run.kind ?? 'offload',
    ],
  );
  return toRun(r.rows[0]);
}

/** Records the planned window (start, end] of a running run. */
export async function setWindow(db: Queryable, runId: string, window: { start: Watermark; end: Watermark }): Promise<void> {
  await db.query(
    `UPDATE offload_runs
        SET window_start_timestamp = $2::timestamptz, window_start_tie_break = $3::numeric,
            window_end_timestamp = $4::timestamptz, window_end_tie_break = $5::numeric
      WHERE run_id = $1::uuid`,
    [runId, window.start.timestamp, window.start.tieBreak, window.end.timestamp, window.end.tieBreak],
  );
}

export interface CommittedRun {
  snapshotId: string | bigint;
  metadataLocation: string;
  rows: number;
  bytes: number;
  files: number;
  /** The window's end, when it changed since setWindow (e.g. re-planned after a conflict). */
  windowEnd?: Watermark;
  /** Per source column, values whose bytes were not UTF-8, written with U+FFFD (omitted or empty: none). */
  replacedUtf8?: Record<string, number>;
}

/**
 * running → committed, inside the commit transaction. Throws when the run is not 'running' (someone
 * resolved it meanwhile), which rolls the whole commit back.
 */
export async function markCommitted(tx: Queryable, runId: string, result: CommittedRun): Promise<void> {
  const r = await tx.query(
    `UPDATE offload_runs
        SET status = 'committed', snapshot_id = $2::numeric, metadata_location = $3,
            rows = $4, bytes = $5, files = $6,
            window_end_timestamp = COALESCE($7::timestamptz, window_end_timestamp),
            window_end_tie_break = CASE WHEN $7::timestamptz IS NULL THEN window_end_tie_break ELSE $8::numeric END,
            replaced_utf8 = $9::jsonb, error = NULL, ${FINISH}
      WHERE run_id = $1::uuid AND status = 'running'`,
    [
      runId,
      result.snapshotId.toString(),
      result.metadataLocation,
      result.rows,
      result.bytes,
      result.files,
      result.windowEnd?.timestamp ?? null,
      result.windowEnd?.tieBreak ?? null,
      result.replacedUtf8 && Object.keys(result.replacedUtf8).length > 0 ? JSON.stringify(result.replacedUtf8) : null,
    ],
  );
  if (r.rowCount !== 1) {
    const current = await get(tx, runId);
    throw new OffloadError(
      current
        ? `run ${runId} is ${current.status}, not running: it cannot commit (another worker resolved it)`
        : `run ${runId} does not exist: it cannot commit`,
    );
  }
}

async function finish(db: Queryable, runId: string, status: RunStatus, error: string | null): Promise<boolean> {
  const r = await db.query(`UPDATE offload_runs SET status = $2, error = $3, ${FINISH} WHERE run_id = $1::uuid AND status = 'running'`, [
    runId,
    status,
    error === null ? null : error.slice(0, MAX_ERROR_CHARS),
  ]);
  return r.rowCount === 1;
}

/** running → up_to_date: the window was empty. Returns false when the run was not running. */
export function markUpToDate(db: Queryable, runId: string): Promise<boolean> {
  return finish(db, runId, 'up_to_date', null);
}

/** running → failed, with the (already redacted) error text. */
export function markFailed(db: Queryable, runId: string, error: string): Promise<boolean> {
  return finish(db, runId, 'failed', error);
}

/** running → aborted: it never committed (recovery found its id in no snapshot). */
export function markAborted(db: Queryable, runId: string, reason: string): Promise<boolean> {
  return finish(db, runId, 'aborted', reason);
}

export async function get(db: Queryable, runId: string): Promise<OffloadRun | null> {
  const r = await db.query<Row>(`SELECT ${COLUMNS} FROM offload_runs WHERE run_id = $1::uuid`, [runId]);
  return r.rows[0] ? toRun(r.rows[0]) : null;
}

export interface ListRuns {
  table?: string;
  status?: RunStatus;
  /** Default 50. */
  limit?: number;
}

/** Runs, latest first. */
export async function list(db: Queryable, filter: ListRuns = {}): Promise<OffloadRun[]> {
  const r = await db.query<Row>(
    `SELECT ${COLUMNS} FROM offload_runs
      WHERE ($1::text IS NULL OR table_name = $1) AND ($2::text IS NULL OR status = $2)
      ORDER BY started_at DESC, run_id
      LIMIT $3`,
    [filter.table ?? null, filter.status ?? null, filter.limit ?? 50],
  );
  return r.rows.map(toRun);
}

/** The latest run of each table (for the status screen), keyed by table name. */
export async function latestByTable(db: Queryable, tables?: string[]): Promise<Map<string, OffloadRun>> {
  const r = await db.query<Row>(
    `SELECT DISTINCT ON (table_name) ${COLUMNS} FROM offload_runs
      WHERE $1::text[] IS NULL OR table_name = ANY($1::text[])
      ORDER BY table_name, started_at DESC`,
    [tables ?? null],
  );
  return new Map(r.rows.map((x) => [x.table_name, toRun(x)]));
}

/** Which of `runIds` are runs of `table` recorded here (a work directory of another state database is not ours). */
export async function knownIds(db: Queryable, table: string, runIds: readonly string[]): Promise<Set<string>> {
  if (runIds.length === 0) return new Set();
  const r = await db.query<{ run_id: string }>(
    `SELECT run_id::text AS run_id FROM offload_runs WHERE table_name = $1 AND run_id = ANY($2::uuid[])`,
    [table, runIds],
  );
  return new Set(r.rows.map((x) => x.run_id));
}

/** Runs still marked 'running' (oldest first): live ones hold their table's lock; the rest crashed. */
export async function findRunning(db: Queryable, table?: string): Promise<OffloadRun[]> {
  const r = await db.query<Row>(
    `SELECT ${COLUMNS} FROM offload_runs WHERE status = 'running' AND ($1::text IS NULL OR table_name = $1) ORDER BY started_at`,
    [table ?? null],
  );
  return r.rows.map(toRun);
}

/** Deletes the run history of `tables` (a drill's sandbox tables when it is cleaned up). Returns how many went. */
export async function removeForTables(db: Queryable, tables: string[]): Promise<number> {
  if (tables.length === 0) return 0;
  const r = await db.query(`DELETE FROM offload_runs WHERE table_name = ANY($1::text[])`, [tables]);
  return r.rowCount ?? 0;
}
