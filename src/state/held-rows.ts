// offload_held_rows: per table, the cursor values whose rows ClickHouse refuses to read and the table's runs
// hold back (pipeline/held-rows.ts). A row here is one cursor value; it is forgotten once ClickHouse reads
// those rows again.
import type { Queryable } from './pool.js';

export interface HeldRowsRecord {
  table: string;
  /** The cursor value whose rows are held, µs since the epoch. */
  cursor: bigint;
  rows: number;
  /** ClickHouse's error: "ClickHouse error 407: Decimal convert overflow". */
  error: string;
  /** How a person sees the rows: "see them: SELECT …". */
  see: string;
  runId: string;
  heldAt: string; // ISO
}

/** Records held rows; a value held already keeps its first record (the rows were refused since then). */
export async function hold(db: Queryable, r: Omit<HeldRowsRecord, 'heldAt'>): Promise<void> {
  await db.query(
    `INSERT INTO offload_held_rows (table_name, cursor_micros, rows, error, rows_hint, run_id)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (table_name, cursor_micros) DO NOTHING`,
    [r.table, r.cursor.toString(), String(r.rows), r.error, r.see, r.runId],
  );
}

/** The held rows of these tables, by table then cursor value. */
export async function ofTables(db: Queryable, tables: readonly string[]): Promise<HeldRowsRecord[]> {
  const r = await db.query<{ t: string; c: string; rows: string; error: string; see: string; run_id: string; held_at: Date }>(
    `SELECT table_name AS t, cursor_micros::text AS c, rows::text AS rows, error, rows_hint AS see, run_id::text AS run_id, held_at
       FROM offload_held_rows WHERE table_name = ANY($1::text[]) ORDER BY table_name, cursor_micros`,
    [tables],
  );
  return r.rows.map((x) => ({
    table: x.t,
    cursor: BigInt(x.c),
    rows: Number(x.rows),
    error: x.error,
    see: x.see,
    runId: x.run_id,
    heldAt: x.held_at.toISOString(),
  }));
}

/** Forgets held values of a table (ClickHouse reads their rows again). */
export async function release(db: Queryable, table: string, cursors: readonly bigint[]): Promise<void> {
  if (cursors.length === 0) return;
  await db.query(`DELETE FROM offload_held_rows WHERE table_name = $1 AND cursor_micros = ANY($2::bigint[])`, [
    table,
    cursors.map((c) => c.toString()),
  ]);
}
