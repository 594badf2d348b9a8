// Every value survives ClickHouse 18.16 → CSV file → DuckDB exactly: strings with tabs, newlines, quotes,
// backslashes, NUL bytes and emoji; NULL apart from '' and from the string '\N'; Decimal(38,8) at full
// precision; UInt64 max; DateTime at 0 and at the top of its range; Dates; arrays of strings and numbers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clickhouseSourceFromEnv, type ClickHouseSource } from '../../../src/clickhouse/client.js';
import { qualifiedName } from '../../../src/clickhouse/sql.js';
import { columnTransport, extractionQuery, extractToFile, relationSql } from '../../../src/clickhouse/extract/csv.js';
import { openDuckDB, type DuckDBSession } from '../../../src/iceberg/parquet.js';
import { clickhouseQuery, freshClickHouseDatabase, stackEnv } from '../../support/stack.js';

let db: Awaited<ReturnType<typeof freshClickHouseDatabase>>;
let ch: ClickHouseSource;
let duck: DuckDBSession;
let dir: string;

const COLUMNS = [
  ['id', 'UInt32'],
  ['s', 'String'],
  ['ns', 'Nullable(String)'],
  ['lc', 'LowCardinality(String)'],
  ['fs', 'FixedString(4)'],
  ['e', "Enum8('BUY' = 1, 'SELL' = 2)"],
  ['d', 'Decimal(38, 8)'],
  ['d18', 'Decimal(18, 8)'],
  ['u64', 'UInt64'],
  ['nu64', 'Nullable(UInt64)'],
  ['i64', 'Int64'],
  ['i8', 'Int8'],
  ['f64', 'Float64'],
  ['f32', 'Float32'],
  ['t', 'DateTime'],
  ['nt', 'Nullable(DateTime)'],
  ['dt', 'Date'],
  ['uu', 'UUID'],
  ['a', 'Array(String)'],
  ['an', 'Array(Nullable(String))'],
  ['ai', 'Array(Int32)'],
  ['au', 'Array(UInt64)'],
  ['aa', 'Array(Array(String))'],
] as const;

const NASTY = 'tab\there nl\nhere cr\rhere "dq" \'sq\' back\\slash nul\0end 😀 ,comma \\N';

