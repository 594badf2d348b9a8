// The per-partition checksum on the current ClickHouse engine (chdb, 26.9): the nine k2 tables in the
// production DDL with edge values (µs timestamps, Decimal128 at its limits, UInt64 max, NUL bytes, every
// kind of character, maps, enums, booleans, UUIDs), plus a table of the types the seed has not
// (Float32/64 with NaN, ±inf, −0 and subnormals, Date32 before 1970, DateTime64(9) before 1970 with
// nanoseconds, FixedString with trailing NULs, Tuple, Map with NULL values, arrays of nullable decimals,
// Enum16 with negative values), offloaded by the CLI; then ClickHouse's numbers over its rows up to the
// watermark and DuckDB's over the Parquet files agree on every partition.
import { JdbcTableCatalog } from '../../src/iceberg/jdbc-table-catalog.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { validateTablesConfig, type TableConfig } from '../../src/config/tables.js';
import { ClickHouseSource } from '../../src/clickhouse/client.js';
import { createPool } from '../../src/state/pool.js';
import { JdbcCatalog } from '../../src/iceberg/catalog.js';
import { openDuckDB, type DuckDBSession } from '../../src/iceberg/parquet.js';
import { startChdbServer, type ChdbServer } from '../support/chdb-server.js';
import { assertSidesAgree, checksumBothSides } from '../support/checksums.js';
import { openWarehouse, pyicebergSkip, type Warehouse } from '../support/iceberg-tables.js';
import { freshPostgresDatabase, ROOT, stackEnv } from '../support/stack.js';
import { bronzeTrades, DATABASE, loadProductionK2, offloadConfig, silverTrades, utcDayStart } from '../support/k2-production.js';

const NOW = new Date();
const DAYS = [utcDayStart(NOW, 3), utcDayStart(NOW, 2)];

const EDGE_DDL = `CREATE TABLE ${DATABASE}.edge_values (
    id UInt32,
    ts DateTime64(9, 'UTC'),
    f32 Float32,
    f64 Nullable(Float64),
    d32 Date32,
    dt DateTime,
    fs FixedString(4),
    tup Tuple(a String, b Nullable(Int64)),
    m Map(String, Nullable(String)),
    an Array(Nullable(Decimal(38, 8))),
    b Nullable(Bool),
    u Nullable(UUID),
    e Enum16('minus' = -5, 'big' = 300),
    i8 Int8,
    u64 UInt64,
    lc LowCardinality(Nullable(String)),
    d9 Decimal(9, 3)
) ENGINE = MergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (ts, id)`;

/** Rows at the edges of each type; two days, one of them before 1970. */
const EDGE_ROWS = `INSERT INTO ${DATABASE}.edge_values VALUES
  (1, '1969-12-31 23:59:59.123456789', nan, -nan, '1969-12-31', '1970-01-01 00:00:00', 'a\\0\\0\\0', ('', NULL), map('k', NULL, '', ''), [NULL, -0.00000001, 99999999999999999999999999999.99999999], NULL, NULL, 'minus', -128, 18446744073709551615, NULL, -999999.999),
  (2, '1969-12-31 00:00:00.000000001', inf, -inf, '1900-01-01', '2106-02-07 06:28:15', 'abcd', ('x\\ty', 9223372036854775807), map(), [], true, '00000000-0000-0000-0000-000000000000', 'big', 127, 0, '', 0.001),
  (3, '2026-02-10 12:34:56.789012345', -0.0, 5e-324, '2100-12-31', '2026-02-10 12:34:56', '\\0\\0\\0\\0', ('日本 😀', -1), map('z', 'last', 'a', 'first'), [1.5], false, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'minus', 0, 1, 'x', 0),
  (4, '2026-02-10 23:59:59.999999999', 3.4028235e38, 2.2250738585072014e-308, '2026-02-10', '2026-02-10 23:59:59', 'ab\\0d', ('', 0), map('k', 'v'), [-99999999999999999999999999999.99999999, NULL], true, '0191e3b2-7c4a-7d2e-9f00-1234567890ab', 'big', -1, 9223372036854775808, 'LowCard', 123456.789),
  (5, '2026-02-10 00:00:00', 0.1, 0.1, '2026-02-10', '2026-02-10 00:00:00', 'zz\\0\\0', ('quote''s', NULL), map('ключ', '値'), [0], NULL, NULL, 'big', 1, 42, NULL, -0.5)`;

