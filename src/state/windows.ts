// offload_windows: per closed window of a candle table, what the run that offloaded it read (rows and a
// fingerprint of the values), so `offload status` can show the windows whose values changed since.
import type { Queryable } from './pool.js';

export interface WindowFingerprint {
  /** The window's cursor value, µs since the epoch. */
  cursor: bigint;
  rows: number;
  fingerprint: string;
}

/** Records what run `runId` read of each window (before its commit: only committed runs' rows are read back). */
export async function record(db: Queryable, table: string, runId: string, windows: readonly WindowFingerprint[]): Promise<void> {
  for (let i = 0; i < windows.length; i += 1000) {
    const chunk = windows.slice(i, i + 1000);
    await db.query(
      `INSERT INTO offload_windows (table_name, window_micros, run_id, rows, fingerprint)
       SELECT $1, w, $2, r, f FROM unnest($3::bigint[], $4::bigint[], $5::text[]) AS t(w, r, f)
       ON CONFLICT DO NOTHING`,
      [table, runId, chunk.map((w) => w.cursor.toString()), chunk.map((w) => String(w.rows)), chunk.map((w) => w.fingerprint)],
    );
  }
}

/** What committed runs read of the windows in [from, to] (the latest committed run's, for a window read twice). */
export async function committedIn(db: Queryable, table: string, from: bigint, to: bigint): Promise<WindowFingerprint[]> {
  const r = await db.query<{ w: string; rows: string; fingerprint: string }>(
    `SELECT DISTINCT ON (w.window_micros) w.window_micros::text AS w, w.rows::text AS rows, w.fingerprint
       FROM offload_windows w JOIN offload_runs r ON r.run_id = w.run_id AND r.status = 'committed'
      WHERE w.table_name = $1 AND w.window_micros BETWEEN $2 AND $3
      ORDER BY w.window_micros, r.finished_at DESC`,
    [table, from.toString(), to.toString()],
  );
  return r.rows.map((x) => ({ cursor: BigInt(x.w), rows: Number(x.rows), fingerprint: x.fingerprint }));
}
