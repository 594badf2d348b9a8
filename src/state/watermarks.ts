// A table's watermark in offload_watermarks: the seed's columns (kept working for its queries) plus the
// exact pair we bound windows with — timestamp (µs) and tie-break value. The watermark only moves inside
// the caller's commit transaction, together with the catalog pointer (docs/architecture.md, step 8 commit).
import { CommitConflict, OffloadError } from '../core/errors.js';
import { EPOCH, formatWatermark, type Watermark } from '../core/watermark.js';
import { isoUtcSql, type Queryable } from './pool.js';

export type WatermarkStatus = 'initialized' | 'running' | 'success' | 'failed';

export interface WatermarkState {
  table: string;
  watermark: Watermark;
  icebergTable: string | null;
  status: WatermarkStatus;
  /** Rows of the last committed run. */
  lastRowCount: number;
  lastSuccessfulRun: string | null;
  lastRunDurationSeconds: number | null;
  /** Consecutive failures; reset by a successful run. */
  failureCount: number;
  lastErrorMessage: string | null;
  /** The run whose commit moved the watermark here. */
  committedRunId: string | null;
  updatedAt: string | null;
}

const MAX_ERROR_CHARS = 4000;

interface Row {
  table_name: string;
  wm_timestamp: string;
  watermark_tie_break: string | null;
  iceberg_table: string | null;
  status: WatermarkStatus;
  last_offload_row_count: string | null;
  last_successful_run: string | null;
  last_run_duration_seconds: number | null;
  failure_count: number | null;
  last_error_message: string | null;
  committed_run_id: string | null;
  updated_at: string | null;
}

// A row the seed's own job wrote has no watermark_timestamp: its last_offload_timestamp counts, with
// every row at that timestamp taken (tie-break null), which is what its `ts <= upper` windows did.
const SELECT = `SELECT table_name,
       ${isoUtcSql('COALESCE(watermark_timestamp, last_offload_timestamp)')} AS wm_timestamp,
       watermark_tie_break::text AS watermark_tie_break,
       iceberg_table, status, last_offload_row_count,
       ${isoUtcSql('last_successful_run')} AS last_successful_run,
       last_run_duration_seconds, failure_count, last_error_message,
       committed_run_id::text AS committed_run_id,
       ${isoUtcSql('updated_at')} AS updated_at
  FROM offload_watermarks`;

function toState(r: Row): WatermarkState {
  return {
    table: r.table_name,
    watermark: { timestamp: r.wm_timestamp, tieBreak: r.watermark_tie_break },
    icebergTable: r.iceberg_table,
    status: r.status,
    lastRowCount: Number(r.last_offload_row_count ?? 0),
    lastSuccessfulRun: r.last_successful_run,
    lastRunDurationSeconds: r.last_run_duration_seconds,
    failureCount: r.failure_count ?? 0,
    lastErrorMessage: r.last_error_message,
    committedRunId: r.committed_run_id,
    updatedAt: r.updated_at,
  };
}

function checkWatermark(table: string, w: Watermark): void {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/.test(w.timestamp) || Number.isNaN(Date.parse(w.timestamp))) {
    throw new OffloadError(`${table}: watermark timestamp "${w.timestamp}" is not an ISO-8601 timestamp with at most microseconds`);
  }
  if (w.tieBreak !== null && !/^-?\d+$/.test(w.tieBreak)) {
    throw new OffloadError(`${table}: watermark tie-break "${w.tieBreak}" is not an integer in decimal`);
  }
}

/** A table's watermark row, or null when the table was never ensured. */
export async function read(db: Queryable, table: string): Promise<WatermarkState | null> {
  const r = await db.query<Row>(`${SELECT} WHERE table_name = $1`, [table]);
  return r.rows[0] ? toState(r.rows[0]) : null;
}

/** Every watermark row, by table name. */
export async function list(db: Queryable): Promise<WatermarkState[]> {
  const r = await db.query<Row>(`${SELECT} ORDER BY table_name`);
  return r.rows.map(toState);
}

export interface EnsureTable {
  table: string;
  icebergTable?: string;
}

/**
 * Seeds a row at 1970-01-01 for each configured table that has none (like the seed's DDL did); rows that
 * exist are kept, only a missing iceberg_table is filled in. Returns the tables that were created.
 */
export async function ensure(db: Queryable, tables: Array<string | EnsureTable>): Promise<string[]> {
  if (tables.length === 0) return [];
  const names = tables.map((t) => (typeof t === 'string' ? t : t.table));
  const targets = tables.map((t) => (typeof t === 'string' ? null : (t.icebergTable ?? null)));
  const r = await db.query<{ table_name: string; created: boolean }>(
    `INSERT INTO offload_watermarks AS w
            (table_name, last_offload_timestamp, last_offload_max_sequence, status, watermark_timestamp, iceberg_table)
     SELECT t.name, $3::timestamptz, 0, 'initialized', $3::timestamptz, t.target
       FROM unnest($1::text[], $2::text[]) AS t(name, target)
     ON CONFLICT (table_name) DO UPDATE
        SET iceberg_table = EXCLUDED.iceberg_table, updated_at = now()
      WHERE w.iceberg_table IS NULL AND EXCLUDED.iceberg_table IS NOT NULL
     RETURNING table_name, (xmax = 0) AS created`,
    [names, targets, EPOCH.timestamp],
  );
  return r.rows.filter((x) => x.created).map((x) => x.table_name);
}