let server: ChdbServer;

before(async () => {
  server = await startChdbServer();
  const ch = new ClickHouseSource({ url: server.url, username: 'default', password: '', database: 'default' });
  try {
    await loadProductionK2(
      ch,
      { binance: bronzeTrades('binance', DAYS, 500), kraken: bronzeTrades('kraken', DAYS, 300), silver: silverTrades(DAYS, 800) },
      [EDGE_DDL],
    );
    await ch.command(EDGE_ROWS);
  } finally {
    await ch.close();
  }
});

after(async () => {
  await server?.stop();
});

describe('per-partition checksums, the current ClickHouse engine against the offloaded Iceberg tables', {
  skip: pyicebergSkip || undefined,
}, () => {
  let warehouse: Warehouse;
  let pg: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let dir: string;
  let env: Record<string, string>;
  let tables: TableConfig[];

  before(async () => {
    warehouse = await openWarehouse('s3');
    pg = await freshPostgresDatabase('cksumcur');
    dir = await mkdtemp(join(tmpdir(), 'offload-cksum-'));
    const doc = offloadConfig();
    doc.tables.push({
      name: 'edge_values',
      layer: 'bronze',
      source: `${DATABASE}.edge_values`,
      cursor: 'ts',
      tieBreak: 'id',
      lag: '5m',
      target: 'cold.edge_values',
      partitionBy: ['day(ts)'],
    });
    tables = validateTablesConfig(doc, 'test').tables;
    const configFile = join(dir, 'offload.config.json');
    await writeFile(configFile, JSON.stringify(doc, null, 2));
    env = {
      ...stackEnv(),
      CLICKHOUSE_URL: server.url,
      DATABASE_URL: pg.url,
      OFFLOAD_WAREHOUSE: warehouse.url,
      OFFLOAD_CONFIG: configFile,
      OFFLOAD_WORK_DIR: dir,
    };
    delete env.CLICKHOUSE_USER;
    delete env.CLICKHOUSE_PASSWORD;
    const cli = (args: string[]) =>
      execa(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], {
        cwd: ROOT,
        env,
        extendEnv: false,
        reject: false,
        timeout: 600_000,
      });
    const init = await cli(['init', '--json']);
    assert.equal(init.exitCode, 0, init.stderr);
    const run = await cli(['run', '--all', '--json']);
    assert.equal(run.exitCode, 0, `${run.stderr}\n${run.stdout}`);
  });

  after(async () => {
    await warehouse?.close();
    await pg?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('agree on every partition of the nine production tables and the edge-value table', async (ctx) => {
    const ch = new ClickHouseSource({ url: server.url, username: 'default', password: '', database: 'default' });
    const pool = createPool({ connectionString: pg.url });
    let duck: DuckDBSession | undefined;
    try {
      duck = await openDuckDB({ threads: 2, memoryLimit: '256MB' });
      const sources = {
        ch,
        pool,
        catalog: new JdbcTableCatalog(new JdbcCatalog(pool), warehouse.io, warehouse.url, pool),
        io: warehouse.io,
        duck: duck.connection,
      };
      let partitions = 0;
      let rows = 0n;
      for (const t of tables) {
        const both = await checksumBothSides(sources, t);
        const agreed = assertSidesAgree(t.name, both);
        partitions += agreed.partitions;
        rows += agreed.rows;
        ctx.diagnostic(`${t.name}: ${agreed.partitions} partitions, ${agreed.rows} rows, ${both.columns} columns agree`);
      }
      ctx.diagnostic(`${partitions} partitions, ${rows} rows in all`);
    } finally {
      duck?.close();
      await pool.end();
      await ch.close();
    }
  });
});
