// Fixtures for tests of whole Iceberg tables: a warehouse on the stack's S3 server or on local disk,
// a catalog in a fresh PostgreSQL database, rows made in DuckDB and written as data files through
// parquet.ts, the canonical form of rows both we and the Python readers compare, and the pyiceberg
// check (test/support/iceberg_check.py) run against the same catalog and storage.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type pg from 'pg';
import { s3FromEnv } from '../../src/config/env.js';
import { createPool } from '../../src/state/pool.js';
import { migrate } from '../../src/state/migrate.js';
import { JdbcCatalog } from '../../src/iceberg/catalog.js';
import { createFileIO, type FileIO } from '../../src/iceberg/io.js';
import { currentSchema, defaultSpec } from '../../src/iceberg/metadata.js';
import { openDuckDB, writeDataFiles, type DuckDBSession } from '../../src/iceberg/parquet.js';
import { partitionSpecFromConfig } from '../../src/iceberg/partition.js';
import { duckdbType } from '../../src/iceberg/schema.js';
import { icebergSchemaFromColumns } from '../../src/mapping/clickhouse-to-iceberg.js';
import type { ColumnInfo } from '../../src/clickhouse/types.js';
import { dataLocation, type Table } from '../../src/iceberg/table.js';
import type { DataFile, IcebergType, PartitionSpec, Schema } from '../../src/iceberg/types.js';
import { freshBucket, freshPostgresDatabase, ROOT, stackEnv, verificationPython } from './stack.js';

export type StorageKind = 's3' | 'file';

/** Where a test's tables live, and the FileIO to reach it. */
export interface Warehouse {
  kind: StorageKind;
  /** `s3://<fresh bucket>/iceberg` or `file:///tmp/…` */
  url: string;
  io: FileIO;
  /** What pyiceberg needs to reach the same storage. */
  pyEnv: Record<string, string>;
  close(): Promise<void>;
}

export async function openWarehouse(kind: StorageKind): Promise<Warehouse> {
  const env = stackEnv();
  if (kind === 's3') {
    const { warehouse } = await freshBucket('ice');
    const io = createFileIO({ s3: s3FromEnv(env) });
    return {
      kind,
      url: warehouse,
      io,
      pyEnv: {
        S3_ENDPOINT: env.AWS_ENDPOINT_URL_S3,
        AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
        AWS_REGION: env.AWS_REGION,
      },
      close: async () => io.close(),
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'offload-iceberg-'));
  const io = createFileIO();
  return { kind, url: `file://${dir}`, io, pyEnv: {}, close: async () => rm(dir, { recursive: true, force: true }) };
}

/** A catalog in a fresh PostgreSQL database with the migrations applied. */
export interface CatalogDatabase {
  url: string;
  pool: pg.Pool;
  catalog: JdbcCatalog;
  close(): Promise<void>;
}

