// Every value survives ClickHouse 18.16 → file → DuckDB exactly, on both extraction paths 18.16 has (Native
// transcoded to Parquet, the default; CSV, forced): strings with tabs, newlines, quotes, backslashes, NUL bytes
// and emoji; NULL apart from '' and from the string '\N'; Decimal(38,8) at full precision; UInt64 max;
// DateTime at 0 and at the top of its range; Dates; arrays of strings and numbers. The Native path also
// carries what CSV cannot on 18.16 (arrays of Decimal128, tuples) and refuses a body a failure cut short.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clickhouseSourceFromEnv, type ClickHouseSource } from '../../../src/clickhouse/client.js';
import { qualifiedName } from '../../../src/clickhouse/sql.js';
import { columnTransport, extractionQuery, extractToFile } from '../../../src/clickhouse/extract/csv.js';
import { extractionPath, type ExtractionPath } from '../../../src/clickhouse/extract/format.js';
import { openDuckDB, type DuckDBSession } from '../../../src/iceberg/parquet.js';
import { transcodeNativeToParquet } from '../../../src/clickhouse/extract/native-to-parquet.js';
import { nativeColumn } from '../../../src/clickhouse/extract/native.js';
import { parseClickHouseType } from '../../../src/clickhouse/types.js';
import { duckdbTypeOfColumn } from '../../../src/mapping/clickhouse-to-iceberg.js';
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

