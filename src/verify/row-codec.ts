// The row comparison's column transport (rows.ts): one ColumnCodec per compared column. Pure.
import { quoteIdentifier } from '../clickhouse/sql.js';
import { duckdbType } from '../iceberg/schema.js';
import type { IcebergType } from '../iceberg/types.js';

/**
 * How one column travels from ClickHouse to DuckDB for the comparison, independently of the offload's
 * own extraction: ClickHouse prints `select` as TabSeparated text that needs no unescaping (strings as
 * hex, instants as epoch numbers, decimals and 64-bit integers as the format's exact digits); DuckDB turns
 * that text into the compared value with `fromText`, and the Iceberg column into the same with
 * `fromIceberg`. Values compare in the Iceberg type, except decimals wider than 18 digits (UInt64 columns
 * too), which compare as their exact text: DuckDB parses text into such decimals very slowly, and prints
 * them with every digit of their scale, as ClickHouse does. (DuckDB's JSON reader would go through doubles,
 * and ClickHouse 18.16's toString(Decimal128) is wrong beyond 2^64 — hence this route.) Null for a column
 * that cannot travel exactly (maps, tuples, nested arrays): the comparison leaves it out and says so.
 */
export interface ColumnCodec {
  name: string;
  select: string;
  /** The DuckDB type of the compared value. */
  type: string;
  fromText: (ref: string) => string;
  fromIceberg: (ref: string) => string;
}

interface ScalarCodec {
  select: string;
  type: string;
  fromText: (ref: string) => string;
  fromIceberg: (ref: string) => string;
}

function scalarCodec(expr: string, clickhouseType: string, icebergType: IcebergType): ScalarCodec | null {
  if (typeof icebergType !== 'string') return null;
  const type = duckdbType(icebergType);
  const same = (r: string) => r;
  if (icebergType === 'string')
    return { select: `hex(toString(${expr}))`, type, fromText: (r) => `decode(unhex(${r}))`, fromIceberg: same };
  if (/^DateTime64/.test(clickhouseType))
    return { select: `toUnixTimestamp64Micro(${expr})`, type, fromText: (r) => `make_timestamptz(${r}::BIGINT)`, fromIceberg: same };
  if (/^DateTime\b/.test(clickhouseType))
    return { select: `toUInt32(${expr})`, type, fromText: (r) => `make_timestamptz(${r}::BIGINT * 1000000)`, fromIceberg: same };
  if (icebergType === 'uuid' || icebergType === 'date')
    return { select: `toString(${expr})`, type, fromText: (r) => `${r}::${type}`, fromIceberg: same };
  if (icebergType === 'boolean') return { select: `toUInt8(${expr})`, type, fromText: (r) => `(${r} <> '0')`, fromIceberg: same };
  const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(icebergType);
  if (decimal && Number(decimal[1]) > 18)
    return { select: expr, type: 'VARCHAR', fromText: same, fromIceberg: (r) => `CAST(${r} AS VARCHAR)` };
  if (/^(decimal|int|long|float|double)/.test(icebergType))
    return { select: expr, type, fromText: (r) => `${r}::${type}`, fromIceberg: same };
  return null;
}

export function columnCodec(name: string, clickhouseType: string, icebergType: IcebergType): ColumnCodec | null {
  const col = quoteIdentifier(name);
  const inner = unwrap(clickhouseType);
  if (typeof icebergType === 'string') {
    const c = scalarCodec(col, inner, icebergType);
    return c && { name, ...c, select: `${c.select} AS ${col}` };
  }
  const array = /^Array\((.*)\)$/.exec(inner);
  if (icebergType.type === 'list' && array && typeof icebergType.element === 'string' && !/^Array/.test(unwrap(array[1]))) {
    const element = scalarCodec('x', unwrap(array[1]), icebergType.element);
    if (!element) return null;
    const listType = `${element.type}[]`;
    // "<length>:<e1>,<e2>…": the length tells [] from [''].
    return {
      name,
      type: listType,
      select: `concat(toString(length(${col})), ':', arrayStringConcat(arrayMap(x -> toString(${element.select}), ${col}), ',')) AS ${col}`,
      fromText: (r) =>
        `CASE WHEN split_part(${r}, ':', 1) = '0' THEN []::${listType} ELSE list_transform(string_split(split_part(${r}, ':', 2), ','), x -> ${element.fromText('x')})::${listType} END`,
      fromIceberg: (r) => (element.type === duckdbType(icebergType.element) ? r : `list_transform(${r}, x -> ${element.fromIceberg('x')})`),
    };
  }
  return null;
}

function unwrap(type: string): string {
  let t = type.trim();
  for (;;) {
    const m = /^(?:LowCardinality|Nullable)\((.*)\)$/.exec(t);
    if (!m) return t;
    t = m[1].trim();
  }
}