export async function openCatalog(prefix = 'ice'): Promise<CatalogDatabase> {
  const db = await freshPostgresDatabase(prefix);
  const pool = createPool({ connectionString: db.url });
  await migrate(pool);
  return {
    url: db.url,
    pool,
    catalog: new JdbcCatalog(pool),
    close: async () => {
      await pool.end();
      await db.drop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Rows → data files

export async function openDuck(): Promise<DuckDBSession> {
  const duck = await openDuckDB({ threads: 2, memoryLimit: '256MB' });
  await duck.connection.run(`SET TimeZone = 'UTC'`);
  return duck;
}

/** Writes the rows of `relation` (a DuckDB query) as the table's data files, uploads them under its data location, and returns their DataFiles. */
export async function writeRows(
  duck: DuckDBSession,
  table: Table,
  io: FileIO,
  relation: string,
  options: { prefix: string; targetFileSizeBytes?: number },
): Promise<DataFile[]> {
  const dir = await mkdtemp(join(tmpdir(), 'offload-rows-'));
  try {
    const written = await writeDataFiles({
      connection: duck.connection,
      relation,
      schema: currentSchema(table.metadata),
      partitionSpec: defaultSpec(table.metadata),
      targetFileSizeBytes: options.targetFileSizeBytes ?? 64 * 1024 * 1024,
      outputDir: dir,
      fileNamePrefix: options.prefix,
      dataLocation: dataLocation(table),
    });
    for (const w of written) await io.write(w.dataFile.filePath, { file: w.localPath });
    return written.map((w) => w.dataFile);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Canonical rows: long/int/decimal as exact text, timestamps as `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC),
// dates as `YYYY-MM-DD`, uuids as text, doubles as numbers, lists as arrays, maps as objects, structs
// as objects (see iceberg_check.py, which produces the same form from what pyiceberg reads).

export type CanonicalRow = Record<string, unknown>;

function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

let lambdaCounter = 0;

/** A DuckDB expression that turns `expr` (of the Iceberg type's DuckDB type) into its canonical JSON form. */
export function canonicalSql(t: IcebergType, expr: string): string {
  if (typeof t === 'string') {
    if (t.startsWith('decimal') || t === 'long' || t === 'int' || t === 'uuid') return `CAST(${expr} AS VARCHAR)`;
    switch (t) {
      case 'string':
      case 'boolean':
      case 'double':
        return expr;
      case 'float':
        return `CAST(${expr} AS DOUBLE)`;
      case 'date':
        return `strftime(${expr}, '%Y-%m-%d')`;
      case 'timestamptz':
        return `strftime(${expr} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%f')`;
      case 'timestamp':
        return `strftime(${expr}, '%Y-%m-%dT%H:%M:%S.%f')`;
    }
    throw new Error(`no canonical form for ${t}`);
  }
  const v = `x${lambdaCounter++}`;
  if (t.type === 'list') return `list_transform(${expr}, lambda ${v}: ${canonicalSql(t.element, v)})`;
  if (t.type === 'map')
    return `map_from_entries(list_transform(map_entries(${expr}), lambda ${v}: {'key': CAST(${canonicalSql(t.key, `${v}.key`)} AS VARCHAR), 'value': ${canonicalSql(t.value, `${v}.value`)}}))`;
  const fields = t.fields.map((f) => `${sqlString(f.name)}: ${canonicalSql(f.type, `(${expr}).${sqlIdentifier(f.name)}`)}`);
  return `CASE WHEN ${expr} IS NULL THEN NULL ELSE {${fields.join(', ')}} END`;
}

/** The rows of `relation` in canonical form, as the table's schema stores them (columns cast to their Iceberg types first), sorted. */
export async function canonicalRows(duck: DuckDBSession, schema: Schema, relation: string): Promise<CanonicalRow[]> {
  const stored = schema.fields.map((f) => `CAST(${sqlIdentifier(f.name)} AS ${duckdbType(f.type)}) AS ${sqlIdentifier(f.name)}`).join(', ');
  const json = schema.fields.map((f) => `${sqlString(f.name)}: ${canonicalSql(f.type, sqlIdentifier(f.name))}`).join(', ');
  const reader = await duck.connection.runAndReadAll(
    `SELECT CAST(to_json({${json}}) AS VARCHAR) AS j FROM (SELECT ${stored} FROM (${relation}))`,
  );
  return sortRows(reader.getRowObjectsJS().map((r) => JSON.parse(String(r.j)) as CanonicalRow));
}

/** Rows in a stable order (by their JSON text with sorted keys), so two readers' results compare with deepEqual. */
export function sortRows(rows: CanonicalRow[]): CanonicalRow[] {
  const key = (r: unknown): string =>
    JSON.stringify(r, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v,
    );
  return [...rows]
    .map((r) => [key(r), r] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, r]) => r);
}

/** The schema's fields as pyiceberg's check prints them (ids, names, types, required; docs left out). */
export function schemaJson(schema: { fields: Schema['fields'] }): unknown[] {
  const type = (t: IcebergType): unknown => {
    if (typeof t === 'string') return t;
    if (t.type === 'list')
      return { type: 'list', 'element-id': t['element-id'], element: type(t.element), 'element-required': t['element-required'] };
    if (t.type === 'map')
      return {
        type: 'map',
        'key-id': t['key-id'],
        key: type(t.key),
        'value-id': t['value-id'],
        value: type(t.value),
        'value-required': t['value-required'],
      };
    return { type: 'struct', fields: schemaJson(t) };
  };
  return schema.fields.map((f) => ({ id: f.id, name: f.name, required: f.required, type: type(f.type) }));
}

// ---------------------------------------------------------------------------------------------
// pyiceberg

const python = verificationPython();

/** Why the pyiceberg checks cannot run here, or false. */
export const pyicebergSkip: string | false = !python
  ? 'no verification venv (.venv): run dev/python-env.sh'
  : (await execa(python, ['-c', 'import pyiceberg.catalog.sql, pyarrow, psycopg2, duckdb'], { reject: false })).exitCode !== 0
    ? 'the venv lacks pyiceberg[sql-postgres]/pyarrow/duckdb: run dev/python-env.sh'
    : false;

const CHECK_SCRIPT = `${ROOT}test/support/iceberg_check.py`;

export interface PyicebergContext {
  catalogUrl: string;
  catalogName: string;
  // Only where the tables are is used: a stack corner's warehouse (no FileIO of the test's own) will do.
  warehouse: Pick<Warehouse, 'url' | 'pyEnv'> & Partial<Warehouse>;
}

/** Runs iceberg_check.py with the catalog and storage of `ctx`; returns its JSON output. */
export async function pyiceberg<T>(ctx: PyicebergContext, args: string[], input?: unknown): Promise<T> {
  const r = await execa(python!, [CHECK_SCRIPT, ...args], {
    env: {
      CATALOG: ctx.catalogName,
      CATALOG_URI: ctx.catalogUrl.replace(/^postgres(ql)?:\/\//, 'postgresql+psycopg2://'),
      WAREHOUSE: ctx.warehouse.url,
      ...ctx.warehouse.pyEnv,
    },
    input: input === undefined ? undefined : JSON.stringify(input),
    reject: false,
    timeout: 300_000,
  });
  if (r.exitCode !== 0) throw new Error(`iceberg_check.py ${args.join(' ')} failed (exit ${r.exitCode}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

/** What `iceberg_check.py read` prints. */
export interface PyRead {
  metadata_location: string;
  format_version: number;
  location: string;
  schema_id: number;
  schema: unknown[];
  schemas: Array<{ schema_id: number; fields: unknown[] }>;
  last_column_id: number;
  spec: Array<{ name: string; field_id: number; source_id: number; transform: string }>;
  current_snapshot_id: string | null;
  snapshots: Array<{
    snapshot_id: string;
    parent_snapshot_id: string | null;
    sequence_number: number;
    timestamp_ms: number;
    schema_id: number | null;
    manifest_list: string;
    operation: string | null;
    summary: Record<string, string>;
  }>;
  snapshot_log: Array<{ snapshot_id: string; timestamp_ms: number }>;
  metadata_log: string[];
  properties: Record<string, string>;
  row_count: number;
  rows: CanonicalRow[];
  files: Array<{ path: string; record_count: number; file_size_in_bytes: number; spec_id: number; partition: Record<string, unknown> }>;
  entries: Array<{ status: number; snapshot_id: string; sequence_number: number; path: string }>;
  partitions: Array<{ partition: Record<string, unknown>; record_count: number; file_count: number }>;
  history?: Array<{ snapshot_id: string; row_count: number }>;
  snapshot_rows?: Record<string, CanonicalRow[]>;
  duckdb_rows?: CanonicalRow[];
}

// ---------------------------------------------------------------------------------------------
// Test data: trades with every type the ClickHouse mapping produces, made in DuckDB.

/** A trades table in the production dialect (docs/architecture.md "Type mapping"), as the offload would see it. */
export const TRADE_COLUMNS: ColumnInfo[] = [
  { name: 'trade_id', type: 'Int64' },
  { name: 'exchange', type: 'LowCardinality(String)' },
  { name: 'symbol', type: 'LowCardinality(Nullable(String))' },
  { name: 'exchange_timestamp', type: "DateTime64(6, 'UTC')" },
  { name: 'price', type: 'Decimal128(8)' },
  { name: 'quantity', type: 'Nullable(Decimal(18, 8))' },
  { name: 'trade_date', type: 'Nullable(Date)' },
  { name: 'side', type: "Enum8('BUY' = 1, 'SELL' = 2)" },
  { name: 'is_buyer_maker', type: 'Nullable(Bool)' },
  { name: 'sequence_number', type: 'Nullable(UInt64)' },
  { name: 'message_id', type: 'Nullable(UUID)' },
  { name: 'fee_rate', type: 'Nullable(Float64)' },
  { name: 'level', type: 'Nullable(Int32)' },
  { name: 'trade_conditions', type: 'Array(Nullable(String))' },
  { name: 'vendor_data', type: 'Map(String, Nullable(String))' },
  { name: 'origin', type: 'Tuple(venue String, latency_us Nullable(Int64))' },
];

export function tradesSchema(): Schema {
  return icebergSchemaFromColumns('k2.trades', TRADE_COLUMNS);
}

export function tradesSpec(schema: Schema, expressions: string[] = ['day(exchange_timestamp)', 'exchange']): PartitionSpec {
  return partitionSpecFromConfig(schema, expressions);
}

const uuidOf = (h: string): string =>
  `CAST(substr(${h}, 1, 8) || '-' || substr(${h}, 9, 4) || '-' || substr(${h}, 13, 4) || '-' || substr(${h}, 17, 4) || '-' || substr(${h}, 21, 12) AS UUID)`;

/**
 * `count` deterministic trades with ids from `firstId`, spread over 2026-02-10..12 (UTC) and three
 * exchanges, with NULLs, empty strings, unicode, 8-digit decimals, microseconds, lists and maps.
 * `days` narrows the spread: e.g. [1] puts every row on 2026-02-11.
 */
export function tradesSql(firstId: number, count: number, options: { days?: number[]; exchanges?: string[] } = {}): string {
  const days = options.days ?? [0, 1, 2];
  const exchanges = options.exchanges ?? ['binance', 'kraken', 'coinbase'];
  const dayList = `[${days.join(', ')}]`;
  const exchangeList = `[${exchanges.map(sqlString).join(', ')}]`;
  return `SELECT
    CAST(i AS BIGINT) AS trade_id,
    ${exchangeList}[1 + CAST(i % ${exchanges.length} AS INTEGER)] AS exchange,
    CASE WHEN i % 11 = 0 THEN NULL WHEN i % 13 = 0 THEN '' ELSE ['BTCUSDT', 'ETHUSDT', 'SOL/€', '日本円 🚀'][1 + CAST(i % 4 AS INTEGER)] END AS symbol,
    make_timestamptz(epoch_us(TIMESTAMPTZ '2026-02-10 00:00:00+00') + ${dayList}[1 + CAST((i // 3) % ${days.length} AS INTEGER)] * 86400000000 + (i * 982451653) % 86400000000) AS exchange_timestamp,
    CAST(format('{}.{:08d}', i % 100000, (i * 7919) % 100000000) AS DECIMAL(38, 8)) AS price,
    CASE WHEN i % 7 = 0 THEN NULL ELSE CAST(format('{}.{:08d}', i % 1000, (i * 104729) % 100000000) AS DECIMAL(18, 8)) END AS quantity,
    CASE WHEN i % 5 = 0 THEN NULL ELSE DATE '2026-02-10' + CAST(i % 3 AS INTEGER) END AS trade_date,
    CASE WHEN i % 2 = 0 THEN 'BUY' ELSE 'SELL' END AS side,
    CASE WHEN i % 17 = 0 THEN NULL ELSE i % 2 = 1 END AS is_buyer_maker,
    CASE WHEN i % 19 = 0 THEN NULL ELSE CAST(18446744073709551615 - i AS DECIMAL(20, 0)) END AS sequence_number,
    CASE WHEN i % 23 = 0 THEN NULL ELSE ${uuidOf('md5(CAST(i AS VARCHAR))')} END AS message_id,
    CASE WHEN i % 29 = 0 THEN NULL ELSE CAST(i AS DOUBLE) / 1024 END AS fee_rate,
    CASE WHEN i % 31 = 0 THEN NULL ELSE CAST(i % 50 AS INTEGER) END AS level,
    CAST(CASE i % 4 WHEN 0 THEN [] WHEN 1 THEN ['a'] WHEN 2 THEN ['x', NULL, ''] ELSE ['ü', 'β'] END AS VARCHAR[]) AS trade_conditions,
    CAST(CASE i % 3 WHEN 0 THEN MAP([], []) WHEN 1 THEN MAP(['maker', 'note'], ['yes', NULL]) ELSE MAP(['ключ', ''], ['値', '']) END AS MAP(VARCHAR, VARCHAR)) AS vendor_data,
    {'venue': CASE WHEN i % 2 = 0 THEN 'fra' ELSE 'nrt' END, 'latency_us': CASE WHEN i % 37 = 0 THEN NULL ELSE i * 3 END} AS origin
  FROM range(${firstId}, ${firstId + count}) AS t(i)`;
}

/** Hand-made trades at the edges: the extremes of each type, NULL in every optional column, a timestamp before 1970. */
export const EDGE_TRADES_SQL = `SELECT * FROM (VALUES
  (900000001, 'binance', 'BTCUSDT', TIMESTAMPTZ '2026-02-11 00:00:00.000001+00', 97000.12345678, 0.00000001, DATE '2026-02-11', 'BUY', true,
   18446744073709551615, '0191e3b2-7c4a-7d2e-9f00-1234567890ab', 0.001, 2147483647, ['a', NULL, ''], MAP(['k', 'empty', 'null'], ['v', '', NULL]),
   {'venue': 'fra', 'latency_us': 9223372036854775807}),
  (900000002, 'kraken', NULL, TIMESTAMPTZ '2026-02-11 23:59:59.999999+00', -0.00000001, NULL, NULL, 'SELL', NULL,
   NULL, NULL, NULL, NULL, [], MAP([], []), {'venue': '', 'latency_us': NULL}),
  (900000003, 'kraken', '', TIMESTAMPTZ '2026-02-12 12:34:56.789012+00', 0, 9999999999.99999999, DATE '1970-01-01', 'BUY', false,
   0, '00000000-0000-0000-0000-000000000000', -1.5e-300, -2147483648, ['ÉTH/€ — 日本 🚀'], MAP(['ключ'], ['値 🚀']),
   {'venue': 'ünïcødé', 'latency_us': -1}),
  (900000004, 'coinbase', 'ÉTH/€ — 日本 🚀', TIMESTAMPTZ '1969-12-31 23:59:59.999999+00', 99999999999999999999999999999.99999999, -9999999999.99999999, DATE '1969-12-31', 'SELL', true,
   1, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 1.7976931348623157e308, 0, ['x'], MAP(['a'], ['b']),
   {'venue': 'nrt', 'latency_us': 0})
) AS v(trade_id, exchange, symbol, exchange_timestamp, price, quantity, trade_date, side, is_buyer_maker,
       sequence_number, message_id, fee_rate, level, trade_conditions, vendor_data, origin)`;
