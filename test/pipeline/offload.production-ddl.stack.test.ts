// The production k2 dialect through the whole pipeline on the current ClickHouse engine (chdb, 26.9): the
// nine tables of reference/k2-platform.md created exactly as production has them, rows with edge values
// inserted, `offload init` + `offload run --all --json` run as the CLI runs (a child process, configured by
// the environment) against the chdb server, and every table read back by pyiceberg through the catalog:
// µs timestamps, exact Decimal(18,8)/Decimal128(8)/Decimal(38,8), UInt64 max, NULLs, empty and full maps and
// arrays, every kind of character, every enum value by name, booleans, UUIDs. Once with the extraction the
// server gets by default (Native), once forced to Parquet and once to CSV: every path must give the same rows.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { clickhouseFromEnv } from '../../src/config/env.js';
import { ClickHouseSource } from '../../src/clickhouse/client.js';
import { extractionPath } from '../../src/clickhouse/extract/format.js';
import { duckdbTypeOfColumn } from '../../src/mapping/clickhouse-to-iceberg.js';
import { startChdbServer, type ChdbServer } from '../support/chdb-server.js';
import { openWarehouse, pyiceberg, pyicebergSkip, sortRows, type PyRead, type Warehouse } from '../support/iceberg-tables.js';
import { freshPostgresDatabase, ROOT, stackEnv } from '../support/stack.js';
import {
  bronzeCanonical,
  bronzeInput,
  bronzeTrades,
  CANDLES,
  candleViews,
  D38_MAX,
  D38_MIN,
  DATABASE,
  expectedCandles,
  isoMicros,
  NASTY,
  offloadConfig,
  productionDdl,
  silverCanonical,
  silverInput,
  silverTrades,
  U64_MAX,
  utcDayStart,
} from '../support/k2-production.js';

// Two UTC days, two and three days back: inside every TTL (bronze keeps 7 days), and every candle closed.
const NOW = new Date();
const DAYS = [utcDayStart(NOW, 3), utcDayStart(NOW, 2)];
const BINANCE = bronzeTrades('binance', DAYS, 900);
const KRAKEN = bronzeTrades('kraken', DAYS, 600);
const SILVER = silverTrades(DAYS, 1500);
/** Small batches: every table takes several commits, so windows are bounded by watermarks (query parameters). */
const MAX_ROWS = 400;

let server: ChdbServer;

before(async () => {
  server = await startChdbServer();
  const ch = new ClickHouseSource({ url: server.url, username: 'default', password: '', database: 'default' });
  try {
    await ch.command(`CREATE DATABASE ${DATABASE}`);
    for (const sql of [...productionDdl(), ...candleViews()]) await ch.command(sql);
    const insert = (table: string, values: Array<Record<string, unknown>>) =>
      ch.run((c) => c.insert({ table: `${DATABASE}.${table}`, format: 'JSONEachRow', values }), `inserting into ${table}`);
    await insert('bronze_trades_binance', BINANCE.map(bronzeInput));
    await insert('bronze_trades_kraken', KRAKEN.map(bronzeInput));
    // Two inserts: the candle tables get two partial rows for the candles both halves touch.
    const half = Math.floor(SILVER.length / 2);
    await insert('silver_trades', SILVER.slice(0, half).map(silverInput));
    await insert('silver_trades', SILVER.slice(half).map(silverInput));
  } finally {
    await ch.close();
  }
});

after(async () => {
  await server?.stop();
});

