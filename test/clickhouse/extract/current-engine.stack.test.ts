// The current-engine code paths below the pipeline, on the chdb-backed server: the Native (the default), the
// Parquet and the CSV extraction give the same DuckDB rows for every type the mapping supports (and the exact values: µs,
// DateTime64(9) floored, FixedString bytes, UInt64 max, enums by name, maps, nested arrays); a Parquet body
// that is not whole is refused; window bounds travel as query parameters and select what literals select;
// a DateTime64(9) cursor never splits or repeats rows that share a microsecond.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { validateTablesConfig } from '../../../src/config/tables.js';
import { ClickHouseSource } from '../../../src/clickhouse/client.js';
import type { ColumnInfo } from '../../../src/clickhouse/types.js';
import { literalValues, parameterValues, qualifiedName } from '../../../src/clickhouse/sql.js';
import { checkWholeParquet, extractParquetToFile } from '../../../src/clickhouse/extract/parquet.js';
import { extractionPath } from '../../../src/clickhouse/extract/format.js';
import { duckdbTypeOfColumn } from '../../../src/mapping/clickhouse-to-iceberg.js';
import { countUpToWatermark, readWindowStats, windowPredicate, type WindowSource } from '../../../src/clickhouse/window.js';
import { migrate } from '../../../src/state/migrate.js';
import { createPool } from '../../../src/state/pool.js';
import { openDuckDB, type DuckDBSession } from '../../../src/iceberg/parquet.js';
import { currentSchema } from '../../../src/iceberg/metadata.js';
import { offloadTable } from '../../../src/pipeline/offload.js';
import { offloadDepsOn } from '../../../src/pipeline/services.js';
import { currentTable } from '../../../src/pipeline/recover.js';
import { startChdbServer, type ChdbServer } from '../../support/chdb-server.js';
import { openWarehouse, pyiceberg, pyicebergSkip, type PyRead, type Warehouse } from '../../support/iceberg-tables.js';
import { freshPostgresDatabase } from '../../support/stack.js';

let server: ChdbServer;
let ch: ClickHouseSource;
let duck: DuckDBSession;
let dir: string;
const DB = 'paths';

const COLUMNS: Array<[string, string]> = [
  ['id', 'UInt32'],
  ['s', 'String'],
  ['ns', 'Nullable(String)'],
  ['lc', 'LowCardinality(Nullable(String))'],
  ['fs', 'FixedString(4)'],
  ['e8', "Enum8('BUY' = 1, 'SELL' = -2, 'it''s' = 3)"],
  ['e16', "Enum16('a' = 1000, 'b' = -1000)"],
  ['i8', 'Int8'],
  ['u16', 'UInt16'],
  ['i64', 'Int64'],
  ['u32', 'UInt32'],
  ['u64', 'UInt64'],
  ['nu64', 'Nullable(UInt64)'],
  ['f32', 'Float32'],
  ['f64', 'Float64'],
  ['d9', 'Decimal32(4)'],
  ['d18', 'Decimal(18, 8)'],
  ['d38', 'Decimal128(8)'],
  ['nd38', 'Nullable(Decimal(38, 8))'],
  ['b', 'Bool'],
  ['nb', 'Nullable(Bool)'],
  ['uu', 'UUID'],
  ['dt', 'Date'],
  ['d32', 'Date32'],
  ['t', "DateTime('UTC')"],
  ['t3', 'DateTime64(3)'],
  ['t6', "DateTime64(6, 'UTC')"],
  ['t9', 'Nullable(DateTime64(9))'],
  ['a', 'Array(String)'],
  ['an', 'Array(Nullable(String))'],
  ['aa', 'Array(Array(Int32))'],
  ['ae', "Array(Enum8('x' = 1, 'y' = 2))"],
  ['at', "Array(DateTime64(6, 'UTC'))"],
  ['au', 'Array(UInt64)'],
  ['m', 'Map(String, String)'],
  ['mu', 'Map(String, Nullable(UUID))'],
  ['ma', 'Map(LowCardinality(String), Array(String))'],
];

