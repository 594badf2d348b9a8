// Extraction on current servers: ClickHouse writes a window's rows as Parquet straight to a local file (the
// HTTP body piped to disk, never held in memory), then DuckDB reads it with read_parquet — typed columnar
// data end to end, no text to print or parse (measured against the CSV path: docs/clickhouse-versions.md).
//
// What ClickHouse's Parquet output carries natively and what is converted in the SELECT (checked on the
// 26.9 engine; every conversion makes the file independent of the server version's Parquet defaults):
// - String, LowCardinality(String), Nullable: native (strings pinned to the Parquet STRING annotation by
//   output_format_parquet_string_as_string; nulls are Parquet nulls, an empty string stays empty).
// - Integers, floats, Decimal(P,S) up to Decimal128, Bool: native; DuckDB casts to the Iceberg type
//   (UInt64 → DECIMAL(20,0), UInt32 → BIGINT, …), exact.
// - Enum8/16 → toString (its name; the native output is the name as bytes or the number, by version),
//   FixedString → hex (every byte, trailing NULs included; toString drops them), UUID → toString (the native 16 bytes
//   differ by version), cast to UUID in DuckDB.
// - DateTime64(P) → µs since the epoch as Int64 (floored for P > 6: Iceberg keeps µs), DateTime → seconds,
//   Date/Date32 → days; DuckDB makes TIMESTAMPTZ / DATE from the integers. The Parquet time units (ms, µs,
//   ns) and the DateTime/Date encodings differ by version and setting; integers do not.
// - Array, Map, Tuple: native nesting; elements that need one of the conversions above get it through
//   arrayMap / mapApply / tuple in ClickHouse and list_transform / map_from_entries / a struct in DuckDB.
// A body cut short, or one ending in an exception the server appended, is not a Parquet file: it must
// begin and end with the magic `PAR1` and its footer must fit (checked before DuckDB reads it).
import type { ClickHouseSettings } from '@clickhouse/client';
import { SchemaError } from '../../core/errors.js';
import { parseColumnType, type ClickHouseType } from '../types.js';
import type { ClickHouseSource } from '../client.js';
import { quoteIdentifier } from '../sql.js';
import { incompleteBodyError, readEnds, streamToFile, type ExtractedFile, type ExtractToFileOptions } from './http-to-file.js';

/** How one column travels through Parquet. */
export interface ParquetColumn {
  name: string;
  /** The ClickHouse SELECT expression (over the quoted column). */
  select: string;
  /** The DuckDB expression over the Parquet column `ref`, producing the value in its Iceberg DuckDB type. */
  convert: (ref: string) => string;
}

/** Settings the extraction query pins, whatever the server's defaults. */
export const PARQUET_OUTPUT_SETTINGS: ClickHouseSettings = {
  output_format_parquet_string_as_string: 1,
  // Loopback or LAN to a local file that DuckDB reads once: lz4 costs the server little and halves the bytes.
  output_format_parquet_compression_method: 'lz4',
  // Row groups of DuckDB's own default size, so DuckDB reads one file with all its threads.
  output_format_parquet_row_group_size: '122880',
};

function duckString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function duckIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** One level of conversion: ClickHouse side and DuckDB side; null = the value travels as it is. */
interface Leg {
  ch: ((x: string) => string) | null;
  duck: ((v: string) => string) | null;
}

const NATIVE = new Set([
  'String',
  'Int8',
  'Int16',
  'Int32',
  'Int64',
  'UInt8',
  'UInt16',
  'UInt32',
  'UInt64',
  'Float32',
  'Float64',
  'Bool',
  'Decimal',
  'Decimal32',
  'Decimal64',
  'Decimal128',
]);

let depth = 0;

function typeArg(t: ClickHouseType, i: number, where: string): ClickHouseType {
  const a = t.args[i];
  if (!a || (a.kind !== 'type' && a.kind !== 'named')) throw new SchemaError(`${where}: ${t.name} expects a type as argument ${i + 1}`);
  return a.type;
}

