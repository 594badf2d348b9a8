// The chdb-backed ClickHouse HTTP test server (test/support/chdb_server.py) against @clickhouse/client
// and plain fetch: the production dialect (DateTime64, Decimal128, Map, Bool, UUID, Enum8,
// LowCardinality, Nullable, Array), query parameters, formats byte for byte, errors, query ids,
// streaming, and the export rate of Native / Parquet through it.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { startChdbServer, type ChdbServer } from './chdb-server.js';

let server: ChdbServer;
let client: ClickHouseClient;
const DB = 'offload_chdb_test';
const T = `${DB}.events`;

function newClient(extra: Partial<Parameters<typeof createClient>[0]> = {}): ClickHouseClient {
  return createClient({
    url: server.url,
    log: { level: ClickHouseLogLevel.OFF },
    compression: { request: false, response: false },
    ...extra,
  });
}

/** Raw HTTP to the server, the way ClickHouse's interface is documented. */
async function http(params: Record<string, string>, body?: string | Uint8Array, init: RequestInit = {}) {
  const url = new URL(server.url);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url, { method: body === undefined ? 'GET' : 'POST', body, ...init });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

async function collect(stream: AsyncIterable<Uint8Array | Buffer | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
  return Buffer.concat(parts);
}

before(async () => {
  server = await startChdbServer();
  // ClickHouse 25.8 changed the default of output_format_json_quote_64bit_integers from 1 to 0;
  // production runs 24.x and 25.x, so say which one we want (as the tool must, too).
  client = newClient({ clickhouse_settings: { output_format_json_quote_64bit_integers: 1 } });
});

after(async () => {
  await client?.close();
  await server?.stop();
});

// Rows in canonical TSV output form, so that TSV in == TSV out byte for byte.
const TSV_ROWS = [
  [
    '3',
    '2024-03-01 00:00:00.001',
    '2024-03-01 00:00:00.000001',
    '-0.00000001',
    "{'k':'v\\ttab','q':'it\\'s'}",
    "['x','y\\\\z']",
    'false',
    '00000000-0000-0000-0000-000000000003',
    'sell',
    'XLON',
    '\\N',
    'tab\\there\\nnewline',
  ],
  [
    '4',
    '1970-01-01 00:00:00.000',
    '2262-04-11 23:47:16.854775',
    '99999999999999999999999999999.99999999',
    '{}',
    '[]',
    'true',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    'buy',
    'XNAS',
    '18446744073709551615',
    'back\\\\slash',
  ],
]
  .map((r) => `${r.join('\t')}\n`)
  .join('');