export interface AdvanceOptions {
  /** Rows the committing run added. */
  rowCount: number;
  /** The committing run (offload_runs.run_id). */
  runId: string;
  durationSeconds?: number;
  /** When given, the watermark moves only from this value; anything else is a CommitConflict. */
  expected?: Watermark;
}

/**
 * Moves a table's watermark inside the caller's commit transaction and records the run as a success.
 * last_offload_timestamp / last_offload_max_sequence follow along for the seed's readers (a tie-break
 * beyond BIGINT is clamped there; watermark_tie_break holds it exactly).
 */
export async function advance(tx: Queryable, table: string, watermark: Watermark, options: AdvanceOptions): Promise<void> {
  checkWatermark(table, watermark);
  if (options.expected) checkWatermark(table, options.expected);
  const r = await tx.query(
    `UPDATE offload_watermarks
        SET watermark_timestamp = $2::timestamptz,
            watermark_tie_break = $3::numeric,
            last_offload_timestamp = $2::timestamptz,
            last_offload_max_sequence = CASE
              WHEN $3::numeric IS NULL THEN 0
              ELSE LEAST(GREATEST($3::numeric, -9223372036854775808), 9223372036854775807)::bigint END,
            last_offload_row_count = $4,
            committed_run_id = $5::uuid,
            status = 'success',
            last_successful_run = now(),
            last_run_duration_seconds = COALESCE($6::integer, last_run_duration_seconds),
            failure_count = 0,
            last_error_message = NULL,
            updated_at = now()
      WHERE table_name = $1
        AND ($7::boolean IS NOT TRUE
             OR (COALESCE(watermark_timestamp, last_offload_timestamp) = $8::timestamptz
                 AND watermark_tie_break IS NOT DISTINCT FROM $9::numeric))`,
    [
      table,
      watermark.timestamp,
      watermark.tieBreak,
      options.rowCount,
      options.runId,
      options.durationSeconds === undefined ? null : Math.round(options.durationSeconds),
      options.expected !== undefined,
      options.expected?.timestamp ?? null,
      options.expected?.tieBreak ?? null,
    ],
  );
  if (r.rowCount === 1) return;
  const current = await read(tx, table);
  if (!current) throw new OffloadError(`${table}: no watermark row (run \`offload init\` to create it)`);
  throw new CommitConflict(
    `${table} (watermark)`,
    options.expected ? formatWatermark(options.expected) : null,
    formatWatermark(current.watermark),
  );
}

/** status = 'running' (the seed's readers see a run in progress); the watermark itself is untouched. */
export async function markRunning(db: Queryable, table: string): Promise<boolean> {
  const r = await db.query(`UPDATE offload_watermarks SET status = 'running', updated_at = now() WHERE table_name = $1`, [table]);
  return r.rowCount === 1;
}

/** A failed run: status 'failed', one more consecutive failure, the (already redacted) message kept. */
export async function markFailed(db: Queryable, table: string, message: string, durationSeconds?: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE offload_watermarks
        SET status = 'failed',
            failure_count = COALESCE(failure_count, 0) + 1,
            last_error_message = $2,
            last_run_duration_seconds = COALESCE($3::integer, last_run_duration_seconds),
            updated_at = now()
      WHERE table_name = $1`,
    [table, message.slice(0, MAX_ERROR_CHARS), durationSeconds === undefined ? null : Math.round(durationSeconds)],
  );
  return r.rowCount === 1;
}

/**
 * A run that found nothing new: a success for the failure streak; status returns to 'success', or to
 * 'initialized' for a table that has never committed anything.
 */
export async function markUpToDate(db: Queryable, table: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE offload_watermarks
        SET status = CASE WHEN committed_run_id IS NULL AND last_successful_run IS NULL THEN 'initialized' ELSE 'success' END,
            failure_count = 0,
            last_error_message = NULL,
            updated_at = now()
      WHERE table_name = $1`,
    [table],
  );
  return r.rowCount === 1;
}

/** Deletes the watermark rows of `tables` (a drill's sandbox tables when it is cleaned up). Returns how many went. */
export async function remove(db: Queryable, tables: string[]): Promise<number> {
  if (tables.length === 0) return 0;
  const r = await db.query(`DELETE FROM offload_watermarks WHERE table_name = ANY($1::text[])`, [tables]);
  return r.rowCount ?? 0;
}