function legOf(t: ClickHouseType, where: string): Leg {
  switch (t.name) {
    case 'Nullable':
    case 'LowCardinality':
      // NULL passes through every conversion below (ClickHouse functions and DuckDB's alike).
      return legOf(typeArg(t, 0, where), where);
    case 'FixedString':
      // Every byte, trailing NULs included (toString drops them on current servers).
      return { ch: (x) => `hex(${x})`, duck: (v) => `decode(unhex(${v}))` };
    case 'Enum8':
    case 'Enum16':
    case 'UUID':
      return { ch: (x) => `toString(${x})`, duck: null };
    case 'Date':
    case 'Date32':
      return { ch: (x) => `toInt32(${x})`, duck: (v) => `CAST(DATE '1970-01-01' + ${v} AS DATE)` };
    case 'DateTime':
      return { ch: (x) => `toInt64(toUInt32(${x}))`, duck: (v) => `make_timestamptz(${v} * 1000000)` };
    case 'DateTime64': {
      const p = t.args[0];
      const precision = p && p.kind === 'number' ? p.value : 3;
      const ch =
        precision <= 6
          ? (x: string) => `toUnixTimestamp64Micro(${x})`
          : (x: string) => `intDiv(toUnixTimestamp64Nano(${x}) - ((toUnixTimestamp64Nano(${x}) % 1000) + 1000) % 1000, 1000)`;
      return { ch, duck: (v) => `make_timestamptz(${v})` };
    }
    case 'Array': {
      const element = legOf(typeArg(t, 0, where), where);
      const n = depth++;
      return {
        ch: element.ch ? (x) => `arrayMap(__e${n} -> ${element.ch!(`__e${n}`)}, ${x})` : null,
        duck: element.duck ? (v) => `list_transform(${v}, lambda __l${n}: ${element.duck!(`__l${n}`)})` : null,
      };
    }
    case 'Map': {
      const key = legOf(typeArg(t, 0, where), where);
      const value = legOf(typeArg(t, 1, where), where);
      const n = depth++;
      const id = (x: string) => x;
      return {
        ch:
          key.ch || value.ch
            ? (x) => `mapApply((__k${n}, __v${n}) -> (${(key.ch ?? id)(`__k${n}`)}, ${(value.ch ?? id)(`__v${n}`)}), ${x})`
            : null,
        duck:
          key.duck || value.duck
            ? (v) =>
                `map_from_entries(list_transform(map_entries(${v}), lambda __m${n}: {'key': ${(key.duck ?? id)(`__m${n}.key`)}, 'value': ${(value.duck ?? id)(`__m${n}.value`)}}))`
            : null,
      };
    }
    case 'Tuple': {
      // Elements by position on both sides: the Parquet struct's field names vary with how the tuple was made.
      const elements = t.args.map((a, i) => ({ leg: legOf(typeArg(t, i, where), where), name: a.kind === 'named' ? a.name : `_${i + 1}` }));
      const id = (x: string) => x;
      const anyCh = elements.some((e) => e.leg.ch);
      return {
        ch: anyCh ? (x) => `tuple(${elements.map((e, i) => (e.leg.ch ?? id)(`tupleElement(${x}, ${i + 1})`)).join(', ')})` : null,
        duck: (v) =>
          `CASE WHEN ${v} IS NULL THEN NULL ELSE {${elements.map((e, i) => `${duckString(e.name)}: ${(e.leg.duck ?? id)(`struct_extract_at(${v}, ${i + 1})`)}`).join(', ')}} END`,
      };
    }
  }
  if (NATIVE.has(t.name)) return { ch: null, duck: null };
  throw new SchemaError(`${where}: the ${t.name} type cannot be extracted as Parquet exactly`);
}

/**
 * How a top-level column of ClickHouse type `typeText` travels through Parquet, its values ending in the
 * DuckDB type `target` (its Iceberg field's, which the caller has from the type mapping).
 */
export function parquetColumn(name: string, typeText: string, target: string, table = ''): ParquetColumn {
  const { type: parsed, where } = parseColumnType(name, typeText, table);
  const col = quoteIdentifier(name);
  const leg = legOf(parsed, where);
  return {
    name,
    select: leg.ch ? leg.ch(col) : col,
    convert: (ref) => `CAST(${leg.duck ? leg.duck(ref) : ref} AS ${target})`,
  };
}

/** The extraction query (without FORMAT): columns as c0 … cN, in order. */
export function parquetExtractionQuery(columns: ParquetColumn[], from: string, where: string): string {
  return `SELECT ${columns.map((c, i) => `${c.select} AS c${i}`).join(', ')} FROM ${from} WHERE ${where}`;
}

/** The DuckDB SELECT producing the table's columns, by name, in their Iceberg DuckDB types. */
export function parquetRelationSql(files: string[], columns: ParquetColumn[]): string {
  const exprs = columns.map((c, i) => `${c.convert(`c${i}`)} AS ${duckIdentifier(c.name)}`);
  return `SELECT ${exprs.join(', ')} FROM read_parquet([${files.map(duckString).join(', ')}], binary_as_string = true, hive_partitioning = false)`;
}

/** Runs `sql` with FORMAT Parquet and pipes the body into `path`. Throws when the body is not one whole Parquet file. */
export async function extractParquetToFile(
  source: ClickHouseSource,
  sql: string,
  path: string,
  options: ExtractToFileOptions = {},
): Promise<ExtractedFile> {
  const bytes = await streamToFile(source, `${sql} FORMAT Parquet`, path, {
    ...options,
    settings: { ...PARQUET_OUTPUT_SETTINGS, ...options.settings },
  });
  await checkWholeParquet(path, bytes);
  return { path, bytes };
}

const MAGIC = 'PAR1';

/** `PAR1` … footer … footer length … `PAR1`; anything else is a cut or an exception the server appended. */
export async function checkWholeParquet(path: string, bytes: number): Promise<void> {
  const { size, head, tail } = await readEnds(path, bytes, 4);
  const footerLength = size >= 12 ? tail.readUInt32LE(tail.length - 8) : -1;
  if (
    head.toString('latin1') === MAGIC &&
    tail.subarray(tail.length - 4).toString('latin1') === MAGIC &&
    footerLength > 0 &&
    footerLength <= size - 12
  )
    return;
  throw incompleteBodyError(tail, `the rows from ClickHouse are not a whole Parquet file (${size} bytes received)`);
}
