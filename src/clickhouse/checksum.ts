// The ClickHouse side of the per-partition verification: one query that returns, per Iceberg partition
// of the rows it reads, the row count and the order-independent checksum of every compared column —
// computed inside ClickHouse, so no row travels. The numbers equal those DuckDB computes over the
// table's Parquet files (src/iceberg/checksum.ts, where the canonical texts, the row hash and the sum are
// defined) when the two multisets of rows are equal. Works on ClickHouse 18.16 and on current servers: it
// uses only functions both have (MD5, reinterpretAs*, replaceRegexpOne, arrayStringConcat,
// sumWithOverflow …) and never toString of a wide Decimal128, which 18.16 prints wrongly from 22 digits on.
//
// The ClickHouse type alone decides the text, because the offload maps each ClickHouse type to one
// Iceberg type (UInt64 → decimal(20, 0), Enum → string, DateTime → timestamptz, …) and each pair was
// given the same text.
import { SchemaError } from '../core/errors.js';
import { decimalOf, numArg as numberArg, unwrap } from './extract/csv.js';
import { quoteIdentifier } from './sql.js';
import { parseClickHouseType, type ClickHouseType } from './types.js';

/** A compared column: its name and its ClickHouse type as system.columns prints it. */
export interface ChecksumColumn {
  name: string;
  type: string;
}

export type ChecksumTransform = 'identity' | 'year' | 'month' | 'day' | 'hour' | 'void';

/** One field of the Iceberg partition spec, over a source column of the ClickHouse rows. */
export interface ChecksumPartitionField {
  transform: ChecksumTransform;
  column: string;
  /** The source column's ClickHouse type. */
  type: string;
}

export interface ChecksumQuery {
  /** What is read: a table name or `(SELECT …)`. */
  from: string;
  /** A condition on the rows (e.g. up to the watermark); none: every row. */
  where?: string;
  /** The compared columns, in the order the Iceberg side uses too. */
  columns: readonly ChecksumColumn[];
  /** The Iceberg partition spec's fields, in spec order; empty for an unpartitioned table. */
  partitionBy: readonly ChecksumPartitionField[];
}

const str = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Trailing fraction zeros and a bare '.' removed (18.16 prints every digit of the scale, current servers do not). */
const trimDecimal = (text: string): string =>
  `replaceRegexpOne(replaceRegexpOne(${text}, ${str('(\\.[0-9]*?)0+$')}, ${str('\\1')}), ${str('\\.$')}, '')`;

/**
 * A wide decimal as text without toString of the whole value: integer part split at 10^18 (each piece
 * prints correctly everywhere), fraction from x − trunc(x), which is below 1.
 */
function wideDecimalText(x: string): string {
  const int = `toDecimal128(${x}, 0)`;
  const high = `(${int} / 1000000000000000000)`;
  const low = `toString(abs(toInt64(${int} - ${high} * 1000000000000000000)))`;
  const intText = `if(${high} = 0, ${low}, concat(toString(abs(${high})), substring(concat('000000000000000000', ${low}), length(${low}) + 1)))`;
  const frac = `replaceRegexpOne(replaceRegexpOne(toString(${x} - ${int}), ${str('^-?[0-9]*\\.?')}, ''), '0+$', '')`;
  return `concat(if(${x} < 0, '-', ''), ${intText}, if(${frac} = '', '', concat('.', ${frac})))`;
}

/** Microseconds since the epoch of a DateTime64(p) value, floored (as the offload stores sub-µs values). */
function micros64(x: string, precision: number): string {
  if (precision <= 6) return `toUnixTimestamp64Micro(${x})`;
  const ns = `toUnixTimestamp64Nano(${x})`;
  return `intDiv(${ns} - ((${ns} % 1000) + 1000) % 1000, 1000)`;
}