describe('the production DDL on the current engine', () => {
  it('is the nine tables of the reference, with their engines, keys and TTLs', async () => {
    const ch = new ClickHouseSource({ url: server.url, username: 'default', password: '', database: 'default' });
    try {
      const tables = await ch.query<{
        name: string;
        engine: string;
        partition_key: string;
        sorting_key: string;
        create_table_query: string;
      }>(
        `SELECT name, engine, partition_key, sorting_key, create_table_query FROM system.tables WHERE database = '${DATABASE}' AND engine LIKE '%MergeTree' ORDER BY name`,
      );
      assert.deepEqual(
        tables.map((t) => `${t.name} ${t.engine}`),
        [
          'bronze_trades_binance MergeTree',
          'bronze_trades_kraken MergeTree',
          ...CANDLES.map((c) => `${c.table} SummingMergeTree`).sort(),
          'silver_trades MergeTree',
        ].sort(),
      );
      const silver = tables.find((t) => t.name === 'silver_trades')!;
      assert.equal(silver.partition_key, '(exchange, asset_class, toYYYYMMDD(timestamp))');
      assert.equal(silver.sorting_key, 'exchange, asset_class, canonical_symbol, timestamp');
      assert.match(silver.create_table_query, /TTL toDateTime\(timestamp\) \+ toIntervalDay\(30\)/);
      assert.match(tables.find((t) => t.name === 'ohlcv_1d')!.create_table_query, /TTL toDateTime\(window_start\) \+ toIntervalYear\(2\)/);
      const types = await ch.query<{ name: string; type: string }>(
        `SELECT name, type FROM system.columns WHERE database = '${DATABASE}' AND table = 'silver_trades'`,
      );
      const t = Object.fromEntries(types.map((c) => [c.name, c.type]));
      assert.equal(t.timestamp, "DateTime64(6, 'UTC')");
      assert.equal(t.price, 'Decimal(38, 8)');
      assert.equal(t.vendor_data, 'Map(String, String)');
      assert.equal(t.is_valid, 'Bool');
      assert.equal(t.source_sequence, 'Nullable(UInt64)');
      assert.equal(t.asset_class, "Enum8('equities' = 1, 'crypto' = 2, 'futures' = 3, 'options' = 4)");
      const [{ n }] = await ch.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${DATABASE}.silver_trades`);
      assert.equal(Number(n), SILVER.length);
    } finally {
      await ch.close();
    }
  });
});

const FORMATS = { auto: 'Native', parquet: 'Parquet', csv: 'CSV' } as const;
for (const format of ['auto', 'parquet', 'csv'] as const) {
  const path = format === 'auto' ? 'Native, chosen by default' : `${FORMATS[format]}, forced by OFFLOAD_EXTRACT_FORMAT`;
  describe(`offload run on the production DDL, current engine (${path})`, { skip: pyicebergSkip }, () => {
    let warehouse: Warehouse;
    let pg: Awaited<ReturnType<typeof freshPostgresDatabase>>;
    let dir: string;
    let env: Record<string, string>;
    const cli = (args: string[]) =>
      execa(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], {
        cwd: ROOT,
        env,
        extendEnv: false,
        reject: false,
        timeout: 600_000,
      });
    const read = (table: string) => pyiceberg<PyRead>({ catalogUrl: pg.url, catalogName: 'offload', warehouse }, ['read', table]);

    before(async () => {
      warehouse = await openWarehouse('s3');
      pg = await freshPostgresDatabase('k2cur');
      dir = await mkdtemp(join(tmpdir(), 'offload-k2cur-'));
      const configFile = join(dir, 'offload.config.json');
      await writeFile(configFile, JSON.stringify(offloadConfig(), null, 2));
      env = {
        ...stackEnv(),
        CLICKHOUSE_URL: server.url,
        DATABASE_URL: pg.url,
        OFFLOAD_WAREHOUSE: warehouse.url,
        OFFLOAD_CONFIG: configFile,
        OFFLOAD_WORK_DIR: dir,
        OFFLOAD_EXTRACT_FORMAT: format,
      };
      delete env.CLICKHOUSE_USER;
      delete env.CLICKHOUSE_PASSWORD;
    });

    after(async () => {
      await warehouse?.close();
      await pg?.drop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it(`the connection the CLI opens takes the ${FORMATS[format]} path and query parameters`, async () => {
      // As `offload run` builds it: the environment's connection, OFFLOAD_EXTRACT_FORMAT read from the same environment.
      const ch = new ClickHouseSource(clickhouseFromEnv(env), { env });
      try {
        const caps = await ch.capabilities();
        assert.ok(caps.queryParameters && caps.dateTime64 && caps.mapType && caps.boolType, caps.version);
        assert.equal((await ch.values()).usesParameters, true);
        const path = extractionPath(
          await ch.columns({ database: DATABASE, table: 'silver_trades' }),
          caps,
          'k2.silver_trades',
          duckdbTypeOfColumn,
        );
        assert.equal(path.format, FORMATS[format]);
      } finally {
        await ch.close();
      }
    });

    it('offload init, then offload run --all commits the nine tables in several batches each', async () => {
      const init = await cli(['init', '--json']);
      assert.equal(init.exitCode, 0, `offload init: ${init.stderr}`);
      const run = await cli(['run', '--all', '--json', '--max-rows', String(MAX_ROWS)]);
      assert.equal(run.exitCode, 0, `offload run: ${run.stderr}\n${run.stdout}`);
      const { results } = JSON.parse(run.stdout) as {
        results: Array<{
          table: string;
          status: string;
          rows: number;
          batches?: unknown[];
          watermark: { timestamp: string; tieBreak: string | null };
        }>;
      };
      const by = Object.fromEntries(results.map((r) => [r.table, r]));
      assert.deepEqual(
        results.map((r) => `${r.table}:${r.status}`).sort(),
        ['bronze_trades_binance', 'bronze_trades_kraken', 'silver_trades', ...CANDLES.map((c) => c.table)]
          .map((t) => `${t}:committed`)
          .sort(),
      );
      assert.equal(by.bronze_trades_binance.rows, BINANCE.length);
      assert.equal(by.bronze_trades_kraken.rows, KRAKEN.length);
      assert.equal(by.silver_trades.rows, SILVER.length);
      for (const c of CANDLES) assert.equal(by[c.table].rows, expectedCandles(SILVER, c).length, c.table);
      assert.ok(by.silver_trades.batches!.length >= Math.ceil(SILVER.length / MAX_ROWS), 'silver took several batches');
      // The newest binance rows share 23:59:59.999 of the last day; the largest tie-break among them is UInt64 max.
      assert.deepEqual(by.bronze_trades_binance.watermark, {
        timestamp: `${isoMicros(BINANCE[BINANCE.length - 1].exchange_timestamp)}Z`,
        tieBreak: U64_MAX,
      });
      assert.equal(run.stderr.includes('FAILED'), false, run.stderr);
    });

    it('pyiceberg reads every bronze value back exactly (ms timestamps, Decimal(18,8), UInt64 max, UInt16, every character)', async () => {
      let binance: PyRead | undefined;
      for (const [table, rows] of [
        ['cold.bronze_trades_binance', BINANCE],
        ['cold.bronze_trades_kraken', KRAKEN],
      ] as const) {
        const got = await read(table);
        binance ??= got;
        const types = Object.fromEntries(
          (got.schema as Array<{ name: string; type: unknown; required: boolean }>).map((f) => [f.name, f.type]),
        );
        assert.deepEqual(types, {
          exchange_timestamp: 'timestamptz',
          sequence_number: 'decimal(20, 0)',
          symbol: 'string',
          price: 'decimal(18, 8)',
          quantity: 'decimal(18, 8)',
          quote_volume: 'decimal(18, 8)',
          event_time: 'timestamptz',
          kafka_offset: 'decimal(20, 0)',
          kafka_partition: 'int',
          ingestion_timestamp: 'timestamptz',
        });
        assert.equal(got.row_count, rows.length);
        assert.deepEqual(sortRows(got.rows), sortRows(rows.map(bronzeCanonical)), table);
      }
      const edge = binance!.rows.find((r) => r.kafka_offset === U64_MAX)!;
      assert.equal(edge.symbol, NASTY.join('|'));
      assert.equal(edge.sequence_number, U64_MAX);
      assert.equal(edge.price, '9999999999.99999999');
      assert.equal(edge.quote_volume, '-9999999999.99999999');
      assert.equal(edge.kafka_partition, '65535');
      assert.match(String(edge.exchange_timestamp), /T23:59:59\.999000$/);
    });

    it('pyiceberg reads every silver value back exactly (µs, Decimal128(8) at 38 digits, Map, Array, Bool, UUID, Enum names, NULLs)', async () => {
      const got = await read('cold.silver_trades');
      const fields = got.schema as Array<{ name: string; type: unknown; required: boolean }>;
      const types = Object.fromEntries(fields.map((f) => [f.name, f.type]));
      assert.equal(types.message_id, 'uuid');
      assert.equal(types.asset_class, 'string');
      assert.equal(types.price, 'decimal(38, 8)');
      assert.equal(types.timestamp, 'timestamptz');
      assert.equal(types.is_valid, 'boolean');
      assert.equal(types.source_sequence, 'decimal(20, 0)');
      assert.equal(fields.find((f) => f.name === 'source_sequence')!.required, false);
      assert.deepEqual(types.vendor_data, {
        type: 'map',
        'key-id': (types.vendor_data as { 'key-id': number })['key-id'],
        key: 'string',
        'value-id': (types.vendor_data as { 'value-id': number })['value-id'],
        value: 'string',
        'value-required': true,
      });
      assert.equal((types.trade_conditions as { element: string }).element, 'string');
      assert.equal(got.row_count, SILVER.length);
      assert.deepEqual(sortRows(got.rows), sortRows(SILVER.map(silverCanonical)));

      const rows = got.rows;
      assert.deepEqual([...new Set(rows.map((r) => r.asset_class))].sort(), ['crypto', 'equities', 'futures', 'options']);
      assert.deepEqual([...new Set(rows.map((r) => r.side))].sort(), ['BUY', 'SELL', 'SELL_SHORT', 'UNKNOWN']);
      assert.ok(rows.some((r) => r.price === D38_MAX) && rows.some((r) => r.price === D38_MIN), '38-digit decimals');
      assert.ok(rows.some((r) => r.source_sequence === U64_MAX) && rows.some((r) => r.source_sequence === null), 'UInt64 max and NULL');
      assert.ok(rows.some((r) => r.is_valid === true) && rows.some((r) => r.is_valid === false), 'true and false');
      assert.ok(
        rows.some((r) => String(r.timestamp).endsWith('.000001')) && rows.some((r) => String(r.timestamp).endsWith('23:59:59.999999')),
        'µs at both ends',
      );
      assert.ok(
        rows.some((r) => JSON.stringify(r.vendor_data) === '{}') &&
          rows.some((r) => (r.vendor_data as Record<string, string>)['nul\0end'] === NASTY[3]),
        'empty and full maps',
      );
      assert.ok(
        rows.some((r) => (r.trade_conditions as string[]).length === 0) &&
          rows.some((r) => JSON.stringify(r.trade_conditions) === JSON.stringify(NASTY)),
        'empty and full arrays',
      );
      assert.ok(
        rows.some((r) => r.message_id === 'ffffffff-ffff-ffff-ffff-ffffffffffff') &&
          rows.some((r) => r.message_id === '00000000-0000-0000-0000-000000000000'),
        'UUIDs',
      );
    });

    it('pyiceberg reads the candles of every interval, re-aggregated from silver, equal to candles computed here', async () => {
      for (const c of CANDLES) {
        const got = await read(`cold.gold_${c.table}`);
        assert.deepEqual(sortRows(got.rows), sortRows(expectedCandles(SILVER, c)), c.table);
      }
    });

    it('a second run finds every table up to date and writes nothing', async () => {
      const run = await cli(['run', '--all', '--json']);
      assert.equal(run.exitCode, 0, run.stderr);
      const { results } = JSON.parse(run.stdout) as { results: Array<{ table: string; status: string }> };
      assert.deepEqual([...new Set(results.map((r) => r.status))], ['up-to-date']);
      const silver = await read('cold.silver_trades');
      assert.equal(silver.row_count, SILVER.length);
    });
  });
}