/** Types the CSV path cannot carry from 18.16 (or only slowly): the Native path must. */
const NATIVE_ONLY = [
  ['id', 'UInt32'],
  ['ad', 'Array(Decimal(38, 8))'],
  ['tup', 'Tuple(String, Nullable(DateTime))'],
  ['lcn', 'LowCardinality(Nullable(String))'],
  ['anu', 'Array(Nullable(UInt64))'],
  ['aan', 'Array(Array(Nullable(String)))'],
  ['e16', "Enum16('a' = -1000, 'b' = 1000)"],
  ['nd', 'Nullable(Decimal(38, 8))'],
  ['auu', 'Array(UUID)'],
  ['at', 'Array(DateTime)'],
  ['adt', 'Array(Date)'],
  ['nfs', 'Nullable(FixedString(2))'],
  ['ai8', 'Array(Int8)'],
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
  const g = qualifiedName({ database: db.name, table: 'g' });
  await ch.command(`CREATE TABLE ${g} (${NATIVE_ONLY.map(([n, t]) => `\`${n}\` ${t}`).join(', ')}) ENGINE = MergeTree ORDER BY id`);
  await ch.command(
    `INSERT INTO ${g} VALUES
      (1, ['123456789012345678901234567890.12345678', '-0.00000001'], ('fra', '2105-12-31 23:59:59'), NULL, [NULL, 18446744073709551615], [[NULL, ''], [], ['x']], 'b',
       NULL, ['61f0c404-5cb3-11e7-907b-a6006ad3dba0'], ['1970-01-01 00:00:01'], ['2105-12-31'], NULL, [-128, 127]),
      (2, [], ('', '1970-01-01 00:00:00'), 'lc', [], [], 'a', '-99999999999999999999999999999.99999999', [], [], [], 'ab', [])`,
  );
});

after(async () => {
  duck?.close();
  await ch?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Format = 'Native' | 'CSV';

async function pathFor(format: Format, columns: ReadonlyArray<readonly [string, string]> = COLUMNS): Promise<ExtractionPath> {
  const caps = { ...(await ch.capabilities()), nativeExtraction: format === 'Native', parquetExtraction: false };
  const path = extractionPath(
    columns.map(([name, type]) => ({ name, type })),
    caps,
    'f',
    duckdbTypeOfColumn,
  );
  assert.equal(path.format, format);
  return path;
}

/** Extracts table `table` along one path; returns the DuckDB relation over the file. */
async function extracted(format: Format, table = 'f', columns: ReadonlyArray<readonly [string, string]> = COLUMNS): Promise<string> {
  const path = await pathFor(format, columns);
  const file = join(dir, `${table}-${format}-${Date.now()}.${path.extension}`);
  await path.extract(ch, path.query(qualifiedName({ database: db.name, table }), '1'), file);
  return path.relation([file]);
}

async function extractAll(format: Format): Promise<Array<Record<string, unknown>>> {
  const rel = await extracted(format);
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

for (const format of ['Native', 'CSV'] as const) {
  describe(`extraction fidelity (ClickHouse ${format} → DuckDB)`, () => {
    it('reads back every row with the types the Iceberg schema needs', async () => {
      const d = (await duck.connection.runAndReadAll(`DESCRIBE (${await extracted(format)})`)).getRowObjectsJS();
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
      const rows = await extractAll(format);
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
      const rows = await extractAll(format);
      assert.equal(rows[0].ns, null);
      assert.deepEqual(Buffer.from(rows[1].ns as Uint8Array), bytes(''));
      assert.deepEqual(Buffer.from(rows[1].s as Uint8Array), bytes(''));
      assert.equal(rows[0].nu64, null);
      assert.equal(rows[1].nu64, '18446744073709551615');
      assert.equal(rows[0].nt, null);
    });

    it('keeps decimals, UInt64 and Int64 extremes exact', async () => {
      const rows = await extractAll(format);
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
      const rows = await extractAll(format);
      assert.equal(rows[0].f64, '0.1');
      assert.equal(rows[1].f64, 'nan');
      assert.equal(rows[1].f32, '-inf');
      assert.equal(rows[2].f64, '1e+308');
      assert.equal(rows[2].f32, '3.4028235e+38');
    });

    it('keeps DateTime at the epoch and at the top of its range, and Dates', async () => {
      const rows = await extractAll(format);
      assert.equal(rows[0].t, '0');
      assert.equal(rows[1].t, String(4291747199n * 1_000_000n));
      assert.equal(rows[2].nt, '1000000');
      assert.equal(rows[0].dt, '1970-01-01');
      assert.equal(rows[1].dt, '2105-12-31');
      assert.equal(rows[1].uu, '61f0c404-5cb3-11e7-907b-a6006ad3dba0');
    });

    it('keeps arrays: quotes and commas in elements, NULL elements, empty arrays, nesting, UInt64', async () => {
      const rows = await extractAll(format);
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
  });
}

describe('extraction fidelity: failures and types only one path carries', () => {
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

  it('Native carries arrays of Decimal128, tuples, LowCardinality, nullable elements, nested arrays and Enum16 exactly', async () => {
    const rel = await extracted('Native', 'g', NATIVE_ONLY);
    const rows =
      // Decimals as text: JSON numbers would lose digits.
      (
        await duck.connection.runAndReadAll(
          `SELECT CAST(to_json(r) AS VARCHAR) AS j FROM (SELECT * REPLACE (CAST(ad AS VARCHAR[]) AS ad, CAST(anu AS VARCHAR[]) AS anu, CAST(nd AS VARCHAR) AS nd) FROM (${rel}) ORDER BY id) AS r`,
        )
      )
        .getRowObjectsJS()
        .map((r) => JSON.parse(String(r.j)) as Record<string, unknown>);
    assert.deepEqual(rows[0], {
      id: 1,
      ad: ['123456789012345678901234567890.12345678', '-0.00000001'],
      tup: { _1: 'fra', _2: '2105-12-31 23:59:59+00' },
      lcn: null,
      anu: [null, '18446744073709551615'],
      aan: [[null, ''], [], ['x']],
      e16: 'b',
      nd: null,
      auu: ['61f0c404-5cb3-11e7-907b-a6006ad3dba0'],
      at: ['1970-01-01 00:00:01+00'],
      adt: ['2105-12-31'],
      nfs: null,
      ai8: [-128, 127],
    });
    assert.deepEqual(rows[1], {
      id: 2,
      ad: [],
      tup: { _1: '', _2: '1970-01-01 00:00:00+00' },
      lcn: 'lc',
      anu: [],
      aan: [],
      e16: 'a',
      nd: '-99999999999999999999999999999.99999999',
      auu: [],
      at: [],
      adt: [],
      nfs: 'ab',
      ai8: [],
    });
    const types = Object.fromEntries(
      (await duck.connection.runAndReadAll(`DESCRIBE (${rel})`)).getRowObjectsJS().map((r) => [r.column_name, r.column_type]),
    );
    assert.deepEqual(
      [types.ad, types.anu, types.at, types.tup],
      ['DECIMAL(38,8)[]', 'DECIMAL(20,0)[]', 'TIMESTAMP WITH TIME ZONE[]', 'STRUCT(_1 VARCHAR, _2 TIMESTAMP WITH TIME ZONE)'],
    );
  });

  it('Native: a failure the server appends mid-stream fails the extraction with its code', async () => {
    const path = await pathFor('Native', [['id', 'UInt32']]);
    const file = join(dir, 'broken-native.parquet');
    await assert.rejects(
      path.extract(ch, path.query(`(SELECT toUInt32(number) AS id FROM system.numbers LIMIT 3000000)`, 'throwIf(id = 2999999) = 0'), file, {
        settings: { max_block_size: '1000' },
      }),
      /ClickHouse failed while sending rows: Code: 395/,
    );
  });

  it('Native: a body cut short is refused, wherever the cut falls inside a block', async () => {
    const res = await fetch(`${stackEnv().CLICKHOUSE_URL.replace(/\/\/[^@]*@/, '//')}/`, {
      method: 'POST',
      body: `SELECT toUInt32(number) AS c0, toString(number) AS c1 FROM system.numbers LIMIT 1000 FORMAT Native`,
    });
    const whole = Buffer.from(await res.arrayBuffer());
    const columns = [nativeColumn('id', 'UInt32', 0, 'BIGINT'), nativeColumn('s', 'String', 1, 'VARCHAR')];
    const o = { parseType: parseClickHouseType, sameType: () => true };
    const body = (b: Buffer) =>
      (async function* () {
        yield b;
      })();
    assert.equal((await transcodeNativeToParquet(body(whole), columns, join(dir, 'whole.parquet'), o)).rows, 1000);
    for (const cut of [1, 5, 20, 4000, whole.length - 1]) {
      await assert.rejects(
        transcodeNativeToParquet(body(whole.subarray(0, cut)), columns, join(dir, 'cut.parquet'), o),
        /ended/,
        `cut at ${cut}`,
      );
    }
  });

  it('Native: streams of one path transcoded at once (two tables of a layer, or a slice read in two streams) each keep their own rows', async () => {
    const columns = [
      ['n', 'UInt64'],
      ['s', 'String'],
      ['t', 'DateTime'],
      ['w', 'UInt16'],
      ['d', 'Decimal(38, 8)'],
    ] as const;
    const path = await pathFor('Native', columns);
    const from = `(SELECT number AS n, toString(number) AS s, toDateTime(number) AS t, toUInt16(number % 65536) AS w, toDecimal128(number, 8) AS d FROM system.numbers LIMIT 300000)`;
    const files = await Promise.all(
      [0, 1].map(async (k) => {
        const file = join(dir, `stream-${k}.parquet`);
        await path.extract(ch, path.query(from, `n % 2 = ${k}`), file, { settings: { max_block_size: '7000' } });
        return file;
      }),
    );
    const [r] = (
      await duck.connection.runAndReadAll(
        `SELECT count(*) AS rows, count(*) FILTER (WHERE s = CAST(n AS VARCHAR) AND epoch(t) = n AND w = n % 65536 AND d = n) AS exact FROM (${path.relation(files)})`,
      )
    ).getRowObjectsJS();
    assert.equal(Number(r.rows), 300000);
    assert.equal(Number(r.exact), 300000);
  });
});
