// Window statistics from ClickHouse: the source's clock, the newest cursor value old enough to take, row
// counts in a window (for batch cutting: per bucket of cursor values, then per whole cursor value), rows
// per UTC day or hour (to cut a batch along partition boundaries), and rows up to a watermark (status,
// verification). Cursor values travel as integers (epoch seconds / µs / days), never as formatted dates.
// Bounds go into the SQL as query parameters on servers that have them, as typed literals on 18.16
// (SqlValues); every predicate builder takes the statement's values, literals by default.
import { OffloadError, SchemaError } from '../core/errors.js';
import { parseClickHouseType, type ClickHouseType } from './types.js';
import type { ClickHouseSource } from './client.js';
import { literalValues, quoteIdentifier, type SqlValues } from './sql.js';

/** What is read and how its cursor and tie-break are typed. */
export interface WindowSource {
  /** A quoted table (`db`.`t`) or a parenthesized subquery. */
  from: string;
  isQuery: boolean;
  cursor: string;
  cursorType: CursorType;
  tieBreak: string | null;
  /**
   * Cursor values left out of every window: rows the source refuses to read, held back so the rest of the
   * table goes on (pipeline/held-rows.ts). Absent: none.
   */
  held?: readonly bigint[];
}

export type CursorType = { kind: 'DateTime' } | { kind: 'DateTime64'; precision: number } | { kind: 'Date' };

const INTEGER_TYPES = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64']);

function strip(t: ClickHouseType): ClickHouseType {
  while ((t.name === 'Nullable' || t.name === 'LowCardinality') && t.args[0]?.kind === 'type') t = t.args[0].type;
  return t;
}

/** The cursor's kind from its ClickHouse type; a clear error for anything but a date/time. */
export function cursorTypeOf(typeText: string, where: string): CursorType {
  const t = strip(parseClickHouseType(typeText));
  if (t.name === 'DateTime') return { kind: 'DateTime' };
  if (t.name === 'DateTime64') {
    const p = t.args[0];
    return { kind: 'DateTime64', precision: p && p.kind === 'number' ? p.value : 3 };
  }
  if (t.name === 'Date' || t.name === 'Date32') return { kind: 'Date' };
  throw new SchemaError(`${where}: the cursor must be a Date, DateTime or DateTime64 column (it is ${typeText})`);
}

/** The tie-break must be an integer column: its value is kept exactly in the watermark. */
export function checkTieBreakType(typeText: string, where: string): void {
  const t = strip(parseClickHouseType(typeText));
  if (!INTEGER_TYPES.has(t.name)) throw new SchemaError(`${where}: the tie-break must be an integer column (it is ${typeText})`);
}

/** Whether the cursor is finer than the watermark's µs (DateTime64(7..9)): its values are then floored to µs. */
function isFinerThanMicros(src: Pick<WindowSource, 'cursorType'>): boolean {
  return src.cursorType.kind === 'DateTime64' && src.cursorType.precision > 6;
}

/** The cursor as µs since the epoch (UInt64/Int64 arithmetic in ClickHouse); DateTime64(7..9) floored to µs. */
export function cursorMicrosSql(src: Pick<WindowSource, 'cursor' | 'cursorType'>): string {
  const c = quoteIdentifier(src.cursor);
  switch (src.cursorType.kind) {
    case 'DateTime':
      return `toInt64(toUInt32(${c})) * 1000000`;
    case 'Date':
      return `toInt64(toUInt16(${c})) * 86400000000`;
    case 'DateTime64':
      if (isFinerThanMicros(src)) return `intDiv(toUnixTimestamp64Nano(${c}) - ((toUnixTimestamp64Nano(${c}) % 1000) + 1000) % 1000, 1000)`;
      return `toUnixTimestamp64Micro(${c})`;
  }
}

/** A value of the cursor's type for µs `us`, so comparisons run on the column itself (and use the primary key). */
export function cursorLiteral(src: Pick<WindowSource, 'cursorType'>, us: bigint, values: SqlValues = literalValues()): string {
  switch (src.cursorType.kind) {
    case 'DateTime':
      // Whole seconds: a DateTime bound is the second at or below `us`; callers pass cursor values, which are whole.
      return values.dateTime(floorDiv(us, 1_000_000n));
    case 'Date':
      return values.date(floorDiv(us, 86_400_000_000n));
    case 'DateTime64':
      return values.dateTime64(us);
  }
}

