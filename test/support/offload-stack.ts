// The offload engine's test bench on the real stack: a fresh ClickHouse database with the seed schema, a
// fresh PostgreSQL database with the migrations, a fresh S3 bucket as warehouse; configured tables; and
// the checks every test ends with — ClickHouse rows up to the watermark and the Iceberg table agree as
// multisets (DuckDB EXCEPT ALL both ways on canonical rows), the watermark equals the current snapshot's
// `offload.watermark`, and pyiceberg reads the table through the same catalog.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type pg from 'pg';
import { s3FromEnv } from '../../src/config/env.js';
import { validateTablesConfig, type TableConfig } from '../../src/config/tables.js';
import { clickhouseSourceFromEnv, type ClickHouseSource } from '../../src/clickhouse/client.js';
import { quoteIdentifier } from '../../src/clickhouse/sql.js';
import { upToWatermarkPredicate } from '../../src/clickhouse/window.js';
import { migrate } from '../../src/state/migrate.js';
import { createPool } from '../../src/state/pool.js';
import * as watermarks from '../../src/state/watermarks.js';
import { applySeedSchema } from '../../src/dev/schema.js';
import { JdbcCatalog, type Catalog } from '../../src/iceberg/catalog.js';
import { JdbcTableCatalog } from '../../src/iceberg/jdbc-table-catalog.js';
import { RestCatalog } from '../../src/iceberg/rest-catalog.js';
import { createFileIO, type FileIO } from '../../src/iceberg/io.js';
import { currentSchema, currentSnapshot } from '../../src/iceberg/metadata.js';
import { openDuckDB, type DuckDBSession } from '../../src/iceberg/parquet.js';
import type { IcebergType } from '../../src/iceberg/types.js';
import { sameWatermark } from '../../src/core/watermark.js';
import { snapshotWatermark } from '../../src/pipeline/stage.js';
import { sourceColumns, sourceShape } from '../../src/pipeline/source.js';
import { offloadTable, type OffloadDeps, type OffloadOptions, type OffloadResult } from '../../src/pipeline/offload.js';
import { offloadDepsOn } from '../../src/pipeline/services.js';
import { lowerBoundOf } from '../../src/pipeline/plan.js';
import { currentTable } from '../../src/pipeline/recover.js';
import { pyiceberg, pyicebergSkip, type PyRead } from './iceberg-tables.js';
import { dropRestNamespace, restCatalogEnv, restCatalogSettings } from './rest-catalog.js';
import { freshBucket, freshClickHouseDatabase, freshPostgresDatabase, ROOT, shippedConfig, stackEnv, uniqueName } from './stack.js';

export { pyicebergSkip };

export interface Bench {
  chDatabase: string;
  ch: ClickHouseSource;
  pgUrl: string;
  pool: pg.Pool;
  catalog: Catalog;
  io: FileIO;
  warehouse: string;
  /** The runs' work directory (OFFLOAD_WORK_DIR) of this bench's offloads. */
  workDir: string;
  deps: OffloadDeps;
  duck: DuckDBSession;
  /** The Iceberg namespace of the tables (`cold`; a REST bench's own, on a server every test shares). */
  namespace: string;
  /** What the CLI needs to commit to the bench's catalog (the JDBC catalog needs nothing more). */
  catalogEnv: Record<string, string>;
  /** The catalog pyiceberg reads through: the bench's PostgreSQL database, or the REST catalog's URI. */
  catalogUrl: string;
  close(): Promise<void>;
}

export interface BenchOptions {
  /** The catalog the offloads commit to (default jdbc, in the bench's PostgreSQL database; rest: the stack's REST catalog). */
  catalog?: 'jdbc' | 'rest';
}

