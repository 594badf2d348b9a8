// Partition transforms (identity, year, month, day, hour, void): result types, values, the spec
// built from config strings like "day(exchange_timestamp)", the partition struct of manifests,
// Hive-style paths, and the DuckDB expression that computes each partition value from a column.
import { ConfigError, SchemaError } from '../core/errors.js';
import { decimalToUnscaled, fromBytes, parseDecimalType, unscaledToDecimal } from './conversions.js';
import { findField, formatIcebergType } from './schema.js';
import type {
  DataFile,
  IcebergType,
  NestedField,
  PartitionField,
  PartitionSpec,
  PrimitiveType,
  Schema,
  StructType,
  Transform,
} from './types.js';

/** A partition value: int-like results and dates as number (days), timestamps as bigint µs, decimals/uuids as text. */
export type PartitionValue = DataFile['partition'][string];

export const SUPPORTED_TRANSFORMS = ['identity', 'year', 'month', 'day', 'hour', 'void'] as const;
export type SupportedTransform = (typeof SUPPORTED_TRANSFORMS)[number];

/** First partition field id, as Iceberg assigns them. */
export const PARTITION_DATA_ID_START = 1000;

const US_PER_HOUR = 3_600_000_000n;
const US_PER_DAY = 86_400_000_000n;
const MS_PER_DAY = 86_400_000;

function isTimestamp(t: IcebergType): boolean {
  return t === 'timestamp' || t === 'timestamptz';
}

/** Whether `transform` may be applied to a source column of type `source` (spec "Partition Transforms"). */
export function canTransform(transform: Transform, source: IcebergType): boolean {
  if (typeof source !== 'string') return false; // sources must be primitive
  switch (transform) {
    case 'identity':
      // Byte-string partition values have no place in DataFile.partition; ClickHouse gives us none.
      return source !== 'binary' && !source.startsWith('fixed');
    case 'void':
      return true;
    case 'year':
    case 'month':
    case 'day':
      return source === 'date' || isTimestamp(source);
    case 'hour':
      return isTimestamp(source);
    default:
      return false;
  }
}

/** The type of the partition value: int for year/month/hour, date for day, the source type for identity/void. */
export function transformResultType(transform: Transform, source: PrimitiveType): PrimitiveType {
  switch (transform) {
    case 'identity':
    case 'void':
      return source;
    case 'year':
    case 'month':
    case 'hour':
      return 'int';
    case 'day':
      return 'date';
    default:
      throw new SchemaError(`partition transform ${transform} is not supported (supported: ${SUPPORTED_TRANSFORMS.join(', ')})`);
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function toMicros(value: PartitionValue): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new SchemaError(`timestamp partition sources are microseconds since the epoch (bigint), got ${String(value)}`);
}

function toDays(value: PartitionValue): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  throw new SchemaError(`date partition sources are days since 1970-01-01, got ${String(value)}`);
}