const ROWS = [
  `(1, 'tab\\there nl\\nhere "dq" \\'sq\\' back\\\\slash nul\\0end 😀', NULL, NULL, 'ab', 'it''s', 'b', -128, 65535, -9223372036854775808, 4294967295,
    18446744073709551615, NULL, nan, -inf, -99999.9999, 9999999999.99999999, 99999999999999999999999999999.99999999, NULL, true, NULL,
    'ffffffff-ffff-ffff-ffff-ffffffffffff', '2149-06-06', '1900-01-01', '2106-02-07 06:28:15', '1970-01-01 00:00:00.001', '2024-02-29 23:59:59.999999',
    '1969-12-31 23:59:59.999999999', ['x,y', '', '\\\\N'], [NULL, '', 'z'], [[1, -2], [], [2147483647]], ['y', 'x'], ['1969-12-31 23:59:59.999999'],
    [18446744073709551615, 0], {'k': 'v', '': '', 'ключ': '値\\t'}, {'a': NULL, 'b': '61f0c404-5cb3-11e7-907b-a6006ad3dba0'}, {'l': ['p', ''], 'e': []})`,
  `(2, '', '', '', '\\0\\0\\0\\0', 'SELL', 'a', 0, 0, 0, 0, 0, 0, 0.1, 1e308, 0, -0.00000001, -99999999999999999999999999999.99999999, -0.00000001, false, false,
    '00000000-0000-0000-0000-000000000000', '1970-01-01', '2299-12-31', '1970-01-01 00:00:00', '1900-01-01 00:00:00.000', '1970-01-01 00:00:00.000001',
    '2262-04-11 23:47:16.854775807', [], [], [], [], [], [], {}, {}, {})`,
];