describe('chdb ClickHouse HTTP server', () => {
  test('ping, version is a current ClickHouse, UTC', async () => {
    assert.deepEqual(await client.ping(), { success: true });
    const rs = await client.query({ query: 'SELECT version() AS v, timezone() AS tz', format: 'JSONEachRow' });
    const [row] = await rs.json<{ v: string; tz: string }>();
    assert.ok(Number(row.v.split('.')[0]) >= 24, `version ${row.v}`);
    assert.equal(row.tz, 'UTC');
    const { res, bytes } = await http({}, undefined, { method: 'GET' });
    assert.equal(res.status, 200);
    assert.equal(bytes.toString(), 'Ok.\n');
  });

  test('DDL: database and a MergeTree table with the production types', async () => {
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${DB}` });
    await client.command({
      query: `CREATE TABLE ${T} (
        id UInt64,
        ts DateTime64(3),
        ts_utc DateTime64(6, 'UTC'),
        amount Decimal128(8),
        attrs Map(String, String),
        tags Array(String),
        flag Bool,
        uid UUID,
        side Enum8('buy' = 1, 'sell' = 2),
        venue LowCardinality(String),
        qty Nullable(UInt64),
        note String
      ) ENGINE = MergeTree ORDER BY id`,
    });
    const rs = await client.query({
      query: `SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'events' ORDER BY position`,
      query_params: { db: DB },
      format: 'JSONEachRow',
    });
    const cols = await rs.json<{ name: string; type: string }>();
    assert.deepEqual(
      cols.map((c) => c.type),
      [
        'UInt64',
        'DateTime64(3)',
        "DateTime64(6, 'UTC')",
        'Decimal(38, 8)',
        'Map(String, String)',
        'Array(String)',
        'Bool',
        'UUID',
        "Enum8('buy' = 1, 'sell' = 2)",
        'LowCardinality(String)',
        'Nullable(UInt64)',
        'String',
      ],
    );
  });

  test('insert JSONEachRow with client.insert, TSV bytes with a raw POST', async () => {
    const ins = await client.insert({
      table: T,
      format: 'JSONEachRow',
      values: [
        {
          id: 1,
          ts: '2024-01-02 03:04:05.678',
          ts_utc: '2024-01-02 03:04:05.123456',
          amount: '123456789012345678901234567890.12345678',
          attrs: { a: 'b', "quote's": 'back\\slash' },
          tags: ['t1', 't2'],
          flag: true,
          uid: '6f1c5a0e-8a43-4a57-9d4b-1c2f3e4d5a6b',
          side: 'buy',
          venue: 'XNAS',
          qty: 42,
          note: 'first',
        },
        {
          id: 2,
          ts: '2024-01-02 03:04:06.000',
          ts_utc: '2024-01-02 03:04:06.000001',
          amount: '0.5',
          attrs: {},
          tags: [],
          flag: false,
          uid: '00000000-0000-0000-0000-000000000002',
          side: 'sell',
          venue: 'XNYS',
          qty: null,
          note: 'ünïcødé ✓',
        },
      ],
    });
    assert.equal(ins.summary?.written_rows, '2');

    const { res, bytes } = await http({ query: `INSERT INTO ${T} FORMAT TabSeparated` }, Buffer.from(TSV_ROWS));
    assert.equal(res.status, 200, bytes.toString());
    assert.equal(JSON.parse(res.headers.get('x-clickhouse-summary')!).written_rows, '2');

    const count = await client.query({ query: `SELECT count() AS n FROM ${T}`, format: 'JSONEachRow' });
    assert.deepEqual(await count.json(), [{ n: '4' }]);
  });

  test('read back as JSONEachRow: every type survives', async () => {
    const rs = await client.query({
      query: `SELECT id, ts, ts_utc, toString(amount) AS amount, attrs, tags, flag, uid, side, venue, qty, note FROM ${T} WHERE id <= 2 ORDER BY id`,
      format: 'JSONEachRow',
    });
    assert.deepEqual(await rs.json(), [
      {
        id: '1',
        ts: '2024-01-02 03:04:05.678',
        ts_utc: '2024-01-02 03:04:05.123456',
        amount: '123456789012345678901234567890.12345678',
        attrs: { a: 'b', "quote's": 'back\\slash' },
        tags: ['t1', 't2'],
        flag: true,
        uid: '6f1c5a0e-8a43-4a57-9d4b-1c2f3e4d5a6b',
        side: 'buy',
        venue: 'XNAS',
        qty: '42',
        note: 'first',
      },
      {
        id: '2',
        ts: '2024-01-02 03:04:06.000',
        ts_utc: '2024-01-02 03:04:06.000001',
        amount: '0.5',
        attrs: {},
        tags: [],
        flag: false,
        uid: '00000000-0000-0000-0000-000000000002',
        side: 'sell',
        venue: 'XNYS',
        qty: null,
        note: 'ünïcødé ✓',
      },
    ]);
  });

  test('read back as TSV: byte for byte what was inserted', async () => {
    const rs = await client.query({ query: `SELECT * FROM ${T} WHERE id >= 3 ORDER BY id`, format: 'TabSeparated' });
    assert.equal(await rs.text(), TSV_ROWS);
    // and by raw HTTP with FORMAT in the query text
    const { res, bytes } = await http({}, `SELECT * FROM ${T} WHERE id >= 3 ORDER BY id FORMAT TSV`);
    assert.equal(res.headers.get('x-clickhouse-format'), 'TSV');
    assert.equal(bytes.toString('utf8'), TSV_ROWS);
  });

  test('read back as RowBinary: decoded by hand', async () => {
    const { res, bytes } = await http({}, `SELECT id, qty, venue, flag FROM ${T} ORDER BY id FORMAT RowBinary`);
    assert.equal(res.status, 200);
    const rows: Array<[bigint, bigint | null, string, boolean]> = [];
    let o = 0;
    while (o < bytes.length) {
      const id = bytes.readBigUInt64LE(o);
      o += 8;
      const isNull = bytes[o++] === 1;
      let qty: bigint | null = null;
      if (!isNull) {
        qty = bytes.readBigUInt64LE(o);
        o += 8;
      }
      const len = bytes[o++]; // short strings: one-byte varint
      const venue = bytes.subarray(o, o + len).toString();
      o += len;
      const flag = bytes[o++] === 1;
      rows.push([id, qty, venue, flag]);
    }
    assert.deepEqual(rows, [
      [1n, 42n, 'XNAS', true],
      [2n, null, 'XNYS', false],
      [3n, null, 'XLON', false],
      [4n, 18446744073709551615n, 'XNAS', true],
    ]);
  });

  test('binary round trip: RowBinary, Native, Parquet out, back in through a raw POST, same rows', async () => {
    await client.command({ query: `CREATE TABLE ${DB}.events_copy AS ${T}` });
    for (const fmt of ['RowBinary', 'Native', 'Parquet']) {
      await client.command({ query: `TRUNCATE TABLE ${DB}.events_copy` });
      const out = await http({}, `SELECT * FROM ${T} ORDER BY id FORMAT ${fmt}`);
      assert.equal(out.res.status, 200);
      const ins = await http({ query: `INSERT INTO ${DB}.events_copy FORMAT ${fmt}` }, out.bytes);
      assert.equal(ins.res.status, 200, ins.bytes.toString());
      const back = await http({}, `SELECT * FROM ${DB}.events_copy ORDER BY id FORMAT ${fmt}`);
      // RowBinary has no block structure: the same rows are the same bytes. (Native and Parquet
      // carry the block / row-group layout, which differs between a 2-part and a 1-part table.)
      if (fmt === 'RowBinary') assert.ok(back.bytes.equals(out.bytes), `${fmt} differs after a round trip`);
      const diff = await http(
        {},
        `SELECT (SELECT count() FROM (SELECT * FROM ${T} EXCEPT SELECT * FROM ${DB}.events_copy)),
                (SELECT count() FROM (SELECT * FROM ${DB}.events_copy EXCEPT SELECT * FROM ${T})),
                (SELECT count() FROM ${DB}.events_copy)`,
      );
      assert.equal(diff.bytes.toString(), '0\t0\t4\n', fmt);
    }
  });

  test('read back as Parquet (client.exec stream): PAR1 magic at both ends', async () => {
    const { stream } = await client.exec({ query: `SELECT * FROM ${T} ORDER BY id FORMAT Parquet` });
    const buf = await collect(stream);
    assert.equal(buf.subarray(0, 4).toString(), 'PAR1');
    assert.equal(buf.subarray(-4).toString(), 'PAR1');
    // one Parquet file, not one per block: the footer length points back to the start
    const footerLen = buf.readUInt32LE(buf.length - 8);
    assert.ok(footerLen > 0 && footerLen < buf.length - 12);
    assert.equal(buf.indexOf('PAR1', 4), buf.length - 4);
  });

  test('query parameters: DateTime64, String with quotes and backslashes, no injection', async () => {
    const ts = await client.query({
      query: `SELECT groupArray(id) AS ids FROM (SELECT id FROM ${T} WHERE ts >= {ts:DateTime64(3)} ORDER BY id)`,
      query_params: { ts: '2024-01-02 03:04:05.678' },
      format: 'JSONEachRow',
    });
    assert.deepEqual(await ts.json(), [{ ids: ['1', '2', '3'] }]);

    const asDate = await client.query({
      query: 'SELECT {d:DateTime64(3)} AS d',
      query_params: { d: new Date('2024-01-02T03:04:05.678Z') },
      format: 'JSONEachRow',
    });
    assert.deepEqual(await asDate.json(), [{ d: '2024-01-02 03:04:05.678' }]);

    const nasty = `it's a "quote", a back\\slash \\' , a tab\t, a newline\n, {curly}, and '; DROP TABLE x; --`;
    const s = await client.query({
      query: 'SELECT {s:String} AS s, length({s:String}) AS n',
      query_params: { s: nasty },
      format: 'JSONEachRow',
    });
    assert.deepEqual(await s.json(), [{ s: nasty, n: String(Buffer.byteLength(nasty)) }]);

    const inj = await client.query({
      query: `SELECT count() AS n FROM ${T} WHERE venue = {v:String}`,
      query_params: { v: "XNAS' OR '1'='1" },
      format: 'JSONEachRow',
    });
    assert.deepEqual(await inj.json(), [{ n: '0' }]);

    const typed = await client.query({
      query:
        'SELECT {a:Array(String)} AS a, {m:Map(String, UInt8)} AS m, {n:Nullable(UInt64)} AS n, {id:Identifier} AS ident FROM (SELECT 7 AS id)',
      query_params: { a: ["x'y", 'z\\w'], m: { k: 1 }, n: null, id: 'id' },
      format: 'JSONEachRow',
    });
    assert.deepEqual(await typed.json(), [{ a: ["x'y", 'z\\w'], m: { k: 1 }, n: null, ident: 7 }]);

    await assert.rejects(
      client.query({ query: 'SELECT {n:UInt8} AS n', query_params: { n: '1; DROP TABLE x' } }),
      (e: Error & { code?: string }) => e.code === '457',
    );
  });

  test('errors: syntax error is Code 62 / SYNTAX_ERROR with ClickHouse status and headers', async () => {
    await assert.rejects(client.query({ query: 'SELEC 1' }), (e: Error & { code?: string; type?: string }) => {
      // A current server's error text parses fully: the client moves `Code: 62` into .code
      assert.equal(e.code, '62');
      assert.equal(e.type, 'SYNTAX_ERROR');
      assert.match(e.message, /Syntax error/);
      return true;
    });
    const { res, bytes } = await http({}, 'SELEC 1');
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-clickhouse-exception-code'), '62');
    assert.match(bytes.toString(), /^Code: 62\. DB::Exception: Syntax error.*\(SYNTAX_ERROR\) \(version \d+\.\d+/s);

    const missing = await http({}, 'SELECT * FROM no_such_db.t');
    assert.equal(missing.res.status, 404);
    assert.match(missing.bytes.toString(), /^Code: 81\. DB::Exception: .*\(UNKNOWN_DATABASE\)/);

    // GET is read-only, as in ClickHouse
    const ro = await http({ query: 'CREATE TABLE ro_test (a UInt8) ENGINE = Memory' }, undefined, { method: 'GET' });
    assert.equal(ro.res.headers.get('x-clickhouse-exception-code'), '164');
  });

  test('query_id is echoed', async () => {
    const query_id = `chdb-test-${Date.now()}`;
    const rs = await client.query({ query: 'SELECT 1', format: 'JSONEachRow', query_id });
    assert.equal(rs.query_id, query_id);
    assert.equal(rs.response_headers['x-clickhouse-query-id'], query_id);
    await rs.close();
    const cmd = await client.command({ query: 'SELECT 1', query_id: `${query_id}-cmd` });
    assert.equal(cmd.query_id, `${query_id}-cmd`);
    assert.equal(cmd.response_headers['x-clickhouse-query-id'], `${query_id}-cmd`);
    const generated = await http({}, 'SELECT 1');
    assert.match(generated.res.headers.get('x-clickhouse-query-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  test('settings per request: database, output_format_*, and they do not leak', async () => {
    const scoped = newClient({ database: DB });
    const plain = newClient();
    try {
      for (let i = 0; i < 6; i++) {
        const rs = await scoped.query({
          query: "SELECT currentDatabase() AS db, toUInt64(5) AS n, toString(getSetting('max_block_size')) AS mbs",
          format: 'JSONEachRow',
          clickhouse_settings: { output_format_json_quote_64bit_integers: 1, max_block_size: '1234' },
        });
        assert.deepEqual(await rs.json(), [{ db: DB, n: '5', mbs: '1234' }]);
      }
      // a SET statement without a session does not outlive its request either
      await plain.command({ query: 'SET max_block_size = 777' });
      for (let i = 0; i < 6; i++) {
        // every pooled connection is back at its defaults
        const rs = await plain.query({
          query: "SELECT currentDatabase() AS db, toUInt64(5) AS n, toString(getSetting('max_block_size')) NOT IN ('1234', '777') AS ok",
          format: 'JSONEachRow',
        });
        assert.deepEqual(await rs.json(), [{ db: 'default', n: 5, ok: 1 }]);
      }
    } finally {
      await scoped.close();
      await plain.close();
    }
    await assert.rejects(
      client.query({ query: 'SELECT 1', clickhouse_settings: { no_such_setting_xyz: 1 } as never }),
      (e: Error & { code?: string }) => e.code === '115',
    );
  });

  test('sessions keep temporary tables, requests without one do not; compression both ways works', async () => {
    const s = newClient({ session_id: `s-${Date.now()}`, compression: { request: true, response: true } });
    try {
      await s.command({ query: 'CREATE TEMPORARY TABLE tmp (a UInt32)' });
      await s.insert({ table: 'tmp', values: [{ a: 1 }, { a: 2 }], format: 'JSONEachRow' });
      const rs = await s.query({ query: 'SELECT toString(sum(a)) AS s FROM tmp', format: 'JSONEachRow' });
      assert.deepEqual(await rs.json(), [{ s: '3' }]);
    } finally {
      await s.close();
    }
    await assert.rejects(client.query({ query: 'SELECT * FROM tmp' }), (e: Error & { code?: string }) => e.code === '60');
    // without a session, a temporary table (like SET and USE) ends with its request
    await client.command({ query: 'CREATE TEMPORARY TABLE leak_check (a UInt8)' });
    await client.command({ query: 'USE system' });
    for (let i = 0; i < 6; i++) {
      const rs = await client.query({
        query: 'SELECT currentDatabase() AS db, (SELECT count() FROM system.tables WHERE is_temporary) AS tmp',
        format: 'JSONEachRow',
      });
      assert.deepEqual(await rs.json(), [{ db: 'default', tmp: '0' }]);
    }
  });

  test('streaming select of 1,000,000 rows via resultSet.stream() arrives complete', async () => {
    const rs = await client.query({ query: 'SELECT number, toString(number) AS s FROM numbers(1000000)', format: 'TabSeparated' });
    let count = 0;
    let sum = 0n;
    let ordered = true;
    for await (const rows of rs.stream()) {
      for (const row of rows as Array<{ text: string }>) {
        const [n, s] = row.text.split('\t');
        if (Number(n) !== count || s !== n) ordered = false;
        sum += BigInt(n);
        count++;
      }
    }
    assert.equal(count, 1_000_000);
    assert.ok(ordered);
    assert.equal(sum, 499999500000n);
  });

  test('while a large result streams, other requests are served', async () => {
    const rs = await client.query({ query: 'SELECT number FROM numbers(2000000)', format: 'JSONCompactEachRow' });
    const it = rs.stream()[Symbol.asyncIterator]();
    const first = await it.next();
    assert.ok(!first.done);
    const other = await client.query({ query: 'SELECT 42 AS x', format: 'JSONEachRow' });
    assert.deepEqual(await other.json(), [{ x: 42 }]);
    let n = (first.value as unknown[]).length;
    for (let r = await it.next(); !r.done; r = await it.next()) n += (r.value as unknown[]).length;
    assert.equal(n, 2_000_000);
  });

  test('an error in the middle of a stream reaches the client as an error', async () => {
    const rs = await client.query({
      query: "SELECT throwIf(number = 1500000, 'boom in the middle') AS x FROM numbers(3000000)",
      format: 'JSONEachRow',
    });
    let rows = 0;
    await assert.rejects(
      (async () => {
        for await (const batch of rs.stream()) rows += (batch as unknown[]).length;
      })(),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, '395', String(e));
        assert.match(e.message, /boom in the middle/);
        return true;
      },
    );
    assert.ok(rows < 1_500_000);
  });

  test('large streamed inserts (chunked request body, 300k rows; TSV and RowBinary)', async () => {
    await client.command({ query: `CREATE TABLE ${DB}.big (id UInt64, s String, ts DateTime64(3)) ENGINE = MergeTree ORDER BY id` });
    const N = 300_000;
    function* tsv() {
      for (let i = 0; i < N; i += 10_000) {
        let chunk = '';
        for (let j = i; j < i + 10_000; j++) chunk += `${j}\tvalue ${j}\t2024-01-01 00:00:00.${String(j % 1000).padStart(3, '0')}\n`;
        yield chunk;
      }
    }
    await client.insert({ table: `${DB}.big`, values: Readable.from(tsv(), { objectMode: false }), format: 'TabSeparated' });
    const check = await client.query({
      query: `SELECT count() AS n, sum(id) AS total, uniqExact(s) AS u, max(ts) AS mx FROM ${DB}.big`,
      format: 'JSONEachRow',
    });
    assert.deepEqual(await check.json(), [{ n: String(N), total: String((N * (N - 1)) / 2), u: String(N), mx: '2024-01-01 00:00:00.999' }]);

    const rb = await http({}, `SELECT * FROM ${DB}.big ORDER BY id FORMAT RowBinary`);
    await client.command({ query: `TRUNCATE TABLE ${DB}.big` });
    // raw bytes through client.exec: query in the URL, a chunked body split mid-row
    const { stream } = await client.exec({
      query: `INSERT INTO ${DB}.big FORMAT RowBinary`,
      values: Readable.from([rb.bytes.subarray(0, 1_000_003), rb.bytes.subarray(1_000_003)], { objectMode: false }),
    });
    await collect(stream);
    const again = await http({}, `SELECT * FROM ${DB}.big ORDER BY id FORMAT RowBinary`);
    assert.ok(again.bytes.equals(rb.bytes));
  });

  test('export rate of 1M rows: FORMAT Native and FORMAT Parquet', async (t) => {
    await client.command({
      query: `CREATE TABLE ${DB}.trades (
        id UInt64, ts DateTime64(3), symbol LowCardinality(String), price Decimal128(8), qty UInt64,
        side Enum8('buy' = 1, 'sell' = 2), venue LowCardinality(String), flags Map(String, String)
      ) ENGINE = MergeTree ORDER BY (symbol, ts)`,
    });
    await client.command({
      query: `INSERT INTO ${DB}.trades SELECT number, toDateTime64('2024-01-01 00:00:00', 3) + number * 0.013,
        ['AAPL','MSFT','GOOG','AMZN','NVDA'][number % 5 + 1], toDecimal128(100 + (number % 10000) / 100, 8), number % 1000,
        if(number % 2 = 0, 'buy', 'sell'), ['XNAS','XNYS'][number % 2 + 1], map('k', toString(number % 7))
        FROM numbers(1000000)`,
    });
    const rates: Record<string, string> = {};
    for (const fmt of ['Native', 'Parquet', 'RowBinary', 'TabSeparated']) {
      const t0 = performance.now();
      const { stream } = await client.exec({ query: `SELECT * FROM ${DB}.trades FORMAT ${fmt}` });
      let bytes = 0;
      for await (const c of stream as AsyncIterable<Buffer>) bytes += c.length;
      const sec = (performance.now() - t0) / 1000;
      assert.ok(bytes > 1_000_000, `${fmt}: ${bytes} bytes`);
      rates[fmt] = `${(1_000_000 / sec / 1e6).toFixed(2)}M rows/s (${(bytes / 1e6).toFixed(1)} MB in ${sec.toFixed(2)} s)`;
    }
    t.diagnostic(`1M-row export through the chdb server: ${JSON.stringify(rates)}`);
  });
});
