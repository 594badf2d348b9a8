// The Iceberg side of the per-partition verification: for every partition of a snapshot, its live row
// count and an order-independent checksum of every column, computed by DuckDB over the table's Parquet
// files (position deletes applied) without bringing a row into Node. ClickHouse computes the same
// numbers over its rows with the SQL of src/clickhouse/checksum.ts; equal numbers mean equal multisets
// of rows (up to a 64-bit hash collision).
//
// The checksum (both sides must agree on every byte of this):
//   row text   the canonical texts of the compared columns, in the given order, joined by ','
//   row hash   the first 8 bytes of MD5(row text) read as a big-endian unsigned 64-bit integer
//   checksum   the sum of the row hashes modulo 2^64 (a sum, not a xor: a duplicated row changes it)
// Canonical text of a value, by Iceberg type (the ClickHouse types the offload maps to each give the same):
//   NULL                  N
//   int, long             decimal digits, '-' if negative                     (Int8…Int64, UInt8…UInt32)
//   decimal(P, S)         the plain decimal without trailing fraction zeros, no '.' when integral:
//                         12.5, -0.00000001, 100, 0                             (Decimal*, UInt64 = decimal(20, 0))
//   float / double        nan for any NaN, else the IEEE 754 bits as an unsigned integer (32 / 64 bits)
//   boolean               1 or 0
//   date                  days since 1970-01-01
//   timestamp(tz)         microseconds since 1970-01-01T00:00:00Z               (DateTime: seconds × 10^6)
//   string                <UTF-8 byte length>:<bytes>                           (String, FixedString, Enum names)
//   uuid                  lower-case 8-4-4-4-12 hex
//   list                  [e1,e2,…]                                             (Array)
//   map                   {k:v,…}, entries sorted by their text (byte order)    (Map)
//   struct                (f1,f2,…)                                             (Tuple)
// Strings carry their length, so no text of one row can be read as another's.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { SchemaError } from '../core/errors.js';
import type { FileIO } from './io.js';
import { currentSchema } from './metadata.js';
import { partitionFieldType, partitionPath, type PartitionValue } from './partition.js';
import { partitionKey, readSnapshotFiles, type LiveDataFile } from './reader.js';
import { scanLiveRows } from './scan.js';
import type { IcebergType, NestedField, PartitionSpec, Schema, TableMetadata, Transform } from './types.js';

const TWO_TO_64 = '18446744073709551616';

function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Trailing fraction zeros and a bare '.' removed: 1.50000000 → 1.5, 2.00 → 2, 100 → 100. */
const trimDecimalSql = (text: string): string => `regexp_replace(regexp_replace(${text}, '(\\.[0-9]*?)0+$', '\\1'), '\\.$', '')`;

/** The canonical text (never NULL) of a DuckDB value `expr` of Iceberg type `type`; `depth` keeps lambda names apart. */
export function canonicalTextSql(type: IcebergType, expr: string, depth = 0): string {
  return `coalesce(${valueTextSql(type, expr, depth)}, 'N')`;
}