/** Calendar fields (UTC) of a day number. */
function civil(days: number): { year: number; month: number; day: number } {
  const d = new Date(days * MS_PER_DAY);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** Applies a transform to a source value (timestamps: bigint µs since epoch; dates: days). null stays null. */
export function applyTransform(transform: Transform, source: PrimitiveType, value: PartitionValue): PartitionValue {
  if (value === null || transform === 'void') return null;
  if (transform === 'identity') return value;
  if (!canTransform(transform, source)) throw new SchemaError(`cannot apply ${transform} to a ${source} value`);
  const days = isTimestamp(source) ? Number(floorDiv(toMicros(value), US_PER_DAY)) : toDays(value);
  switch (transform) {
    case 'hour':
      return Number(floorDiv(toMicros(value), US_PER_HOUR));
    case 'day':
      return days;
    case 'month': {
      const c = civil(days);
      return (c.year - 1970) * 12 + (c.month - 1);
    }
    case 'year':
      return civil(days).year - 1970;
  }
  throw new SchemaError(`partition transform ${transform} is not supported`);
}

// ---------------------------------------------------------------------------------------------
// Specs from configuration.

function parseExpression(text: string): { transform: string; column: string } {
  const call = /^\s*([A-Za-z_][A-Za-z0-9_]*(?:\[\s*\d+\s*\])?)\s*\(\s*(.*?)\s*\)\s*$/.exec(text);
  if (call) return { transform: call[1].toLowerCase(), column: call[2] };
  return { transform: 'identity', column: text.trim() };
}

// Spark's plural spellings are accepted too: `days(ts)` is `day(ts)`.
const TRANSFORM_ALIASES: Record<string, SupportedTransform> = {
  identity: 'identity',
  year: 'year',
  years: 'year',
  month: 'month',
  months: 'month',
  day: 'day',
  days: 'day',
  date: 'day',
  hour: 'hour',
  hours: 'hour',
  void: 'void',
};

/** The partition field name Iceberg gives a transform of a column: `ts_day`, `exchange`, `ts_null`. */
export function partitionFieldName(transform: SupportedTransform, sourceName: string): string {
  if (transform === 'identity') return sourceName;
  return `${sourceName}_${transform === 'void' ? 'null' : transform}`;
}

/**
 * Builds a partition spec from config strings: `day(col)`, `month(col)`, `year(col)`, `hour(col)`,
 * `identity(col)` or just `col`, `void(col)`. Field ids start above `lastPartitionId` (999 for a new
 * table, so the first is 1000). Errors are ConfigErrors that name the expression and what is allowed.
 */
export function partitionSpecFromConfig(
  schema: Schema,
  expressions: string[],
  opts: { specId?: number; lastPartitionId?: number; where?: string } = {},
): PartitionSpec {
  const where = opts.where ? `${opts.where}: ` : '';
  let nextId = (opts.lastPartitionId ?? PARTITION_DATA_ID_START - 1) + 1;
  const fields: PartitionField[] = [];
  const columns = schema.fields.map((f) => f.name);
  for (const text of expressions) {
    const { transform: spelled, column } = parseExpression(text);
    const transform = TRANSFORM_ALIASES[spelled];
    if (!transform)
      throw new ConfigError(
        `${where}partition "${text}": transform "${spelled}" is not supported (supported: ${SUPPORTED_TRANSFORMS.join(', ')}; e.g. "day(ts)" or "exchange")`,
      );
    const source = findField(schema, column);
    if (!source)
      throw new ConfigError(`${where}partition "${text}": column "${column}" is not in the table (columns: ${columns.join(', ')})`);
    if (!canTransform(transform, source.type))
      throw new ConfigError(
        `${where}partition "${text}": ${transform} cannot be applied to column "${column}" of type ${formatIcebergType(source.type)}` +
          (transform === 'identity'
            ? ' (partition sources must be primitive columns)'
            : transform === 'hour'
              ? ' (hour needs a timestamp)'
              : ' (needs a date or timestamp)'),
      );
    const name = partitionFieldName(transform, column);
    if (fields.some((f) => f.name === name))
      throw new ConfigError(`${where}partition "${text}": partition field "${name}" is listed twice`);
    const isTime = (t: Transform): boolean => t === 'year' || t === 'month' || t === 'day' || t === 'hour';
    const redundant = fields.find((f) => f['source-id'] === source.id && isTime(f.transform) && isTime(transform));
    if (redundant)
      throw new ConfigError(
        `${where}partition "${text}": column "${column}" is already partitioned by ${redundant.transform}; use one time transform per column`,
      );
    if (transform !== 'identity' && findField(schema, name))
      throw new ConfigError(`${where}partition "${text}": partition field name "${name}" collides with a column of the table`);
    fields.push({ 'source-id': source.id, 'field-id': nextId++, name, transform });
  }
  return { 'spec-id': opts.specId ?? 0, fields };
}

/** The highest partition field id of a spec (999 when unpartitioned), for the table's last-partition-id. */
export function lastPartitionId(spec: PartitionSpec): number {
  return spec.fields.reduce((max, f) => Math.max(max, f['field-id']), PARTITION_DATA_ID_START - 1);
}

function sourceOf(schema: Schema, field: PartitionField): NestedField {
  const search = (fs: NestedField[]): NestedField | undefined => {
    for (const f of fs) {
      if (f.id === field['source-id']) return f;
      if (typeof f.type !== 'string' && f.type.type === 'struct') {
        const inner = search(f.type.fields);
        if (inner) return inner;
      }
    }
    return undefined;
  };
  const source = search(schema.fields);
  if (!source)
    throw new SchemaError(`partition field "${field.name}" refers to column id ${field['source-id']}, which is not in the schema`);
  if (typeof source.type !== 'string') throw new SchemaError(`partition field "${field.name}" has a non-primitive source "${source.name}"`);
  return source;
}

/** The source column's dotted name (struct path) for a partition field. */
function sourcePath(schema: Schema, id: number): string[] {
  const walk = (fs: NestedField[], prefix: string[]): string[] | undefined => {
    for (const f of fs) {
      if (f.id === id) return [...prefix, f.name];
      if (typeof f.type !== 'string' && f.type.type === 'struct') {
        const inner = walk(f.type.fields, [...prefix, f.name]);
        if (inner) return inner;
      }
    }
    return undefined;
  };
  return walk(schema.fields, []) ?? [];
}

/** The partition field's result type. */
export function partitionFieldType(schema: Schema, field: PartitionField): PrimitiveType {
  return transformResultType(field.transform, sourceOf(schema, field).type as PrimitiveType);
}

/** The `partition` struct of manifests (data_file field 102): one optional field a partition field, ids from the spec. */
export function partitionType(spec: PartitionSpec, schema: Schema): StructType {
  return {
    type: 'struct',
    fields: spec.fields.map((f) => ({ id: f['field-id'], name: f.name, required: false, type: partitionFieldType(schema, f) })),
  };
}

/** The partition tuple (by partition field name) of one source row, given its values by column name. */
export function partitionOf(spec: PartitionSpec, schema: Schema, row: Record<string, PartitionValue>): Record<string, PartitionValue> {
  const out: Record<string, PartitionValue> = {};
  for (const f of spec.fields) {
    const source = sourceOf(schema, f);
    out[f.name] = applyTransform(f.transform, source.type as PrimitiveType, row[sourcePath(schema, source.id).join('.')] ?? null);
  }
  return out;
}

/**
 * The partition of a data file told by its column bounds alone, without reading its rows: every field is a
 * time transform (or void) of a date or timestamp column that holds no null, and the transform of its lower
 * and of its upper bound agree — these transforms never decrease, so every value between the bounds has
 * that partition too — or disagree ('mixed'). Null when the bounds cannot tell (an identity field, whose
 * string bounds may be truncated; a null; bounds missing): then the rows must be read.
 */
export function partitionFromBounds(
  spec: PartitionSpec,
  schema: Schema,
  file: Pick<DataFile, 'recordCount' | 'nullValueCounts' | 'lowerBounds' | 'upperBounds'>,
): Record<string, PartitionValue> | 'mixed' | null {
  if (file.recordCount === 0n) return null;
  const out: Record<string, PartitionValue> = {};
  let mixed = false;
  for (const f of spec.fields) {
    if (f.transform === 'void') {
      out[f.name] = null;
      continue;
    }
    const source = sourceOf(schema, f);
    const type = source.type;
    const monotonic = f.transform === 'year' || f.transform === 'month' || f.transform === 'day' || f.transform === 'hour';
    if (!monotonic || (type !== 'date' && type !== 'timestamp' && type !== 'timestamptz')) return null;
    const lower = file.lowerBounds.get(source.id);
    const upper = file.upperBounds.get(source.id);
    if (file.nullValueCounts.get(source.id) !== 0n || !lower || !upper) return null;
    const low = applyTransform(f.transform, type, fromBytes(type, lower) as PartitionValue);
    const high = applyTransform(f.transform, type, fromBytes(type, upper) as PartitionValue);
    if (low !== high) mixed = true;
    out[f.name] = low;
  }
  return mixed ? 'mixed' : out;
}

// ---------------------------------------------------------------------------------------------
// Paths: `exchange_timestamp_day=2026-02-11/exchange=binance`, rendered as pyiceberg renders them.

const pad = (n: number, width: number): string => {
  const s = String(Math.abs(n)).padStart(n < 0 ? width - 1 : width, '0');
  return n < 0 ? `-${s}` : s;
};

function isoDate(days: number): string {
  const c = civil(days);
  return `${pad(c.year, 4)}-${pad(c.month, 2)}-${pad(c.day, 2)}`;
}

function isoTimestamp(micros: bigint, withZone: boolean): string {
  const days = floorDiv(micros, US_PER_DAY);
  let rest = micros - days * US_PER_DAY;
  const us = Number(rest % 1_000_000n);
  rest /= 1_000_000n;
  const s = Number(rest % 60n);
  const m = Number((rest / 60n) % 60n);
  const h = Number(rest / 3600n);
  const time = `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${us ? `.${pad(us, 6)}` : ''}`;
  return `${isoDate(Number(days))}T${time}${withZone ? '+00:00' : ''}`;
}

/** The human-readable form of a partition value, as it appears in paths ("null" for null). */
export function partitionHumanString(transform: Transform, resultType: PrimitiveType, value: PartitionValue): string {
  if (value === null) return 'null';
  switch (transform) {
    case 'year':
      return pad(1970 + Number(value), 4);
    case 'month': {
      const m = Number(value);
      const year = 1970 + Math.floor(m / 12);
      return `${pad(year, 4)}-${pad((((m % 12) + 12) % 12) + 1, 2)}`;
    }
    case 'day':
      return isoDate(Number(value));
    case 'hour': {
      const h = BigInt(value as number | bigint);
      return `${isoDate(Number(floorDiv(h, 24n)))}-${pad(Number(h - floorDiv(h, 24n) * 24n), 2)}`;
    }
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  switch (resultType) {
    case 'date':
      return isoDate(Number(value));
    case 'timestamp':
    case 'timestamptz':
      return isoTimestamp(BigInt(value), resultType === 'timestamptz');
    case 'float':
    case 'double':
      return Number.isInteger(value) ? `${String(value)}.0` : String(value);
  }
  const dec = parseDecimalType(resultType);
  if (dec) return scientificDecimal(typeof value === 'bigint' ? value : decimalToUnscaled(String(value), dec.scale), dec.scale);
  return String(value);
}

/** Java's BigDecimal.toString (Python's str(Decimal) agrees): plain unless the exponent is below -6. */
function scientificDecimal(unscaled: bigint, scale: number): string {
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString();
  const adjusted = digits.length - 1 - scale;
  if (adjusted >= -6) return unscaledToDecimal(unscaled, scale);
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${unscaled < 0n ? '-' : ''}${mantissa}E${adjusted}`;
}

/** Python's urllib.parse.quote_plus(s, safe=""): what pyiceberg applies to path names and values. */
export function quotePlus(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~-]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The Hive-style path segment of a partition, e.g. `exchange_timestamp_day=2026-02-11/exchange=binance` ('' when unpartitioned). */
export function partitionPath(spec: PartitionSpec, schema: Schema, partition: Record<string, PartitionValue>): string {
  return spec.fields
    .map((f) => {
      const value = partition[f.name] ?? null;
      return `${quotePlus(f.name)}=${quotePlus(partitionHumanString(f.transform, partitionFieldType(schema, f), value))}`;
    })
    .join('/');
}

// ---------------------------------------------------------------------------------------------
// DuckDB. The Parquet writer splits rows by these expressions; each yields the partition value in
// the representation above (days as INTEGER, timestamps as epoch µs BIGINT, decimals/uuids as text).
// Integer arithmetic only, and never a session time zone: DuckDB's year()/month() on TIMESTAMPTZ
// follow the TimeZone setting, so calendar fields are taken from a zone-less TIMESTAMP of the instant.

function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlFloorDiv(x: string, d: bigint): string {
  // DuckDB's // and % truncate toward zero; shift the remainder to floor for values before 1970.
  return `CAST(((${x}) - ((((${x}) % ${d}) + ${d}) % ${d})) // ${d} AS INTEGER)`;
}

/** The DuckDB expression for one partition field, over the source column expression `column` (already in the Iceberg type's DuckDB type). */
export function partitionSqlExpression(transform: Transform, source: PrimitiveType, column: string): string {
  const days = (c: string): string => `CAST((${c}) - DATE '1970-01-01' AS INTEGER)`;
  const utc = (c: string): string => (isTimestamp(source) ? `make_timestamp(epoch_us(${c}))` : c);
  switch (transform) {
    case 'void':
      return 'CAST(NULL AS INTEGER)';
    case 'identity':
      if (source === 'date') return days(column);
      if (isTimestamp(source)) return `epoch_us(${column})`;
      if (source === 'uuid' || parseDecimalType(source)) return `CAST(${column} AS VARCHAR)`;
      return column;
  }
  if (!canTransform(transform, source)) throw new SchemaError(`cannot apply ${transform} to a ${source} column`);
  switch (transform) {
    case 'hour':
      return sqlFloorDiv(`epoch_us(${column})`, US_PER_HOUR);
    case 'day':
      return isTimestamp(source) ? sqlFloorDiv(`epoch_us(${column})`, US_PER_DAY) : days(column);
    case 'month':
      return `CAST((year(${utc(column)}) - 1970) * 12 + month(${utc(column)}) - 1 AS INTEGER)`;
    case 'year':
      return `CAST(year(${utc(column)}) - 1970 AS INTEGER)`;
  }
  throw new SchemaError(`partition transform ${transform} is not supported`);
}

/** One DuckDB expression per partition field of the spec, over the table's columns by name. */
export function partitionSqlExpressions(spec: PartitionSpec, schema: Schema): Array<{ field: PartitionField; sql: string }> {
  return spec.fields.map((field) => {
    const source = sourceOf(schema, field);
    const column = sourcePath(schema, source.id).map(sqlIdentifier).join('.');
    return { field, sql: partitionSqlExpression(field.transform, source.type as PrimitiveType, column) };
  });
}
