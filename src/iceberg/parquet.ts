// Parquet data files through DuckDB: every column (nested ones too) carries its Iceberg field id, values
// have the physical/logical types Iceberg readers expect, rows are split per partition and files roll at
// a target size. The DataFile of each file is read back from the file's own footer, so the manifest
// describes exactly what was written.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { SchemaError } from '../core/errors.js';
import { AlreadyExists } from './io.js';
import {
  decimalToUnscaled,
  parseDecimalType,
  toBytes,
  truncateStringLowerBound,
  truncateStringUpperBound,
  type PrimitiveValue,
} from './conversions.js';
import { partitionPath, partitionSqlExpressions, type PartitionValue } from './partition.js';
import { duckdbFieldIds, duckdbType } from './schema.js';
import type { DataFile, IcebergType, PartitionSpec, PrimitiveType, Schema } from './types.js';

// ---------------------------------------------------------------------------------------------------------
// A DuckDB instance with bounded resources

export interface DuckDBOptions {
  /** Worker threads (default 2). */
  threads?: number;
  /** DuckDB's memory_limit, e.g. '512MB' (default). Beyond it DuckDB spills to `tempDirectory`. */
  memoryLimit?: string;
  tempDirectory?: string;
}

export interface DuckDBSession {
  instance: DuckDBInstance;
  connection: DuckDBConnection;
  close(): void;
}