function valueTextSql(type: IcebergType, e: string, depth: number): string {
  if (typeof type === 'string') {
    if (/^decimal\(/.test(type)) return trimDecimalSql(`CAST(${e} AS VARCHAR)`);
    switch (type) {
      case 'int':
      case 'long':
      case 'uuid':
        return `CAST(${e} AS VARCHAR)`;
      case 'float':
        return `CASE WHEN isnan(${e}) THEN 'nan' ELSE CAST(CAST(CAST(${e} AS BIT) AS UINTEGER) AS VARCHAR) END`;
      case 'double':
        return `CASE WHEN isnan(${e}) THEN 'nan' ELSE CAST(CAST(CAST(${e} AS BIT) AS UBIGINT) AS VARCHAR) END`;
      case 'boolean':
        return `CASE WHEN ${e} THEN '1' WHEN NOT ${e} THEN '0' END`; // NULL matches neither: stays NULL
      case 'date':
        return `CAST(${e} - DATE '1970-01-01' AS VARCHAR)`;
      case 'timestamp':
      case 'timestamptz':
        return `CAST(epoch_us(${e}) AS VARCHAR)`;
      case 'string':
        return `CAST(strlen(${e}) AS VARCHAR) || ':' || ${e}`;
    }
    throw new SchemaError(`no checksum text for Iceberg type ${type} (no ClickHouse type maps to it)`);
  }
  const v = `__v${depth}`;
  if (type.type === 'list')
    return `'[' || array_to_string(list_transform(${e}, lambda ${v}: ${canonicalTextSql(type.element, v, depth + 1)}), ',') || ']'`;
  if (type.type === 'map') {
    const entry = `${canonicalTextSql(type.key, `${v}.key`, depth + 1)} || ':' || ${canonicalTextSql(type.value, `${v}.value`, depth + 1)}`;
    return `'{' || array_to_string(list_sort(list_transform(map_entries(${e}), lambda ${v}: ${entry})), ',') || '}'`;
  }
  const fields = type.fields.map((f) => canonicalTextSql(f.type, `struct_extract(${e}, ${sqlString(f.name)})`, depth + 1));
  return `CASE WHEN ${e} IS NULL THEN NULL ELSE '(' || ${fields.join(` || ',' || `)} || ')' END`;
}

/** The row text of the given columns of a relation's row (columns referenced by name). */
export function rowTextSql(fields: readonly NestedField[]): string {
  if (fields.length === 0) throw new SchemaError('a checksum needs at least one column');
  return fields.map((f) => canonicalTextSql(f.type, sqlIdentifier(f.name))).join(` || ',' || `);
}

/** The row hash: the first 8 bytes of MD5(row text), big-endian, as UBIGINT. */
export function rowHashSql(rowText: string): string {
  return `CAST('0x' || left(md5(${rowText}), 16) AS UBIGINT)`;
}

/** `rows` and `checksum` (sum of row hashes mod 2^64) of `relation`'s rows over `fields`. */
export function checksumQuerySql(relation: string, fields: readonly NestedField[]): string {
  return `SELECT count(*) AS rows, CAST(coalesce(sum(${rowHashSql(rowTextSql(fields))}), 0) % ${TWO_TO_64} AS UBIGINT) AS checksum FROM (${relation})`;
}

// ---------------------------------------------------------------------------------------------
// Partition values as texts (the form ClickHouse's partition expressions produce, see
// src/clickhouse/checksum.ts): day/month/year/hour as their integer, identity as the value's canonical
// text without a length (strings as they are), NULL as null.

/** The text of one partition value (as manifests hold it) of a field with `transform` over a source of `sourceType`. */
export function partitionValueText(transform: Transform, sourceType: IcebergType, value: PartitionValue): string | null {
  if (value === null || value === undefined || transform === 'void') return null;
  if (transform !== 'identity') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof sourceType === 'string' && /^decimal\(/.test(sourceType)) {
    const text = String(value);
    return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
  }
  return String(value);
}

/**
 * The partition value a text stands for (the inverse of partitionValueText), for partitions known only
 * from ClickHouse's side: day/month/year/hour and int/date identities as numbers, long and timestamp
 * identities as bigint µs, booleans, and everything else (strings, decimals, uuids) as the text itself.
 */
export function partitionValueOfText(transform: Transform, sourceType: IcebergType, text: string | null): PartitionValue {
  if (text === null || transform === 'void') return null;
  if (transform !== 'identity') return Number(text);
  switch (sourceType) {
    case 'int':
    case 'date':
      return Number(text);
    case 'long':
    case 'timestamp':
    case 'timestamptz':
      return BigInt(text);
    case 'boolean':
      return text === '1';
    case 'float':
    case 'double':
      return Number(text);
  }
  return text;
}

/** The partition tuple a key (partitionTextKey's JSON of texts) stands for. */
export function partitionOfTextKey(spec: PartitionSpec, schema: Schema, key: string): Record<string, PartitionValue> {
  const texts = JSON.parse(key) as Array<string | null>;
  return Object.fromEntries(
    spec.fields.map((f, i) => {
      const source = schema.fields.find((s) => s.id === f['source-id']);
      return [f.name, partitionValueOfText(f.transform, source?.type ?? partitionFieldType(schema, f), texts[i] ?? null)];
    }),
  );
}

/** A partition tuple's texts in spec order, as JSON: the key both sides' results are matched by. */
export function partitionTextKey(spec: PartitionSpec, schema: Schema, partition: Record<string, PartitionValue>): string {
  return JSON.stringify(
    spec.fields.map((f) => {
      const source = schema.fields.find((s) => s.id === f['source-id']);
      return partitionValueText(f.transform, source?.type ?? partitionFieldType(schema, f), partition[f.name] ?? null);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Per-partition checksums of a snapshot.

export interface PartitionChecksum {
  specId: number;
  partition: Record<string, PartitionValue>;
  /** Hive-style path, e.g. `ts_day=2026-02-11`. */
  path: string;
  /** partitionTextKey of the partition: what ClickHouse's result rows are matched by. */
  key: string;
  /** Live rows (position deletes applied). */
  rows: bigint;
  /** Sum of row hashes mod 2^64, as an unsigned integer. */
  checksum: bigint;
}

export interface SkippedPartition {
  specId: number;
  partition: Record<string, PartitionValue>;
  path: string;
  reason: string;
}

export interface ChecksumOptions {
  /** The columns compared (names of the current schema), in the order both sides use. Default: every column. */
  columns?: readonly string[];
  /** Only partitions whose path is listed (default: all). */
  paths?: readonly string[];
  snapshotId?: bigint;
  /** Local directory for the copies of the files (default: a fresh one under the OS temp dir). */
  scratchDir?: string;
  /** Called as each partition's numbers are ready (`index` of `total` partitions to checksum). */
  onPartition?: (p: PartitionChecksum, index: number, total: number) => void;
}

export interface TableChecksums {
  partitions: PartitionChecksum[];
  /** Partitions that cannot be checksummed here (equality deletes may apply to them). */
  skipped: SkippedPartition[];
  bytesCopied: number;
}

/** The fields compared: `columns` of the schema in that order (all fields by default). */
export function checksumFields(schema: Schema, columns?: readonly string[]): NestedField[] {
  if (!columns) return [...schema.fields];
  return columns.map((name) => {
    const f = schema.fields.find((x) => x.name === name);
    if (!f) throw new SchemaError(`column "${name}" is not in schema ${schema['schema-id']}`);
    return f;
  });
}

/**
 * Live rows and checksum per partition of a snapshot (the current one by default), computed by DuckDB
 * over local copies of the partition's data and position delete files, one partition at a time (a
 * partition whose rows are all deleted has 0 rows and checksum 0, as ClickHouse's side gives no row for it). A partition equality deletes
 * may apply to is skipped, with the reason.
 */
export async function readPartitionChecksums(
  io: FileIO,
  connection: DuckDBConnection,
  metadata: TableMetadata,
  options: ChecksumOptions = {},
): Promise<TableChecksums> {
  const schema = currentSchema(metadata);
  const fields = checksumFields(schema, options.columns);
  const files = await readSnapshotFiles(io, metadata, options.snapshotId);
  const specs = new Map(metadata['partition-specs'].map((s) => [s['spec-id'], s]));
  const describe = (specId: number, partition: Record<string, PartitionValue>) => ({
    specId,
    partition,
    path: partitionPath(specs.get(specId)!, schema, partition),
  });

  const groups = new Map<string, { specId: number; partition: Record<string, PartitionValue>; path: string; data: LiveDataFile[] }>();
  for (const f of files.dataFiles) {
    const k = partitionKey(f.specId, f.partition);
    const g = groups.get(k) ?? { ...describe(f.specId, f.partition), data: [] };
    g.data.push(f);
    groups.set(k, g);
  }
  // Equality deletes of the partition's spec apply within the partition; those of another spec (an
  // unpartitioned one, say) may apply anywhere. Position deletes name their data file, whatever their spec.
  const skipped: SkippedPartition[] = [];
  const equality = files.deleteFiles.filter((f) => f.content === 2);
  for (const [k, g] of groups) {
    const wanted = !options.paths || options.paths.includes(g.path);
    const blocked = equality.some((f) => f.specId !== g.specId || partitionKey(f.specId, f.partition) === k);
    if (wanted && blocked)
      skipped.push({
        ...describe(g.specId, g.partition),
        reason: 'equality deletes may apply to this partition: its rows are known only by applying them row by row',
      });
    if (!wanted || blocked) groups.delete(k);
  }

  // One partition at a time: only its files are copied locally at once.
  const scratch = options.scratchDir ?? (await mkdtemp(join(tmpdir(), 'offload-checksum-')));
  const otherSpecDeletes = (specId: number) => files.deleteFiles.filter((f) => f.content === 1 && f.specId !== specId);
  const partitions: PartitionChecksum[] = [];
  let bytesCopied = 0;
  try {
    let index = 0;
    for (const [k, g] of groups) {
      const scan = await scanLiveRows(io, connection, scratch, {
        schema,
        dataFiles: g.data,
        deleteFiles: [
          ...files.deleteFiles.filter((f) => f.content === 1 && partitionKey(f.specId, f.partition) === k),
          ...otherSpecDeletes(g.specId),
        ],
      });
      try {
        const [r] = (await connection.runAndReadAll(checksumQuerySql(scan.relation, fields))).getRowObjectsJS();
        const spec = specs.get(g.specId)!;
        const checksum: PartitionChecksum = {
          specId: g.specId,
          partition: g.partition,
          path: g.path,
          key: partitionTextKey(spec, schema, g.partition),
          rows: BigInt(r.rows as bigint),
          checksum: BigInt(r.checksum as bigint),
        };
        partitions.push(checksum);
        bytesCopied += scan.bytesCopied;
        options.onPartition?.(checksum, index++, groups.size);
      } finally {
        await scan.close();
      }
    }
  } finally {
    if (!options.scratchDir) await rm(scratch, { recursive: true, force: true });
  }
  partitions.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.specId - b.specId));
  return { partitions, skipped, bytesCopied };
}