before(async () => {
  server = await startChdbServer();
  ch = new ClickHouseSource({ url: server.url, username: 'default', password: '', database: 'default' }, { env: {} });
  duck = await openDuckDB({ threads: 2, memoryLimit: '256MB' });
  dir = await mkdtemp(join(tmpdir(), 'offload-paths-'));
  await ch.command(`CREATE DATABASE ${DB}`);
  await ch.command(`CREATE TABLE ${DB}.every_type (${COLUMNS.map(([n, t]) => `\`${n}\` ${t}`).join(', ')}) ENGINE = MergeTree ORDER BY id`);
  await ch.command(`INSERT INTO ${DB}.every_type VALUES ${ROWS.join(', ')}`);
});

after(async () => {
  duck?.close();
  await ch?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Extracts a table along one path; returns the DuckDB relation over the file. */
async function extracted(format: 'native' | 'csv' | 'parquet', columns: ColumnInfo[], table = 'every_type'): Promise<string> {
  const caps = { ...(await ch.capabilities()), nativeExtraction: format === 'native', parquetExtraction: format === 'parquet' };
  const path = extractionPath(columns, caps, `${DB}.${table}`, duckdbTypeOfColumn);
  assert.equal(path.format, { native: 'Native', parquet: 'Parquet', csv: 'CSV' }[format]);
  const file = join(dir, `${table}.${path.extension}`);
  await path.extract(ch, path.query(qualifiedName({ database: DB, table }), '1'), file);
  return path.relation([file]);
}

/** Rows of a relation as DuckDB's JSON text (exact: decimals and 64-bit integers keep every digit), by id. */
async function jsonRows(relation: string): Promise<string[]> {
  const reader = await duck.connection.runAndReadAll(
    `SELECT CAST(to_json(r) AS VARCHAR) AS j FROM (SELECT * FROM (${relation}) ORDER BY id) AS r`,
  );
  return reader.getRowObjectsJS().map((r) => String(r.j));
}

/** Rows of a relation with every value as text (VARCHAR casts), nested values as JSON. */
async function textRows(relation: string, columns: string[]): Promise<Array<Record<string, string | null>>> {
  const exprs = columns.map((c) => `CAST(${c.startsWith('"') ? c : `"${c}"`} AS VARCHAR) AS "${c}"`);
  return (await duck.connection.runAndReadAll(`SELECT ${exprs.join(', ')} FROM (${relation}) ORDER BY id`)).getRowObjectsJS() as Array<
    Record<string, string | null>
  >;
}

describe('extraction paths on the current engine', () => {
  it('Native, Parquet and CSV give the same rows for every supported type', async () => {
    const columns = await ch.columns({ database: DB, table: 'every_type' });
    assert.equal(columns.length, COLUMNS.length);
    const native = await jsonRows(await extracted('native', columns));
    const parquet = await jsonRows(await extracted('parquet', columns));
    const csv = await jsonRows(await extracted('csv', columns));
    assert.equal(native.length, 2);
    assert.deepEqual(native, parquet);
    assert.deepEqual(native, csv);
    for (const format of ['native', 'parquet'] as const) {
      const types = (await duck.connection.runAndReadAll(`DESCRIBE (${await extracted(format, columns)})`)).getRowObjectsJS();
      assert.deepEqual(
        Object.fromEntries(
          types
            .filter((t) => ['u64', 'd38', 'uu', 't9', 'dt', 'm', 'ma', 'e8', 'u32'].includes(String(t.column_name)))
            .map((t) => [t.column_name, t.column_type]),
        ),
        {
          e8: 'VARCHAR',
          u32: 'BIGINT',
          u64: 'DECIMAL(20,0)',
          d38: 'DECIMAL(38,8)',
          uu: 'UUID',
          dt: 'DATE',
          t9: 'TIMESTAMP WITH TIME ZONE',
          m: 'MAP(VARCHAR, VARCHAR)',
          ma: 'MAP(VARCHAR, VARCHAR[])',
        },
        format,
      );
    }
  });

  for (const format of ['native', 'parquet'] as const)
    it(`keeps the exact values (${format}): µs, DateTime64(9) floored, FixedString bytes, UInt64 max, enums by name, NULLs, maps, nested arrays`, async () => {
      const [r1, r2] = await textRows(
        await extracted(format, await ch.columns({ database: DB, table: 'every_type' })),
        COLUMNS.map(([n]) => n),
      );
      assert.equal(r1.s, 'tab\there nl\nhere "dq" \'sq\' back\\slash nul\0end 😀');
      assert.equal(r1.ns, null);
      assert.equal(r2.ns, '');
      assert.equal(r1.fs, 'ab\0\0');
      assert.equal(r2.fs, '\0\0\0\0');
      assert.deepEqual([r1.e8, r1.e16, r2.e8, r2.e16], ["it's", 'b', 'SELL', 'a']);
      assert.deepEqual([r1.u64, r1.nu64, r2.nu64, r1.u32], ['18446744073709551615', null, '0', '4294967295']);
      assert.deepEqual(
        [r1.d38, r2.d38, r1.nd38, r2.nd38, r1.d9],
        ['99999999999999999999999999999.99999999', '-99999999999999999999999999999.99999999', null, '-0.00000001', '-99999.9999'],
      );
      assert.deepEqual([r1.b, r2.b, r1.nb, r2.nb], ['true', 'false', null, 'false']);
      assert.deepEqual([r1.dt, r1.d32, r1.t], ['2149-06-06', '1900-01-01', '2106-02-07 06:28:15+00']);
      assert.equal(r1.uu, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
      assert.equal(r1.t6, '2024-02-29 23:59:59.999999+00');
      assert.equal(r1.t9, '1969-12-31 23:59:59.999999+00', 'ns floored to µs, also before 1970');
      assert.equal(r2.t9, '2262-04-11 23:47:16.854775+00');
      assert.equal(r1.t3, '1970-01-01 00:00:00.001+00');
      assert.equal(r1.aa, '[[1, -2], [], [2147483647]]');
      assert.equal(r1.ae, '[y, x]');
      assert.equal(r1.at, "['1969-12-31 23:59:59.999999+00']");
      assert.equal(r1.au, '[18446744073709551615, 0]');
      assert.equal(r1.m, "{k=v, ''='', ключ='値\t'}");
      assert.equal(r1.mu, '{a=NULL, b=61f0c404-5cb3-11e7-907b-a6006ad3dba0}');
      assert.equal(r1.ma, "{l=[p, ''], e=[]}");
      assert.equal(r2.m, '{}');
    });

  it('types each column as its Iceberg type (Tuple on the Native and Parquet paths, not CSV)', async () => {
    await ch.command(
      `CREATE TABLE ${DB}.tuples (id UInt32, tup Tuple(venue String, at Nullable(DateTime64(6, 'UTC'))), anon Tuple(UInt8, Enum8('q' = 1))) ENGINE = MergeTree ORDER BY id`,
    );
    await ch.command(`INSERT INTO ${DB}.tuples VALUES (1, ('fra', '2024-01-01 00:00:00.000001'), (7, 'q')), (2, ('', NULL), (0, 'q'))`);
    const columns = await ch.columns({ database: DB, table: 'tuples' });
    for (const format of ['native', 'parquet'] as const) {
      const rows = (await jsonRows(await extracted(format, columns, 'tuples'))).map((j) => JSON.parse(j) as Record<string, unknown>);
      assert.deepEqual(rows[0], { id: 1, tup: { venue: 'fra', at: '2024-01-01 00:00:00.000001+00' }, anon: { _1: 7, _2: 'q' } }, format);
      assert.deepEqual(rows[1].tup, { venue: '', at: null }, format);
    }
    const caps = { ...(await ch.capabilities()), nativeExtraction: false, parquetExtraction: false };
    assert.throws(
      () => extractionPath(columns, caps, `${DB}.tuples`, duckdbTypeOfColumn),
      /column "tup" .* the Tuple type cannot be extracted/,
    );
  });

  it('a server error while producing Parquet fails the extraction with its code', async () => {
    const file = join(dir, 'fails.parquet');
    await assert.rejects(
      extractParquetToFile(ch, 'SELECT number AS c0 FROM numbers(200000) WHERE throwIf(number = 199999) = 0', file),
      (err: Error & { code?: number }) => err.code === 395 && /FUNCTION_THROW_IF_VALUE_IS_NON_ZERO|throwIf|Value passed/.test(err.message),
    );
  });

  it('a server error while sending Native fails the extraction with its code', async () => {
    const columns = [{ name: 'n', type: 'UInt64' }];
    const path = extractionPath(columns, { ...(await ch.capabilities()), nativeExtraction: true }, 'numbers', duckdbTypeOfColumn);
    await assert.rejects(
      path.extract(
        ch,
        path.query('(SELECT number AS n FROM numbers(3000000))', 'throwIf(n = 2999999) = 0'),
        join(dir, 'fails-native.parquet'),
        { settings: { max_block_size: '1000' } },
      ),
      // The server's own text when it reached the client before the cut (current servers cut the connection).
      /ClickHouse failed while sending rows: (Code: 395|it cut the connection)/,
    );
  });

  it('refuses a Parquet body cut short, or one that ends in an exception the server appended', async () => {
    const file = join(dir, 'whole.parquet');
    const { bytes } = await extractParquetToFile(ch, 'SELECT number AS c0, toString(number) AS c1 FROM numbers(100000)', file);
    await checkWholeParquet(file, bytes);
    await truncate(file, bytes - 100);
    await assert.rejects(checkWholeParquet(file, bytes - 100), /not a whole Parquet file/);
    await writeFile(file, 'PAR1 some row groups');
    await appendFile(file, '\nCode: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)\n');
    await assert.rejects(checkWholeParquet(file, (await stat(file)).size), /ClickHouse failed while sending rows: Code: 241/);
  });
});

describe('window bounds as query parameters', () => {
  const ODD = "odd `name\\ it's";
  const SRC: WindowSource = {
    from: qualifiedName({ database: DB, table: ODD }),
    isQuery: false,
    cursor: 'ts',
    cursorType: { kind: 'DateTime64', precision: 6 },
    tieBreak: 'seq',
  };
  const U64 = 18446744073709551615n;

  before(async () => {
    await ch.command(`CREATE TABLE ${SRC.from} (ts DateTime64(6, 'UTC'), seq UInt64, note String) ENGINE = MergeTree ORDER BY (ts, seq)`);
    await ch.command(
      `INSERT INTO ${SRC.from} SELECT toDateTime64('2024-01-01 00:00:00', 6, 'UTC') + toIntervalMicrosecond(intDiv(number, 3)), 18446744073709551615 - number, 'x' FROM numbers(30)`,
    );
  });

  it('introspection binds names as parameters: a table named with a backquote, a backslash and a quote', async () => {
    const columns = await ch.columns({ database: DB, table: ODD });
    assert.deepEqual(
      columns.map((c) => c.name),
      ['ts', 'seq', 'note'],
    );
    assert.equal(await ch.tableExists({ database: DB, table: ODD }), true);
    assert.equal(await ch.tableExists({ database: DB, table: ODD.slice(0, -1) }), false);
  });

  it('selects exactly what the literals select (µs bounds, UInt64 tie-breaks beyond 2^63)', async () => {
    // µs 3 holds rows 9, 10, 11 (tie-breaks U64−9 … U64−11): above row 10's tie-break is row 9 only.
    const lower = { cursor: 1_704_067_200_000_003n, tieBreak: (U64 - 10n).toString() };
    const upper = 1_704_067_200_000_007n;
    const count = async (where: string, params: Record<string, string>) =>
      Number((await ch.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${SRC.from} WHERE ${where}`, { params }))[0].n);
    const p = parameterValues();
    const withParams = windowPredicate(SRC, lower, upper, p);
    assert.match(withParams, /\{p0:DateTime64\(6, 'UTC'\)\}/);
    assert.ok(!withParams.includes('2024'), 'no value is spliced into the SQL');
    const literal = windowPredicate(SRC, lower, upper, literalValues());
    // Row 9, then µs 4..7: 12 rows.
    assert.equal(await count(withParams, p.params), 13);
    assert.equal(await count(literal, {}), 13);
    const stats = await readWindowStats(ch, SRC, lower, upper);
    assert.deepEqual(stats, { rows: 13, newest: upper });
    assert.equal(await countUpToWatermark(ch, SRC, lower), 11);
  });

  it('DateTime and Date cursors too', async () => {
    await ch.command(`CREATE TABLE ${DB}.coarse (t DateTime('UTC'), d Date, n UInt32) ENGINE = MergeTree ORDER BY t`);
    // One row a second from 2023-12-31 23:59:50 for 40 s: 10 rows on the 31st, 30 on the 1st.
    await ch.command(
      `INSERT INTO ${DB}.coarse SELECT toDateTime('2023-12-31 23:59:50', 'UTC') + number, toDate(toDateTime('2023-12-31 23:59:50', 'UTC') + number), number FROM numbers(40)`,
    );
    const from = `${DB}.coarse`;
    const seconds: WindowSource = { from, isQuery: false, cursor: 't', cursorType: { kind: 'DateTime' }, tieBreak: null };
    const days: WindowSource = { from, isQuery: false, cursor: 'd', cursorType: { kind: 'Date' }, tieBreak: null };
    const s0 = 1_704_067_195n * 1_000_000n; // 2023-12-31 23:59:55
    assert.deepEqual(await readWindowStats(ch, seconds, { cursor: s0, tieBreak: null }, s0 + 10_000_000n), {
      rows: 10,
      newest: s0 + 10_000_000n,
    });
    const dec31 = 1_703_980_800n * 1_000_000n; // 2023-12-31
    assert.deepEqual(await readWindowStats(ch, days, null, dec31), { rows: 10, newest: dec31 });
    assert.deepEqual(await readWindowStats(ch, days, { cursor: dec31, tieBreak: null }, dec31 + 86_400_000_000n), {
      rows: 30,
      newest: dec31 + 86_400_000_000n,
    });
    const p = parameterValues();
    assert.match(windowPredicate(days, { cursor: dec31, tieBreak: null }, null, p), /^`d` > \{p0:Date\}$/);
    assert.deepEqual(p.params, { p0: '2023-12-31' });
  });
});

describe('a DateTime64(9) cursor on the current engine', { skip: pyicebergSkip }, () => {
  let pgDb: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let pool: pg.Pool;
  let warehouse: Warehouse;

  before(async () => {
    pgDb = await freshPostgresDatabase('ns');
    pool = createPool({ connectionString: pgDb.url }, { max: 6 });
    await migrate(pool);
    warehouse = await openWarehouse('s3');
    // 4 rows per µs, at different nanoseconds: 0, 1, 500, 999.
    await ch.command(`CREATE TABLE ${DB}.ticks (ts DateTime64(9, 'UTC'), n UInt32) ENGINE = MergeTree ORDER BY ts`);
    await ch.command(
      `INSERT INTO ${DB}.ticks SELECT toDateTime64('2024-01-01 00:00:00', 9, 'UTC') + toIntervalNanosecond(intDiv(number, 4) * 1000 + [0, 1, 500, 999][number % 4 + 1]), number FROM numbers(400)`,
    );
  });

  after(async () => {
    await pool?.end();
    await pgDb?.drop();
    await warehouse?.close();
  });

  it('never splits or repeats rows sharing a microsecond; Iceberg holds them floored to µs', async () => {
    const cfg = validateTablesConfig(
      {
        tables: [
          {
            name: 'ticks',
            layer: 'bronze',
            source: `${DB}.ticks`,
            cursor: 'ts',
            lag: '5m',
            target: 'cold.ticks',
            partitionBy: ['day(ts)'],
          },
        ],
      },
      'ns-test',
    ).tables[0];
    const deps = offloadDepsOn({ clickhouse: ch, pool, io: warehouse.io, warehouse: warehouse.url });
    // 30 rows a batch: batches end between whole µs (7 µs = 28 rows), never inside one.
    const result = await offloadTable(cfg, deps, { maxRowsPerBatch: 30 });
    assert.equal(result.status, 'committed');
    if (result.status !== 'committed') return;
    assert.equal(result.rows, 400);
    assert.ok(result.batches.length >= 14, `${result.batches.length} batches`);
    for (const b of result.batches) assert.equal(b.rows % 4, 0, 'a batch holds whole microseconds');
    assert.equal(result.watermark.timestamp, '2024-01-01T00:00:00.000099Z');
    const read = await pyiceberg<PyRead>({ catalogUrl: pgDb.url, catalogName: 'offload', warehouse }, ['read', 'cold.ticks']);
    assert.equal(read.row_count, 400);
    const ns = read.rows.map((r) => Number(r.n)).sort((a, b) => a - b);
    assert.deepEqual(
      ns,
      Array.from({ length: 400 }, (_, i) => i),
    );
    for (const r of read.rows) assert.equal(r.ts, `2024-01-01T00:00:00.${String(Math.floor(Number(r.n) / 4)).padStart(6, '0')}`);
    const table = await currentTable(deps.catalog, deps.io, { namespace: 'cold', name: 'ticks' });
    const ts = currentSchema(table!.metadata).fields.find((f) => f.name === 'ts')!;
    assert.equal(ts.type, 'timestamptz');
    assert.match(ts.doc ?? '', /DateTime64\(9\): stored in microseconds, the last 3 digit\(s\) of sub-second precision are truncated/);
  });
});