/** An in-memory DuckDB with explicit threads and memory limit (its defaults take most of the machine) and UTC as time zone. */
export async function openDuckDB(options: DuckDBOptions = {}): Promise<DuckDBSession> {
  const config: Record<string, string> = {
    threads: String(options.threads ?? 2),
    memory_limit: options.memoryLimit ?? '512MB',
    // Row order inside a data file carries no meaning in Iceberg; not keeping it lets COPY stream in bounded memory.
    preserve_insertion_order: 'false',
  };
  if (options.tempDirectory) config.temp_directory = options.tempDirectory;
  // Loaded when first needed: importing DuckDB is a large part of the CLI's start-up otherwise.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', config);
  const connection = await instance.connect();
  await connection.run(`SET GLOBAL TimeZone = 'UTC'`);
  return {
    instance,
    connection,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Writing

export interface WriteDataFilesOptions {
  connection: DuckDBConnection;
  /** A query producing the table's columns by name (extra columns are ignored), e.g. `SELECT * FROM batch`. */
  relation: string;
  schema: Schema;
  /** Omitted or without fields: unpartitioned. */
  partitionSpec?: PartitionSpec;
  /** A file is closed once it passes this size (checked after each row group: it may exceed it by a row group or two). */
  targetFileSizeBytes: number;
  /** Local directory; files go to `<outputDir>/<partition path>/<fileNamePrefix>-NNNNN.parquet`. */
  outputDir: string;
  fileNamePrefix: string;
  /** The table's data location (e.g. `s3://b/t/data`): DataFile.filePath is `<dataLocation>/<relativePath>`. Default: the local file's `file://` URI. */
  dataLocation?: string;
  /** Rows per row group (DuckDB's default, 122880, unless set). */
  rowGroupSize?: number;
  /** zstd level (DuckDB's default, 3, unless set). */
  compressionLevel?: number;
}

export interface WrittenDataFile {
  localPath: string;
  /** Path under the data location: `<partition path>/<file name>` (just the file name when unpartitioned). */
  relativePath: string;
  dataFile: DataFile;
}

/**
 * Writes the relation's rows as Parquet data files, one file per partition value, more only when a file
 * passes the target size; then reads each file's footer for its DataFile.
 *
 * One partition (or none): a single COPY that rolls files at the target. Several: a single COPY …
 * PARTITION_BY over all rows (measured on 5M rows, 2 threads: ≈1.4× the CPU of an unpartitioned COPY
 * whatever the number of partitions, where one COPY per partition cost ≈0.45 CPU-s more per partition,
 * 6× at 30 partitions). DuckDB cannot roll files inside PARTITION_BY, so a partition file that passed
 * the target is rewritten into rolled files (rare: only when one batch holds more than a target's worth
 * of one partition).
 *
 * The relation is scanned twice (partition values, then rows): pass a table or a cheap view. On error,
 * every file this call wrote is removed. Sets the connection's TimeZone to UTC (casts of zone-less text
 * or nested timestamps then read them as UTC).
 */
export async function writeDataFiles(options: WriteDataFilesOptions): Promise<WrittenDataFile[]> {
  const { connection, schema } = options;
  if (!/^[A-Za-z0-9._=-]+$/.test(options.fileNamePrefix))
    throw new SchemaError(`file name prefix "${options.fileNamePrefix}" may only contain letters, digits, '.', '_', '=' and '-'`);
  if (!(options.targetFileSizeBytes > 0)) throw new SchemaError(`target file size must be positive (got ${options.targetFileSizeBytes})`);
  const target = Math.trunc(options.targetFileSizeBytes);
  const spec = options.partitionSpec ?? { 'spec-id': 0, fields: [] };
  const sourceTypes = await describeRelation(connection, options.relation);
  const rows = `(SELECT ${castList(schema, sourceTypes)} FROM (${options.relation}) AS __source) AS __rows`;
  const partitionExprs = partitionSqlExpressions(spec, schema);

  await connection.run(`SET TimeZone = 'UTC'`); // naive timestamps cast to timestamptz are UTC instants

  const tag = randomBytes(6).toString('hex');
  const staging = join(options.outputDir, `.staging-${tag}`);
  const partsTable = `__offload_partitions_${tag}`;
  const copyOptions = (extra: string[]) =>
    [
      'FORMAT parquet',
      'COMPRESSION zstd',
      options.compressionLevel !== undefined ? `COMPRESSION_LEVEL ${Math.trunc(options.compressionLevel)}` : '',
      options.rowGroupSize !== undefined ? `ROW_GROUP_SIZE ${Math.trunc(options.rowGroupSize)}` : '',
      `FILENAME_PATTERN 'part_{i}'`,
      `FIELD_IDS ${duckdbFieldIds(schema)}`,
      ...extra,
    ]
      .filter(Boolean)
      .join(', ');
  const rolled = `FILE_SIZE_BYTES ${target}`;
  const written: WrittenDataFile[] = [];
  try {
    await mkdir(staging, { recursive: true });

    // The partition values, each with an ordinal k that names its staging directory unambiguously.
    let partitions: Array<Record<string, PartitionValue>> = [{}];
    if (partitionExprs.length > 0) {
      const keys = partitionExprs.map((p, i) => `${p.sql} AS __p${i}`).join(', ');
      await connection.run(
        `CREATE TEMP TABLE ${partsTable} AS SELECT row_number() OVER () - 1 AS __k, * FROM (SELECT DISTINCT ${keys} FROM ${rows})`,
      );
      const found = (await connection.runAndReadAll(`SELECT * FROM ${partsTable} ORDER BY __k`)).getRowObjectsJS();
      partitions = found.map((r) =>
        Object.fromEntries(partitionExprs.map((p, i) => [p.field.name, partitionValue(p.field.name, r[`__p${i}`])])),
      );
    }

    // Staged files by partition ordinal.
    const staged: string[][] = partitions.map(() => []);
    if (partitions.length === 1) {
      const dir = join(staging, 'all');
      await connection.run(`COPY (SELECT * FROM ${rows}) TO ${sqlString(dir)} (${copyOptions([rolled])})`);
      staged[0] = await parquetFilesIn(dir);
    } else if (partitions.length > 1) {
      const dir = join(staging, 'all');
      const on = partitionExprs.map((p, i) => `(${p.sql}) IS NOT DISTINCT FROM __parts.__p${i}`).join(' AND ');
      await connection.run(
        `COPY (SELECT __rows.*, __parts.__k FROM ${rows} JOIN ${partsTable} AS __parts ON ${on}) TO ${sqlString(dir)} (${copyOptions(['PARTITION_BY (__k)'])})`,
      );
      for (const sub of await readdir(dir)) {
        const k = /^__k=(\d+)$/.exec(sub);
        if (k) staged[Number(k[1])] = await parquetFilesIn(join(dir, sub));
      }
      for (let k = 0; k < staged.length; k++) {
        const kept: string[] = [];
        for (const file of staged[k]) {
          if (!(await startsRowGroupPast(connection, file, target))) kept.push(file);
          else {
            const dir = join(staging, `split-${k}-${kept.length}`);
            await connection.run(
              `COPY (SELECT * FROM read_parquet(${sqlString(file)}, hive_partitioning = false)) TO ${sqlString(dir)} (${copyOptions([rolled])})`,
            );
            kept.push(...(await parquetFilesIn(dir)));
          }
        }
        staged[k] = kept;
      }
    }

    // Final names, never replacing a file: a prefix reused by mistake fails instead of losing data.
    let seq = 0;
    for (let k = 0; k < partitions.length; k++) {
      const partition = partitions[k];
      const partPath = partitionPath(spec, schema, partition);
      for (const file of staged[k]) {
        const fileName = `${options.fileNamePrefix}-${String(seq++).padStart(5, '0')}.parquet`;
        const relativePath = partPath ? `${partPath}/${fileName}` : fileName;
        const localPath = join(options.outputDir, relativePath);
        await mkdir(join(options.outputDir, partPath), { recursive: true });
        await link(file, localPath).catch((err: NodeJS.ErrnoException) => {
          throw err.code === 'EEXIST' ? new AlreadyExists(`file://${localPath}`) : err;
        });
        const filePath = options.dataLocation ? `${options.dataLocation.replace(/\/+$/, '')}/${relativePath}` : `file://${localPath}`;
        const entry: WrittenDataFile = { localPath, relativePath, dataFile: emptyDataFile(filePath, partition) };
        written.push(entry);
        entry.dataFile = await readDataFile(connection, localPath, schema, { filePath, partition });
        if (entry.dataFile.recordCount === 0n) {
          // DuckDB writes no file for no rows, but should one appear, an empty data file is not kept.
          await unlink(localPath);
          written.pop();
        }
      }
    }
    return written;
  } catch (err) {
    await Promise.all(written.map((w) => unlink(w.localPath).catch(() => undefined))); // local files of a failed write
    throw err;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${partsTable}`).catch(() => undefined);
    await rm(staging, { recursive: true, force: true });
  }
}

async function parquetFilesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith('.parquet'))
    .sort(byPartNumber)
    .map((n) => join(dir, n));
}

/** Whether a file went on past the target: a row group of it starts at or beyond `target` bytes. */
async function startsRowGroupPast(connection: DuckDBConnection, file: string, target: number): Promise<boolean> {
  const [row] = (
    await connection.runAndReadAll(
      `SELECT count(*) AS n FROM (SELECT min(coalesce(dictionary_page_offset, data_page_offset)) AS start
         FROM parquet_metadata(${sqlString(file)}) GROUP BY row_group_id) WHERE start >= ${target}`,
    )
  ).getRowObjectsJS();
  return Number(row.n) > 0;
}

function partitionValue(field: string, value: unknown): PartitionValue {
  if (value === null || ['number', 'bigint', 'string', 'boolean'].includes(typeof value)) return value as PartitionValue;
  throw new SchemaError(`partition field "${field}": DuckDB returned a value of an unsupported kind (${String(value)})`);
}

function byPartNumber(a: string, b: string): number {
  const n = (s: string) => Number(/(\d+)\.parquet$/.exec(s)?.[1] ?? 0);
  return n(a) - n(b);
}

function emptyDataFile(filePath: string, partition: DataFile['partition']): DataFile {
  return {
    content: 0,
    filePath,
    fileFormat: 'PARQUET',
    partition,
    recordCount: 0n,
    fileSizeInBytes: 0n,
    columnSizes: new Map(),
    valueCounts: new Map(),
    nullValueCounts: new Map(),
    lowerBounds: new Map(),
    upperBounds: new Map(),
  };
}

/** The relation's column types by name, from DuckDB's DESCRIBE. */
async function describeRelation(connection: DuckDBConnection, relation: string): Promise<Map<string, string>> {
  const rows = (await connection.runAndReadAll(`DESCRIBE (${relation})`)).getRowObjectsJS();
  return new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

/** One cast per schema column, so the Parquet types are Iceberg's whatever the relation produced (UBIGINT → DECIMAL(20,0), …). */
function castList(schema: Schema, sourceTypes: Map<string, string>): string {
  const missing = schema.fields.filter((f) => !sourceTypes.has(f.name)).map((f) => f.name);
  if (missing.length > 0)
    throw new SchemaError(
      `the rows to write lack column${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')} of the Iceberg schema ` +
        `(the rows have: ${[...sourceTypes.keys()].join(', ')})`,
    );
  return schema.fields
    .map((f) => {
      const target = duckdbType(f.type);
      const column = sqlIdentifier(f.name);
      const source = sourceTypes.get(f.name)!;
      if (source === target) return column;
      return `${convert(column, source, f.type, target)} AS ${column}`;
    })
    .join(', ');
}

const NAIVE_TIMESTAMP = /^TIMESTAMP(_S|_MS)?$/;
const TIMESTAMP_WITH_ZONE = 'TIMESTAMP WITH TIME ZONE';

/**
 * Timestamps move between zone-less and zoned by their microseconds: a zone-less value is a UTC instant,
 * whatever the session's time zone, and this avoids DuckDB's calendar-aware casts (~10× slower).
 * Nanoseconds are floored to microseconds (truncated in time, also before 1970).
 */
function convert(column: string, source: string, type: IcebergType, target: string): string {
  const floorNanos = `((epoch_ns(${column}) - (((epoch_ns(${column}) % 1000) + 1000) % 1000)) // 1000)`;
  if (type === 'timestamptz') {
    if (NAIVE_TIMESTAMP.test(source)) return `make_timestamptz(epoch_us(${column}))`;
    if (source === 'TIMESTAMP_NS') return `make_timestamptz(${floorNanos})`;
  }
  if (type === 'timestamp') {
    if (source === TIMESTAMP_WITH_ZONE) return `make_timestamp(epoch_us(${column}))`;
    if (source === 'TIMESTAMP_NS') return `make_timestamp(${floorNanos})`;
  }
  return `CAST(${column} AS ${target})`;
}

// ---------------------------------------------------------------------------------------------------------
// Reading a written file's footer into a DataFile

interface LeafColumn {
  fieldId: number;
  type: PrimitiveType;
  /** Reached through structs only: lists and maps get counts but no bounds (as Iceberg's Java writer does). */
  hasBounds: boolean;
  /** A required top-level field: nulls in it are refused. */
  isRequired: boolean;
  name: string;
}

/** Primitive leaves of the schema in Parquet column order (depth first; map key before value). */
function leavesOf(schema: Schema): LeafColumn[] {
  const out: LeafColumn[] = [];
  const visit = (id: number, type: IcebergType, name: string, structOnly: boolean, isRequired: boolean): void => {
    if (typeof type === 'string') {
      out.push({ fieldId: id, type, hasBounds: structOnly, isRequired, name });
    } else if (type.type === 'list') {
      visit(type['element-id'], type.element, `${name}.element`, false, false);
    } else if (type.type === 'map') {
      visit(type['key-id'], type.key, `${name}.key`, false, false);
      visit(type['value-id'], type.value, `${name}.value`, false, false);
    } else {
      for (const f of type.fields) visit(f.id, f.type, `${name}.${f.name}`, structOnly, false);
    }
  };
  for (const f of schema.fields) visit(f.id, f.type, f.name, true, f.required);
  return out;
}

type Comparable = bigint | number | boolean | Buffer;

interface Bound {
  value: Comparable;
}

/**
 * The DataFile of a written Parquet file: record count and size from parquet_file_metadata(), per-column
 * sizes, value and null counts and bounds (single-value serialization) from parquet_metadata(), split
 * offsets at the row groups. Field ids are taken from the file's own schema.
 */
export async function readDataFile(
  connection: DuckDBConnection,
  localPath: string,
  schema: Schema,
  opts: { filePath?: string; partition?: DataFile['partition'] } = {},
): Promise<DataFile> {
  const path = sqlString(localPath);
  const [file] = (await connection.runAndReadAll(`SELECT num_rows, file_size_bytes FROM parquet_file_metadata(${path})`)).getRowObjectsJS();
  const fileSchema = (await connection.runAndReadAll(`SELECT field_id, num_children FROM parquet_schema(${path})`)).getRowObjectsJS();
  const chunks = (
    await connection.runAndReadAll(
      `SELECT row_group_id, column_id, num_values, stats_null_count, stats_min_value, stats_max_value,
              total_compressed_size, data_page_offset, dictionary_page_offset
       FROM parquet_metadata(${path}) ORDER BY row_group_id, column_id`,
    )
  ).getRowObjectsJS();

  // Leaves of the file schema, in column order, carry the field ids DuckDB wrote.
  const fileLeafIds = fileSchema
    .slice(1)
    .filter((r) => r.num_children === null || Number(r.num_children) === 0)
    .map((r) => r.field_id);
  const leafById = new Map(leavesOf(schema).map((l) => [l.fieldId, l]));

  const dataFile = emptyDataFile(opts.filePath ?? `file://${localPath}`, opts.partition ?? {});
  dataFile.recordCount = BigInt(file.num_rows as bigint);
  dataFile.fileSizeInBytes = BigInt(file.file_size_bytes as bigint);

  const add = (m: Map<number, bigint>, id: number, n: bigint) => m.set(id, (m.get(id) ?? 0n) + n);
  const nullCountsKnown = new Set<number>();
  const nullCountsMissing = new Set<number>();
  const lower = new Map<number, Bound>();
  const upper = new Map<number, Bound>();
  const boundsMissing = new Set<number>();
  const rowGroupStarts = new Map<bigint, bigint>();

  for (const c of chunks) {
    const fieldIdRaw = fileLeafIds[Number(c.column_id)];
    if (fieldIdRaw === null || fieldIdRaw === undefined)
      throw new SchemaError(`${localPath}: column ${String(c.column_id)} has no field id`);
    const id = Number(fieldIdRaw);
    const leaf = leafById.get(id);
    if (!leaf) throw new SchemaError(`${localPath}: field id ${id} is not in the Iceberg schema`);

    const start = BigInt((c.dictionary_page_offset ?? c.data_page_offset) as bigint);
    const rg = BigInt(c.row_group_id as bigint);
    const known = rowGroupStarts.get(rg);
    if (known === undefined || start < known) rowGroupStarts.set(rg, start);

    const numValues = BigInt(c.num_values as bigint);
    add(dataFile.columnSizes, id, BigInt(c.total_compressed_size as bigint));
    add(dataFile.valueCounts, id, numValues);
    if (c.stats_null_count === null) nullCountsMissing.add(id);
    else {
      add(dataFile.nullValueCounts, id, BigInt(c.stats_null_count as bigint));
      nullCountsKnown.add(id);
    }

    if (!leaf.hasBounds || boundsMissing.has(id)) continue;
    const allNull = c.stats_null_count !== null && BigInt(c.stats_null_count as bigint) === numValues;
    if (allNull) continue; // a row group of nulls widens no bound
    const min = c.stats_min_value === null ? null : parseStat(leaf.type, String(c.stats_min_value));
    const max = c.stats_max_value === null ? null : parseStat(leaf.type, String(c.stats_max_value));
    if (min === null || max === null) {
      // No usable statistics for this row group (DuckDB leaves them out when a float column holds NaN or ±inf):
      // any bound from the other row groups would be wrong.
      boundsMissing.add(id);
      lower.delete(id);
      upper.delete(id);
      continue;
    }
    const lo = lower.get(id);
    if (!lo || compare(min, lo.value) < 0) lower.set(id, { value: min });
    const hi = upper.get(id);
    if (!hi || compare(max, hi.value) > 0) upper.set(id, { value: max });
  }
  for (const id of nullCountsMissing) if (nullCountsKnown.has(id)) dataFile.nullValueCounts.delete(id);

  for (const [id, leaf] of leafById) {
    if (leaf.isRequired && (dataFile.nullValueCounts.get(id) ?? 0n) > 0n)
      throw new SchemaError(`${localPath}: required column "${leaf.name}" has ${dataFile.nullValueCounts.get(id)} null value(s)`);
    const lo = lower.get(id);
    const hi = upper.get(id);
    if (!lo || !hi) continue;
    const lowerBytes = encodeBound(leaf.type, lo, 'lower');
    const upperBytes = encodeBound(leaf.type, hi, 'upper');
    if (lowerBytes) dataFile.lowerBounds.set(id, lowerBytes);
    if (upperBytes) dataFile.upperBounds.set(id, upperBytes);
  }
  dataFile.splitOffsets = [...rowGroupStarts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, s]) => s);
  return dataFile;
}

/** A footer statistic (DuckDB renders them as text) as a comparable value; null when it cannot be read exactly. */
function parseStat(type: PrimitiveType, text: string): Comparable | null {
  const dec = parseDecimalType(type);
  if (dec) return decimalToUnscaled(text, dec.scale);
  switch (type) {
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : null;
    case 'int':
    case 'long':
      return /^-?\d+$/.test(text) ? BigInt(text) : null;
    case 'float':
    case 'double': {
      const n = Number(text);
      return Number.isFinite(n) ? (type === 'float' ? Math.fround(n) : n) : null;
    }
    case 'date': {
      const days = parseDate(text);
      return days === null ? null : BigInt(days);
    }
    case 'time':
      return parseTime(text);
    case 'timestamp':
    case 'timestamptz':
      return parseTimestamp(text);
    case 'string':
      return Buffer.from(text, 'utf8');
    default:
      // uuid: Iceberg's Java readers compared UUIDs as signed longs for years, Parquet orders them as
      // unsigned bytes; a bound one of them misreads could prune a file that matches, so none is written.
      // binary/fixed: not produced by the ClickHouse mapping.
      return null;
  }
}

const DATE = /^(\d{4,})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

function parseDate(text: string): number | null {
  const m = DATE.exec(text);
  if (!m) return null;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Math.round(d.getTime() / 86_400_000);
}

function parseTime(text: string): bigint | null {
  const m = TIME.exec(text);
  if (!m) return null;
  const seconds = BigInt(Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]));
  return seconds * 1_000_000n + BigInt((m[4] ?? '').padEnd(6, '0'));
}

