// Window statistics from ClickHouse: the source's clock, the newest cursor value old enough to take, row
// counts in a window (for batch cutting: per bucket of cursor values, then per whole cursor value), rows
// per UTC day or hour (to cut a batch along partition boundaries), and rows up to a watermark (status,
// verification). Cursor values travel as integers (epoch seconds / µs / days), never as formatted dates.
import { OffloadError, SchemaError } from '../errors.js';
import { parseClickHouseType, type ClickHouseType } from '../iceberg/schema.js';
import { dateTimeLiteral, quoteIdentifier, type ClickHouseSource } from './clickhouse.js';

/** What is read and how its cursor and tie-break are typed. */
export interface WindowSource {
  /** A quoted table (`db`.`t`) or a parenthesized subquery. */
  from: string;
  isQuery: boolean;
  cursor: string;
  cursorType: CursorType;
  tieBreak: string | null;
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

/** The cursor as µs since the epoch (UInt64/Int64 arithmetic in ClickHouse). */
export function cursorMicrosSql(src: Pick<WindowSource, 'cursor' | 'cursorType'>): string {
  const c = quoteIdentifier(src.cursor);
  switch (src.cursorType.kind) {
    case 'DateTime':
      return `toInt64(toUInt32(${c})) * 1000000`;
    case 'Date':
      return `toInt64(toUInt16(${c})) * 86400000000`;
    case 'DateTime64':
      return `toUnixTimestamp64Micro(${c})`;
  }
}

/** A literal of the cursor's type for µs `us`, so comparisons run on the column itself (and use the primary key). */
export function cursorLiteral(src: Pick<WindowSource, 'cursorType'>, us: bigint): string {
  switch (src.cursorType.kind) {
    case 'DateTime': {
      // Whole seconds: a DateTime bound is the second at or below `us`; callers pass cursor values, which are whole.
      const s = floorDiv(us, 1_000_000n);
      if (s < 0n || s > 4294967295n) return s < 0n ? `toDateTime(0)` : `toDateTime(4294967295)`;
      return `toDateTime(${s})`;
    }
    case 'Date': {
      const day = floorDiv(us, 86_400_000_000n);
      return `toDate('${new Date(Number(day) * 86_400_000).toISOString().slice(0, 10)}')`;
    }
    case 'DateTime64': {
      const ms = floorDiv(us, 1000n);
      const frac = (us - floorDiv(us, 1_000_000n) * 1_000_000n).toString().padStart(6, '0');
      return dateTimeLiteral(`${new Date(Number(ms)).toISOString().slice(0, 19)}.${frac}Z`, 6);
    }
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** An integer literal for a tie-break value (decimal text, any width). */
function tieBreakLiteral(v: string): string {
  if (!/^-?\d+$/.test(v)) throw new OffloadError(`tie-break value "${v}" is not an integer`);
  return v.startsWith('-') ? `toInt64(${v})` : `toUInt64('${v}')`;
}

export interface Lower {
  cursor: bigint;
  tieBreak: string | null;
}

/**
 * The window predicate: (cursor, tieBreak) above `lower` (see plan.ts) and cursor <= `upper`.
 * `lower` null: from the first row. `upper` null: no upper bound.
 */
export function windowPredicate(src: WindowSource, lower: Lower | null, upper: bigint | null): string {
  const c = quoteIdentifier(src.cursor);
  const parts: string[] = [];
  if (lower) {
    const at = cursorLiteral(src, lower.cursor);
    if (lower.tieBreak !== null && src.tieBreak !== null) {
      parts.push(`(${c} > ${at} OR (${c} = ${at} AND ${quoteIdentifier(src.tieBreak)} > ${tieBreakLiteral(lower.tieBreak)}))`);
    } else {
      parts.push(`${c} > ${at}`);
    }
  }
  if (upper !== null) parts.push(`${c} <= ${cursorLiteral(src, upper)}`);
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
export async function readWindowStats(source: ClickHouseSource, src: WindowSource, lower: Lower | null, cutoff: bigint): Promise<{ rows: number; newest: bigint | null }> {
  const us = cursorMicrosSql(src);
  const [r] = await source.query<{ rows: string; newest: string }>(
    `SELECT toString(count()) AS rows, toString(max(${us})) AS newest FROM ${src.from} WHERE ${windowPredicate(src, lower, cutoff)}`,
    { settings: windowSettings(src) },
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
  const extra = range ? ` AND ${quoteIdentifier(src.cursor)} >= ${cursorLiteral(src, range.from)} AND ${quoteIdentifier(src.cursor)} < ${cursorLiteral(src, range.to)}` : '';
  const b = bucketMicros.toString();
  const rows = await source.query<{ b: string; n: string }>(
    `SELECT toString(intDiv(${us}, ${b}) * ${b}) AS b, toString(count()) AS n FROM ${src.from}
      WHERE ${windowPredicate(src, lower, upper)}${extra}
      GROUP BY intDiv(${us}, ${b}) ORDER BY intDiv(${us}, ${b})`,
    { settings: windowSettings(src) },
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
export function upToWatermarkPredicate(src: WindowSource, watermark: Lower | null): string {
  if (watermark === null) return '0';
  const c = quoteIdentifier(src.cursor);
  const at = cursorLiteral(src, watermark.cursor);
  if (watermark.tieBreak !== null && src.tieBreak !== null) {
    return `(${c} < ${at} OR (${c} = ${at} AND ${quoteIdentifier(src.tieBreak)} <= ${tieBreakLiteral(watermark.tieBreak)}))`;
  }
  return `${c} <= ${at}`;
}

export async function countUpToWatermark(source: ClickHouseSource, src: WindowSource, watermark: Lower | null): Promise<number> {
  if (watermark === null) return 0;
  const [r] = await source.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${src.from} WHERE ${upToWatermarkPredicate(src, watermark)}`, {
    settings: windowSettings(src),
  });
  return num(r.n);
}

export async function countAll(source: ClickHouseSource, src: WindowSource): Promise<number> {
  const [r] = await source.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${src.from}`);
  return num(r.n);
}