/** The canonical text of a non-NULL value of `t` (NULLs give NULL; the caller maps them to 'N'). */
function valueText(t: ClickHouseType, x: string, depth: number): string {
  const dec = decimalOf(t);
  if (dec) {
    if (dec.precision > 38) throw new SchemaError(`${t.name}(${dec.precision}) has no Iceberg equivalent`);
    return dec.precision > 18 ? wideDecimalText(x) : trimDecimal(`toString(${x})`);
  }
  switch (t.name) {
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Int64':
    case 'UInt8':
    case 'UInt16':
    case 'UInt32':
    case 'UInt64':
      return `toString(${x})`;
    case 'Float32':
      return `if(isNaN(${x}), 'nan', toString(reinterpretAsUInt32(reinterpretAsString(${x}))))`;
    case 'Float64':
      return `if(isNaN(${x}), 'nan', toString(reinterpretAsUInt64(reinterpretAsString(${x}))))`;
    case 'Bool':
      return `toString(toUInt8(${x}))`;
    case 'Date':
      return `toString(toUInt16(${x}))`;
    case 'Date32':
      return `toString(toInt32(${x}))`;
    case 'DateTime':
      return `toString(toInt64(toUInt32(${x})) * 1000000)`;
    case 'DateTime64':
      return `toString(${micros64(x, numberArg(t, 0))})`;
    case 'String':
    case 'FixedString':
      return `concat(toString(length(${x})), ':', ${x})`;
    case 'Enum8':
    case 'Enum16':
      return `concat(toString(length(toString(${x}))), ':', toString(${x}))`;
    case 'UUID':
      return `toString(${x})`;
    case 'Array': {
      const element = t.args[0];
      if (element?.kind !== 'type') throw new SchemaError('Array without an element type');
      const v = `__v${depth}`;
      return `concat('[', arrayStringConcat(arrayMap(${v} -> ${canonicalText(element.type, v, depth + 1)}, ${x}), ','), ']')`;
    }
    case 'Map': {
      const [k, val] = t.args;
      if (k?.kind !== 'type' || val?.kind !== 'type') throw new SchemaError('Map without key and value types');
      const kv = `__k${depth}`;
      const vv = `__v${depth}`;
      const entry = `concat(${canonicalText(k.type, kv, depth + 1)}, ':', ${canonicalText(val.type, vv, depth + 1)})`;
      return `concat('{', arrayStringConcat(arraySort(arrayMap((${kv}, ${vv}) -> ${entry}, mapKeys(${x}), mapValues(${x}))), ','), '}')`;
    }
    case 'Tuple': {
      const parts = t.args.map((a, i) => {
        if (a.kind !== 'type' && a.kind !== 'named') throw new SchemaError('Tuple elements must be types');
        return canonicalText(a.type, `tupleElement(${x}, ${i + 1})`, depth + 1);
      });
      return `concat('(', ${parts.join(`, ',', `)}, ')')`;
    }
  }
  throw new SchemaError(`the ${t.name} type has no checksum text (it is not one the offload maps to Iceberg)`);
}

function canonicalText(t: ClickHouseType, x: string, depth: number): string {
  const { inner, nullable } = unwrap(t);
  const text = valueText(inner, x, depth);
  return nullable ? `ifNull(${text}, 'N')` : text;
}

function parse(type: string, what: string): ClickHouseType {
  try {
    return parseClickHouseType(type);
  } catch (err) {
    throw new SchemaError(`${what}: type ${type} cannot be parsed (${(err as Error).message})`);
  }
}

/** The canonical text of column `name` of ClickHouse type `type`, never NULL. */
export function canonicalTextSql(name: string, type: string): string {
  return canonicalText(parse(type, `column "${name}"`), quoteIdentifier(name), 0);
}

/** The row text of the compared columns, joined by ','. */
export function rowTextSql(columns: readonly ChecksumColumn[]): string {
  if (columns.length === 0) throw new SchemaError('a checksum needs at least one column');
  const parts = columns.map((c) => canonicalTextSql(c.name, c.type));
  return parts.length === 1 ? parts[0] : `concat(${parts.join(`, ',', `)})`;
}

/** The first 8 bytes of MD5(row text) as a big-endian UInt64. */
export function rowHashSql(rowText: string): string {
  return `reinterpretAsUInt64(reverse(substring(MD5(${rowText}), 1, 8)))`;
}