/** `2262-04-12 23:47:16.854775+00`, `1969-12-31 23:59:59.5` → µs since the epoch; null for anything else (e.g. BC dates). */
function parseTimestamp(text: string): bigint | null {
  const m = /^(\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)(?:([+-])(\d{2})(?::?(\d{2}))?)?$/.exec(text);
  if (!m) return null;
  const days = parseDate(m[1]);
  const time = parseTime(m[2]);
  if (days === null || time === null) return null;
  const offsetUs = m[3] ? BigInt((Number(m[4]) * 60 + Number(m[5] ?? 0)) * 60) * 1_000_000n * (m[3] === '-' ? -1n : 1n) : 0n;
  return BigInt(days) * 86_400_000_000n + time - offsetUs;
}

function compare(a: Comparable, b: Comparable): number {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b); // unsigned bytes: UTF-8 code point order
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Single-value serialization of a bound; strings are truncated to 16 code points as Iceberg's default metrics mode does. */
function encodeBound(type: PrimitiveType, bound: Bound, side: 'lower' | 'upper'): Uint8Array | null {
  const v = bound.value;
  if (type === 'string') {
    const text = (v as Buffer).toString('utf8');
    // A prefix of the minimum is still a lower bound; DuckDB's inexact maximum is already above the true one,
    // and cutting it and raising the last kept code point stays above it.
    if (side === 'lower') return toBytes('string', truncateStringLowerBound(text));
    const up = truncateStringUpperBound(text);
    return up === null ? null : toBytes('string', up);
  }
  let value: PrimitiveValue;
  switch (type) {
    case 'int':
    case 'date':
      value = Number(v as bigint);
      break;
    default:
      value = v as PrimitiveValue;
  }
  return toBytes(type, value);
}

// ---------------------------------------------------------------------------------------------------------

function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