before(async () => {
  db = await freshClickHouseDatabase('extract');
  ch = clickhouseSourceFromEnv(stackEnv(), { settings: { allow_experimental_low_cardinality_type: 1 } });
  duck = await openDuckDB({ threads: 2, memoryLimit: '256MB' });
  dir = await mkdtemp(join(tmpdir(), 'offload-extract-'));
  await ch.command(
    `CREATE TABLE ${qualifiedName({ database: db.name, table: 'f' })} (${COLUMNS.map(([n, t]) => `\`${n}\` ${t}`).join(', ')}) ENGINE = MergeTree ORDER BY id`,
  );
  // Rows go in as TSV over HTTP: strings TSV-escaped once; arrays as ClickHouse literals (their own quoting).
  const str = (v: string) =>
    v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\0/g, '\\0');
  const NULL = '\\N';
  const rows: string[][] = [
    [
      '1',
      str(NASTY),
      NULL,
      'x',
      'ab',
      'BUY',
      '123456789012345678901234567890.12345678',
      '9999999999.99999999',
      '18446744073709551615',
      NULL,
      '-9223372036854775808',
      '-128',
      '0.1',
      '0.1',
      '1970-01-01 00:00:00',
      NULL,
      '1970-01-01',
      '00000000-0000-0000-0000-000000000001',
      String.raw`['a','b\'c','x,y']`,
      String.raw`[NULL,'','\\N']`,
      '[1,-2]',
      '[18446744073709551615,0]',
      `[['a'],[],['b','c']]`,
    ],
    [
      '2',
      str(''),
      str(''),
      '',
      str('\0\0\0\0'),
      'SELL',
      '-0.00000001',
      '-0.00000001',
      '0',
      '18446744073709551615',
      '9223372036854775807',
      '127',
      'nan',
      '-inf',
      '2105-12-31 23:59:59',
      '2024-02-29 12:00:00',
      '2105-12-31',
      '61f0c404-5cb3-11e7-907b-a6006ad3dba0',
      '[]',
      '[]',
      '[]',
      '[]',
      '[]',
    ],
    [
      '3',
      str('\\N'),
      str(NASTY),
      'lc',
      'abcd',
      'BUY',
      '-99999999999999999999999999999.99999999',
      '0',
      '1',
      NULL,
      '0',
      '0',
      '1e308',
      '3.4028235e38',
      '2024-02-29 12:00:00',
      '1970-01-01 00:00:01',
      '2024-02-29',
      '00000000-0000-0000-0000-000000000000',
      String.raw`['😀\t\n']`,
      `['x']`,
      '[2147483647]',
      '[1]',
      '[[]]',
    ],
  ];
  const body = `${rows.map((r) => r.join('\t')).join('\n')}\n`;
  await clickhouseQuery(`INSERT INTO ${qualifiedName({ database: db.name, table: 'f' })} FORMAT TabSeparated\n${body}`);
});

after(async () => {
  duck?.close();
  await ch?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function extractAll(): Promise<Array<Record<string, unknown>>> {
  const caps = await ch.capabilities();
  const transports = COLUMNS.map(([n, t]) => columnTransport(n, t, caps, 'f'));
  const plan = extractionQuery(transports, qualifiedName({ database: db.name, table: 'f' }), '1');
  const file = join(dir, `x-${Date.now()}.csv`);
  await extractToFile(ch, plan, file);
  const rel = relationSql([file], transports);
  const reader = await duck.connection.runAndReadAll(
    `SELECT * REPLACE (encode(s) AS s, encode(ns) AS ns, encode(fs) AS fs, CAST(d AS VARCHAR) AS d, CAST(d18 AS VARCHAR) AS d18,
        CAST(u64 AS VARCHAR) AS u64, CAST(nu64 AS VARCHAR) AS nu64, CAST(i64 AS VARCHAR) AS i64,
        CAST(epoch_us(t) AS VARCHAR) AS t, CAST(epoch_us(nt) AS VARCHAR) AS nt, CAST(dt AS VARCHAR) AS dt, CAST(uu AS VARCHAR) AS uu,
        list_transform(a, x -> encode(x)) AS a, list_transform(an, x -> encode(x)) AS an, CAST(au AS VARCHAR[]) AS au,
        CAST(f64 AS VARCHAR) AS f64, CAST(f32 AS VARCHAR) AS f32)
     FROM (${rel}) ORDER BY id`,
  );
  return reader.getRowObjectsJS() as Array<Record<string, unknown>>;
}

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('extraction fidelity (ClickHouse CSV → DuckDB)', () => {
  it('reads back every row with the types the Iceberg schema needs', async () => {
    const caps = await ch.capabilities();
    const transports = COLUMNS.map(([n, t]) => columnTransport(n, t, caps, 'f'));
    const file = join(dir, 'types.csv');
    await extractToFile(ch, extractionQuery(transports, qualifiedName({ database: db.name, table: 'f' }), '1'), file);
    const d = (await duck.connection.runAndReadAll(`DESCRIBE (${relationSql([file], transports)})`)).getRowObjectsJS();
    const types = Object.fromEntries(d.map((r) => [r.column_name, r.column_type]));
    assert.equal(types.u64, 'DECIMAL(20,0)');
    assert.equal(types.t, 'TIMESTAMP WITH TIME ZONE');
    assert.equal(types.dt, 'DATE');
    assert.equal(types.a, 'VARCHAR[]');
    assert.equal(types.aa, 'VARCHAR[][]');
    assert.equal(types.au, 'DECIMAL(20,0)[]');
    assert.equal(types.i8, 'INTEGER');
    assert.equal(types.d, 'DECIMAL(38,8)');
  });

  it('keeps strings byte for byte: tabs, newlines, CR, quotes, backslashes, NUL, emoji', async () => {
    const rows = await extractAll();
    assert.equal(rows.length, 3);
    assert.deepEqual(Buffer.from(rows[0].s as Uint8Array), bytes(NASTY));
    assert.deepEqual(Buffer.from(rows[2].ns as Uint8Array), bytes(NASTY));
    assert.deepEqual(Buffer.from(rows[2].s as Uint8Array), bytes('\\N'));
    assert.deepEqual(Buffer.from(rows[1].fs as Uint8Array), Buffer.from([0, 0, 0, 0]));
    assert.deepEqual(Buffer.from(rows[0].fs as Uint8Array), Buffer.from([0x61, 0x62, 0, 0]));
    assert.equal(rows[0].e, 'BUY');
    assert.equal(rows[2].lc, 'lc');
  });

  it('tells NULL from the empty string and from the string \\N', async () => {
    const rows = await extractAll();
    assert.equal(rows[0].ns, null);
    assert.deepEqual(Buffer.from(rows[1].ns as Uint8Array), bytes(''));
    assert.deepEqual(Buffer.from(rows[1].s as Uint8Array), bytes(''));
    assert.equal(rows[0].nu64, null);
    assert.equal(rows[1].nu64, '18446744073709551615');
    assert.equal(rows[0].nt, null);
  });

  it('keeps decimals, UInt64 and Int64 extremes exact', async () => {
    const rows = await extractAll();
    assert.equal(rows[0].d, '123456789012345678901234567890.12345678');
    assert.equal(rows[2].d, '-99999999999999999999999999999.99999999');
    assert.equal(rows[1].d, '-0.00000001');
    assert.equal(rows[0].d18, '9999999999.99999999');
    assert.equal(rows[0].u64, '18446744073709551615');
    assert.equal(rows[1].u64, '0');
    assert.equal(rows[0].i64, '-9223372036854775808');
    assert.equal(rows[1].i64, '9223372036854775807');
    assert.equal(rows[0].i8, -128);
  });

  it('keeps floats, NaN and infinities', async () => {
    const rows = await extractAll();
    assert.equal(rows[0].f64, '0.1');
    assert.equal(rows[1].f64, 'nan');
    assert.equal(rows[1].f32, '-inf');
    assert.equal(rows[2].f64, '1e+308');
    assert.equal(rows[2].f32, '3.4028235e+38');
  });

  it('keeps DateTime at the epoch and at the top of its range, and Dates', async () => {
    const rows = await extractAll();
    assert.equal(rows[0].t, '0');
    assert.equal(rows[1].t, String(4291747199n * 1_000_000n));
    assert.equal(rows[2].nt, '1000000');
    assert.equal(rows[0].dt, '1970-01-01');
    assert.equal(rows[1].dt, '2105-12-31');
    assert.equal(rows[1].uu, '61f0c404-5cb3-11e7-907b-a6006ad3dba0');
  });

  it('keeps arrays: quotes and commas in elements, NULL elements, empty arrays, nesting, UInt64', async () => {
    const rows = await extractAll();
    const strs = (v: unknown) => (v as Array<Uint8Array | null>).map((x) => (x === null ? null : Buffer.from(x).toString('utf8')));
    assert.deepEqual(strs(rows[0].a), ['a', "b'c", 'x,y']);
    assert.deepEqual(strs(rows[0].an), [null, '', '\\N']);
    assert.deepEqual(strs(rows[2].a), ['😀\t\n']);
    assert.deepEqual(strs(rows[1].a), []);
    assert.deepEqual(rows[0].ai, [1, -2]);
    assert.deepEqual(rows[0].au, ['18446744073709551615', '0']);
    assert.deepEqual(rows[0].aa, [['a'], [], ['b', 'c']]);
    assert.deepEqual(rows[2].aa, [[]]);
  });

  it('refuses a file that does not end with a complete row (a failure appended mid-stream)', async () => {
    const caps = await ch.capabilities();
    const transports = [columnTransport('id', 'UInt32', caps)];
    const file = join(dir, 'broken.csv');
    // throwIf fails on the server after some rows were already sent.
    const plan = extractionQuery(
      transports,
      `(SELECT toUInt32(number) AS id FROM system.numbers LIMIT 3000000)`,
      'throwIf(id = 2999999) = 0',
    );
    await assert.rejects(extractToFile(ch, plan, file, { settings: { max_block_size: '1000' } }), /ClickHouse|middle of a row/);
  });

  it('reports a column type it cannot carry exactly, naming table and column', async () => {
    const caps = await ch.capabilities();
    assert.throws(() => columnTransport('m', 'Map(String, String)', caps, 'k2.t'), /k2\.t: column "m" \(Map\(String, String\)\)/);
    assert.throws(() => columnTransport('ad', 'Array(Decimal(38, 8))', caps, 'k2.t'), /arrays of Decimal\(38/);
  });
});