/** The Iceberg partition value of a field, as text (see partitionValueText in src/iceberg/checksum.ts); NULL for a NULL value. */
export function partitionValueSql(field: ChecksumPartitionField): string {
  const { inner: type, nullable } = unwrap(parse(field.type, `partition source "${field.column}"`));
  const x = quoteIdentifier(field.column);
  const us =
    type.name === 'DateTime64' ? micros64(x, numberArg(type, 0)) : type.name === 'DateTime' ? `toInt64(toUInt32(${x})) * 1000000` : null;
  const days = type.name === 'Date' ? `toInt64(toUInt16(${x}))` : type.name === 'Date32' ? `toInt64(toInt32(${x}))` : null;
  const floorDiv = (n: string, d: string) => `intDiv(${n} - ((${n} % ${d}) + ${d}) % ${d}, ${d})`;
  const utc = (f: string) => (type.name === 'DateTime' || type.name === 'DateTime64' ? `${f}(${x}, 'UTC')` : `${f}(${x})`);
  let text: string;
  switch (field.transform) {
    case 'void':
      return 'CAST(NULL AS Nullable(String))';
    case 'identity':
      if (us) text = `toString(${us})`;
      else if (days) text = `toString(${days})`;
      else if (type.name === 'String' || type.name === 'FixedString' || type.name === 'Enum8' || type.name === 'Enum16')
        text = `toString(${x})`;
      else text = valueText(type, x, 0);
      break;
    case 'day':
      if (days) text = `toString(${days})`;
      else if (us) text = `toString(${floorDiv(us, '86400000000')})`;
      else throw new SchemaError(`day() of ${field.column} (${field.type}): not a date or time`);
      break;
    case 'hour':
      if (!us) throw new SchemaError(`hour() of ${field.column} (${field.type}): not a time`);
      text = `toString(${floorDiv(us, '3600000000')})`;
      break;
    case 'month':
      if (!us && !days) throw new SchemaError(`month() of ${field.column} (${field.type}): not a date or time`);
      text = `toString((toInt32(${utc('toYear')}) - 1970) * 12 + toInt32(${utc('toMonth')}) - 1)`;
      break;
    case 'year':
      if (!us && !days) throw new SchemaError(`year() of ${field.column} (${field.type}): not a date or time`);
      text = `toString(toInt32(${utc('toYear')}) - 1970)`;
      break;
  }
  return nullable ? `if(isNull(${x}), NULL, ${text})` : text;
}

/**
 * The rows of one partition: every field's value text (partitionValueSql) equal to the partition's, as the
 * key's texts give them (null: the value is NULL). TRUE for an unpartitioned table.
 */
export function partitionPredicateSql(partitionBy: readonly ChecksumPartitionField[], texts: ReadonlyArray<string | null>): string {
  if (texts.length !== partitionBy.length)
    throw new SchemaError(`a partition of ${partitionBy.length} field(s) was given ${texts.length} value(s)`);
  const parts = partitionBy.map((f, i) => {
    const value = partitionValueSql(f);
    const text = texts[i];
    return text === null ? `isNull(${value})` : `${value} = ${str(text)}`;
  });
  return parts.length === 0 ? '1' : parts.map((p) => `(${p})`).join(' AND ');
}

/**
 * One row per partition: `p0`…`pN` (the partition values as text, NULL for null), `rows` and `checksum`
 * (UInt64 as text: the sum of row hashes modulo 2^64, which sumWithOverflow gives). No FORMAT clause.
 */
export function partitionChecksumSql(q: ChecksumQuery): string {
  const keys = q.partitionBy.map((f, i) => `${partitionValueSql(f)} AS p${i}`);
  const select = [...keys, 'toString(count()) AS rows', `toString(sumWithOverflow(${rowHashSql(rowTextSql(q.columns))})) AS checksum`];
  return (
    `SELECT ${select.join(', ')} FROM ${q.from}` +
    (q.where ? ` WHERE ${q.where}` : '') +
    (keys.length > 0 ? ` GROUP BY ${q.partitionBy.map((_, i) => `p${i}`).join(', ')}` : '')
  );
}

/** A result row of partitionChecksumSql. */
export interface ClickHouseChecksum {
  /** JSON array of the partition texts: the key the Iceberg side's partitionTextKey gives the same partition. */
  key: string;
  rows: bigint;
  checksum: bigint;
}

/** Reads a result row (JSON: texts and nulls) of partitionChecksumSql with `partitionCount` partition fields. */
export function parseChecksumRow(row: Record<string, unknown>, partitionCount: number): ClickHouseChecksum {
  const texts = Array.from({ length: partitionCount }, (_, i) =>
    row[`p${i}`] === null || row[`p${i}`] === undefined ? null : String(row[`p${i}`]),
  );
  return { key: JSON.stringify(texts), rows: BigInt(String(row.rows)), checksum: BigInt(String(row.checksum)) };
}