export type CursorComparison = '>' | '>=' | '<' | '<=' | '=';

/**
 * `cursor <op> us`, in µs as the watermark holds it. A DateTime64(7..9) cursor is compared as if floored
 * to µs (the Iceberg value): `> X` is `>= X+1µs`, `<= X` is `< X+1µs`, `= X` is `[X, X+1µs)`, so rows
 * sharing a µs are never split between runs nor taken twice.
 */
export function cursorCondition(
  src: Pick<WindowSource, 'cursor' | 'cursorType'>,
  op: CursorComparison,
  us: bigint,
  values: SqlValues = literalValues(),
): string {
  const c = quoteIdentifier(src.cursor);
  if (!isFinerThanMicros(src)) return `${c} ${op} ${cursorLiteral(src, us, values)}`;
  switch (op) {
    case '>':
      return `${c} >= ${cursorLiteral(src, us + 1n, values)}`;
    case '<=':
      return `${c} < ${cursorLiteral(src, us + 1n, values)}`;
    case '=':
      return `(${c} >= ${cursorLiteral(src, us, values)} AND ${c} < ${cursorLiteral(src, us + 1n, values)})`;
    default:
      return `${c} ${op} ${cursorLiteral(src, us, values)}`;
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** An integer value for a tie-break value (decimal text, any width). */
function tieBreakLiteral(v: string, values: SqlValues): string {
  if (!/^-?\d+$/.test(v)) throw new OffloadError(`tie-break value "${v}" is not an integer`);
  return values.integer(v);
}

export interface Lower {
  cursor: bigint;
  tieBreak: string | null;
}

/**
 * The window predicate: (cursor, tieBreak) above `lower` (see pipeline/plan.ts) and cursor <= `upper`.
 * `lower` null: from the first row. `upper` null: no upper bound.
 */
export function windowPredicate(src: WindowSource, lower: Lower | null, upper: bigint | null, values: SqlValues = literalValues()): string {
  const parts: string[] = [];
  if (lower) {
    const after = cursorCondition(src, '>', lower.cursor, values);
    if (lower.tieBreak !== null && src.tieBreak !== null) {
      const at = cursorCondition(src, '=', lower.cursor, values);
      parts.push(`(${after} OR (${at} AND ${quoteIdentifier(src.tieBreak)} > ${tieBreakLiteral(lower.tieBreak, values)}))`);
    } else {
      parts.push(after);
    }
  }
  if (upper !== null) parts.push(cursorCondition(src, '<=', upper, values));
  for (const v of src.held ?? []) {
    if ((lower === null || v >= lower.cursor) && (upper === null || v <= upper)) parts.push(`NOT ${cursorCondition(src, '=', v, values)}`);
  }
  return parts.length ? parts.join(' AND ') : '1';
}

/** Predicates on a query's output are pushed into it (18.16 leaves this off by default); exact on group keys. */
export function windowSettings(src: WindowSource): Record<string, number> | undefined {
  return src.isQuery ? { enable_optimize_predicate_expression: 1 } : undefined;
}

function num(v: unknown): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new OffloadError(`ClickHouse returned "${String(v)}" where a number was expected`);
  return n;
}

/** The source's clock, in µs (whole seconds: ClickHouse now()). */
export async function sourceNow(source: ClickHouseSource): Promise<bigint> {
  const [r] = await source.query<{ s: string }>(`SELECT toString(toUInt32(now())) AS s`);
  return BigInt(r.s) * 1_000_000n;
}

/** Rows in the window (lower, cutoff] and the newest cursor value among them. */
export async function readWindowStats(
  source: ClickHouseSource,
  src: WindowSource,
  lower: Lower | null,
  cutoff: bigint,
): Promise<{ rows: number; newest: bigint | null }> {
  const us = cursorMicrosSql(src);
  const v = await source.values();
  const [r] = await source.query<{ rows: string; newest: string }>(
    `SELECT toString(count()) AS rows, toString(max(${us})) AS newest FROM ${src.from} WHERE ${windowPredicate(src, lower, cutoff, v)}`,
    { settings: windowSettings(src), params: v.params },
  );
  const rows = num(r.rows);
  return { rows, newest: rows > 0 ? BigInt(r.newest) : null };
}

/** Rows per bucket of `bucketMicros` (bucket = floor(cursor / size) * size) in (lower, upper] ∩ [from, to). Ascending. */
export async function readBucketCounts(
  source: ClickHouseSource,
  src: WindowSource,
  lower: Lower | null,
  upper: bigint,
  bucketMicros: bigint,
  range?: { from: bigint; to: bigint },
): Promise<Array<{ cursor: bigint; rows: number }>> {
  const us = cursorMicrosSql(src);
  const v = await source.values();
  const where = windowPredicate(src, lower, upper, v);
  const extra = range ? ` AND ${cursorCondition(src, '>=', range.from, v)} AND ${cursorCondition(src, '<', range.to, v)}` : '';
  const b = bucketMicros.toString();
  const rows = await source.query<{ b: string; n: string }>(
    `SELECT toString(intDiv(${us}, ${b}) * ${b}) AS b, toString(count()) AS n FROM ${src.from}
      WHERE ${where}${extra}
      GROUP BY intDiv(${us}, ${b}) ORDER BY intDiv(${us}, ${b})`,
    { settings: windowSettings(src), params: v.params },
  );
  return rows.map((r) => ({ cursor: BigInt(r.b), rows: num(r.n) }));
}

/** Rows per whole cursor value in (lower, upper] ∩ [from, to). Ascending. */
export function readCursorCounts(
  source: ClickHouseSource,
  src: WindowSource,
  lower: Lower | null,
  upper: bigint,
  range: { from: bigint; to: bigint },
): Promise<Array<{ cursor: bigint; rows: number }>> {
  return readBucketCounts(source, src, lower, upper, 1n, range);
}

/** Rows at or below a watermark (cursor, tieBreak) — what Iceberg should hold once that watermark is committed. */
export function upToWatermarkPredicate(src: WindowSource, watermark: Lower | null, values: SqlValues = literalValues()): string {
  if (watermark === null) return '0';
  if (watermark.tieBreak !== null && src.tieBreak !== null) {
    const before = cursorCondition(src, '<', watermark.cursor, values);
    const at = cursorCondition(src, '=', watermark.cursor, values);
    return `(${before} OR (${at} AND ${quoteIdentifier(src.tieBreak)} <= ${tieBreakLiteral(watermark.tieBreak, values)}))`;
  }
  return cursorCondition(src, '<=', watermark.cursor, values);
}

export async function countUpToWatermark(source: ClickHouseSource, src: WindowSource, watermark: Lower | null): Promise<number> {
  if (watermark === null) return 0;
  const v = await source.values();
  const [r] = await source.query<{ n: string }>(
    `SELECT toString(count()) AS n FROM ${src.from} WHERE ${upToWatermarkPredicate(src, watermark, v)}`,
    {
      settings: windowSettings(src),
      params: v.params,
    },
  );
  return num(r.n);
}

export async function countAll(source: ClickHouseSource, src: WindowSource): Promise<number> {
  const [r] = await source.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${src.from}`);
  return num(r.n);
}

/** Per cursor value of (lower, upper]: its rows and a fingerprint of their values (see readWindowFingerprints). */
export interface CursorFingerprint {
  cursor: bigint;
  rows: number;
  /** sum of cityHash64 over each row's values as text, modulo 2^64, as decimal text. */
  fingerprint: string;
}

/**
 * Rows and a fingerprint of `columns` per cursor value in (lower, upper]: a value that changes in any row
 * (a candle whose low moved) changes its window's fingerprint; the order of rows does not matter.
 */
export async function readWindowFingerprints(
  source: ClickHouseSource,
  src: WindowSource,
  columns: readonly string[],
  lower: Lower | null,
  upper: bigint,
): Promise<CursorFingerprint[]> {
  const us = cursorMicrosSql(src);
  const v = await source.values();
  const values = columns.map((c) => `ifNull(toString(${quoteIdentifier(c)}), '\\\\N')`).join(', ');
  const rows = await source.query<{ c: string; n: string; f: string }>(
    `SELECT toString(${us}) AS c, toString(count()) AS n, toString(sum(cityHash64(${values}))) AS f
       FROM ${src.from} WHERE ${windowPredicate(src, lower, upper, v)}
      GROUP BY ${us} ORDER BY ${us}`,
    { settings: windowSettings(src), params: v.params },
  );
  return rows.map((r) => ({ cursor: BigInt(r.c), rows: num(r.n), fingerprint: r.f }));
}