export async function openBench(prefix: string, options: BenchOptions = {}): Promise<Bench> {
  const env = stackEnv();
  const chDb = await freshClickHouseDatabase(prefix);
  const ch = clickhouseSourceFromEnv(env, { settings: { allow_experimental_low_cardinality_type: 1 } });
  await applySeedSchema(ch, chDb.name);
  const pgDb = await freshPostgresDatabase(prefix);
  const pool = createPool({ connectionString: pgDb.url }, { max: 12 });
  await migrate(pool);
  const { warehouse } = await freshBucket(prefix);
  const io = createFileIO({ s3: s3FromEnv(env) });
  const isRest = options.catalog === 'rest';
  const catalog = isRest ? new RestCatalog(restCatalogSettings()) : new JdbcTableCatalog(new JdbcCatalog(pool), io, warehouse, pool);
  const namespace = isRest ? uniqueName(prefix).toLowerCase() : 'cold';
  const duck = await openDuckDB({ threads: 2, memoryLimit: '256MB' });
  // Runs' scratch of this bench alone: a gc with no safety age removes the work directories it cannot
  // vouch for, which in the shared temp folder would include other test files' running offloads.
  const workDir = await mkdtemp(join(tmpdir(), `bench-work-${prefix}-`));
  return {
    chDatabase: chDb.name,
    ch,
    pgUrl: pgDb.url,
    pool,
    catalog,
    io,
    warehouse,
    deps: offloadDepsOn({ clickhouse: ch, pool, catalog, io, warehouse, workDir }),
    workDir,
    duck,
    namespace,
    catalogEnv: isRest ? restCatalogEnv() : {},
    catalogUrl: isRest ? restCatalogSettings().uri : pgDb.url,
    close: async () => {
      duck.close();
      if (isRest) await dropRestNamespace(catalog, io, namespace).catch(() => undefined);
      io.close();
      await pool.end();
      await pgDb.drop();
      await ch.close();
      await chDb.drop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

const configDocs = new Map<string, Record<string, unknown>>();

/**
 * A configured table, validated like offload.config.json; `source` names a table of the bench's database; a
 * target in `cold` goes to the bench's namespace.
 */
export function tableConfig(bench: Bench, t: Record<string, unknown>): TableConfig {
  const doc = { ...t };
  if (typeof doc.source === 'string' && !doc.source.includes('.')) doc.source = `${bench.chDatabase}.${doc.source}`;
  if (typeof doc.target === 'string') doc.target = doc.target.replace(/^cold\./, `${bench.namespace}.`);
  const cfg = validateTablesConfig({ tables: [doc] }, 'test-config').tables[0];
  configDocs.set(cfg.name, doc);
  return cfg;
}

/** Writes an offload.config.json holding these tables (as tableConfig made them); returns its path. */
export async function writeConfigFile(cfgs: TableConfig[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'offload-cfg-'));
  const file = join(dir, 'offload.config.json');
  await writeFile(file, JSON.stringify({ tables: cfgs.map((c) => configDocs.get(c.name)) }, null, 2));
  return file;
}

export interface CliResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

/** Runs the `offload` CLI from source in a child process against the bench's databases and bucket. */
export async function runCli(
  bench: Bench,
  args: string[],
  options: { config?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const env = stackEnv();
  const r = await execa(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], {
    cwd: ROOT,
    env: {
      ...env,
      DATABASE_URL: bench.pgUrl,
      OFFLOAD_WAREHOUSE: bench.warehouse,
      OFFLOAD_WORK_DIR: bench.workDir,
      ...bench.catalogEnv,
      ...(options.config ? { OFFLOAD_CONFIG: options.config } : {}),
      OFFLOAD_FAULT: '',
      ...options.env,
    },
    reject: false,
    timeout: options.timeoutMs ?? 180_000,
    stdin: 'ignore',
  });
  return {
    exitCode: r.exitCode ?? undefined,
    signal: r.signal ?? undefined,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
  };
}

export function bronzeConfig(bench: Bench, exchange: 'binance' | 'kraken', extra: Record<string, unknown> = {}): TableConfig {
  return tableConfig(bench, {
    name: `bronze_trades_${exchange}`,
    layer: 'bronze',
    source: `bronze_trades_${exchange}`,
    cursor: 'exchange_timestamp',
    tieBreak: 'kafka_offset',
    lag: '5m',
    target: `cold.bronze_trades_${exchange}`,
    partitionBy: ['day(exchange_timestamp)'],
    ...extra,
  });
}

export function offload(bench: Bench, cfg: TableConfig, options: OffloadOptions = {}): Promise<OffloadResult> {
  return offloadTable(cfg, bench.deps, options);
}

// ─── Canonical rows ────────────────────────────────────────────────────────────────────────────────
// Both sides in the form iceberg_check.py prints: integers and decimals as exact text, timestamps as
// `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC), strings as themselves, lists as arrays. ClickHouse makes its side
// with its own functions (not through the extraction path under test).

function chCanonical(name: string, t: IcebergType): string {
  const c = quoteIdentifier(name);
  if (typeof t === 'string') {
    if (t === 'timestamptz')
      return `if(isNull(${c}), NULL, concat(formatDateTime(toDateTime(${c}, 'UTC'), '%Y-%m-%dT%H:%M:%S'), '.000000'))`;
    if (t === 'date') return `toString(${c})`;
    if (t === 'string') return c;
    if (t === 'double' || t === 'float') return `toFloat64(${c})`;
    return `toString(${c})`; // long, int, decimal, uuid
  }
  if (t.type === 'list') return c; // arrays of strings only in the seed schema: JSON arrays of strings
  throw new Error(`no ClickHouse canonical form for ${JSON.stringify(t)}`);
}

const sortedJson = (r: Record<string, unknown>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));

/** ClickHouse rows of a configured table at or below its committed watermark, canonical JSON text. */
export async function clickhouseRowsUpToWatermark(bench: Bench, cfg: TableConfig): Promise<string[]> {
  const state = await watermarks.read(bench.pool, cfg.name);
  if (!state || state.committedRunId === null) return [];
  const table = await currentTable(bench.catalog, bench.io, { namespace: cfg.targetNamespace.join('.'), name: cfg.targetTable });
  assert.ok(table, `${cfg.target} exists`);
  const schema = currentSchema(table.metadata);
  const caps = await bench.ch.capabilities();
  const shape = sourceShape(cfg, await sourceColumns(bench.ch, cfg), caps);
  const where = upToWatermarkPredicate(shape.window, lowerBoundOf(state.watermark, true));
  const select = schema.fields.map((f) => `${chCanonical(f.name, f.type)} AS ${quoteIdentifier(f.name)}`).join(', ');
  const rows = await bench.ch.query<Record<string, unknown>>(`SELECT ${select} FROM (SELECT * FROM ${shape.window.from} WHERE ${where})`, {
    settings: { output_format_json_quote_64bit_integers: 1, ...(cfg.query ? { enable_optimize_predicate_expression: 1 } : {}) },
  });
  return rows.map((r) => sortedJson(r));
}

export interface Agreement {
  clickhouseRows: number;
  icebergRows: number;
  read: PyRead;
}

/**
 * The end-of-test checks: the watermark equals the current snapshot's offload.watermark; pyiceberg reads the
 * table; its rows and ClickHouse's rows up to the watermark are the same multiset (EXCEPT ALL both ways).
 */
export async function assertAgree(bench: Bench, cfg: TableConfig): Promise<Agreement> {
  const ident = { namespace: cfg.targetNamespace.join('.'), name: cfg.targetTable };
  const table = await currentTable(bench.catalog, bench.io, ident);
  const state = await watermarks.read(bench.pool, cfg.name);
  assert.ok(state, 'a watermark row');
  if (!table || !currentSnapshot(table.metadata)) {
    assert.equal(state.committedRunId, null, 'no snapshot, so nothing may have been committed');
    return { clickhouseRows: 0, icebergRows: 0, read: undefined as never };
  }
  assert.ok(
    sameWatermark(state.watermark, snapshotWatermark(table.metadata)),
    `watermark ${JSON.stringify(state.watermark)} = snapshot's ${JSON.stringify(snapshotWatermark(table.metadata))}`,
  );
  const ch = await clickhouseRowsUpToWatermark(bench, cfg);
  const read = await pyiceberg<PyRead>(
    {
      catalogUrl: bench.catalogUrl,
      catalogName: 'offload',
      warehouse: { kind: 's3', url: bench.warehouse, io: bench.io, pyEnv: pyEnv(), close: async () => {} },
    },
    ['read', cfg.target],
  );
  const ice = read.rows.map((r) => sortedJson(r));
  const c = bench.duck.connection;
  const load = async (name: string, rows: string[]) => {
    await c.run(`CREATE OR REPLACE TEMP TABLE ${name} (j VARCHAR)`);
    const appender = await c.createAppender(name);
    for (const r of rows) {
      appender.appendVarchar(r);
      appender.endRow();
    }
    appender.closeSync();
  };
  await load('ch_rows', ch);
  await load('ice_rows', ice);
  const missing = (await c.runAndReadAll(`SELECT j FROM ch_rows EXCEPT ALL SELECT j FROM ice_rows`)).getRowObjectsJS();
  const extra = (await c.runAndReadAll(`SELECT j FROM ice_rows EXCEPT ALL SELECT j FROM ch_rows`)).getRowObjectsJS();
  assert.deepEqual(missing.slice(0, 3), [], `${missing.length} ClickHouse row(s) up to the watermark are not in Iceberg`);
  assert.deepEqual(
    extra.slice(0, 3),
    [],
    `${extra.length} Iceberg row(s) are not in ClickHouse up to the watermark (duplicates or strays)`,
  );
  assert.equal(read.row_count, ch.length);
  return { clickhouseRows: ch.length, icebergRows: read.row_count, read };
}

function pyEnv(): Record<string, string> {
  const env = stackEnv();
  return {
    S3_ENDPOINT: env.AWS_ENDPOINT_URL_S3,
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: env.AWS_REGION,
  };
}

/** A new, empty table shaped like the bronze tables (no views feed from it), for a test of its own. */
export async function bronzeLikeTable(bench: Bench, name: string): Promise<string> {
  await bench.ch.command(
    `CREATE TABLE ${quoteIdentifier(bench.chDatabase)}.${quoteIdentifier(name)} AS ${quoteIdentifier(bench.chDatabase)}.bronze_trades_kraken`,
  );
  return name;
}

/** Inserts bronze rows given as objects (times as 'YYYY-MM-DD hh:mm:ss' UTC) into a bronze table (or one made by bronzeLikeTable). */
export async function insertBronze(bench: Bench, table: string, rows: Array<Partial<BronzeRow>>): Promise<void> {
  const full = rows.map((r, i) => ({ ...defaultBronze(i), ...r }));
  const values = full
    .map(
      (r) =>
        `(toDateTime('${r.exchange_timestamp}', 'UTC'), ${r.exchange_timestamp_ms}, ${r.sequence_number}, '${r.symbol}', ${r.price}, ${r.quantity}, ${r.quote_volume}, toDateTime('${r.event_time}', 'UTC'), ${r.event_time_ms}, ${r.kafka_offset}, ${r.kafka_partition}, toDateTime('${r.ingestion_timestamp}', 'UTC'))`,
    )
    .join(', ');
  await bench.ch.command(`INSERT INTO ${quoteIdentifier(bench.chDatabase)}.${quoteIdentifier(table)} VALUES ${values}`);
}

export interface BronzeRow {
  exchange_timestamp: string;
  exchange_timestamp_ms: number;
  sequence_number: string;
  symbol: string;
  price: string;
  quantity: string;
  quote_volume: string;
  event_time: string;
  event_time_ms: number;
  kafka_offset: string;
  kafka_partition: number;
  ingestion_timestamp: string;
}

function defaultBronze(i: number): BronzeRow {
  return {
    exchange_timestamp: '2024-01-01 00:00:00',
    exchange_timestamp_ms: i % 1000,
    sequence_number: String(1000 + i),
    symbol: 'BTCUSDT',
    price: '42000.12345678',
    quantity: '0.00100000',
    quote_volume: '42.00012346',
    event_time: '2024-01-01 00:00:00',
    event_time_ms: i % 1000,
    kafka_offset: String(i),
    kafka_partition: 0,
    ingestion_timestamp: '2024-01-01 00:00:01',
  };
}

/** 'YYYY-MM-DD hh:mm:ss' (UTC) of a Date. */
export function chTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/** The project's offload.config.json, pointed at the bench's ClickHouse database instead of `k2`. */
export function projectTables(bench: Bench): TableConfig[] {
  const doc = JSON.parse(shippedConfig(bench.chDatabase)) as { tables: Array<Record<string, unknown>> };
  return doc.tables.map(({ comment: _comment, ...t }) => tableConfig(bench, t));
}
