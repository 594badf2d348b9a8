// The ClickHouse source against the real 18.16 server: version and capabilities, literals and identifiers
// that survive the round trip, introspection, and failures reported as a person needs them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { checkTablesAgainstClickHouse, validateTablesConfig } from '../../src/config/tables.js';
import { ClickHouseQueryError, type ClickHouseSource, clickhouseSourceFromEnv } from '../../src/clickhouse/client.js';
import { dateTimeLiteral, qualifiedName, quoteIdentifier, stringLiteral } from '../../src/clickhouse/sql.js';
import { applySeedSchema, candleSelectSql } from '../../src/dev/schema.js';
import { ConfigError, ExitCode, ServiceRefused, ServiceUnavailable } from '../../src/core/errors.js';
import { freshClickHouseDatabase, stackEnv } from '../support/stack.js';

let db: Awaited<ReturnType<typeof freshClickHouseDatabase>>;
let ch: ClickHouseSource;

before(async () => {
  db = await freshClickHouseDatabase('chsrc');
  ch = clickhouseSourceFromEnv(stackEnv());
  await applySeedSchema(ch, db.name);
});

after(async () => {
  await ch?.close();
  await db?.drop();
});

describe('ClickHouse source', () => {
  it('detects the server version once and derives what it can do', async () => {
    const caps = await ch.capabilities();
    assert.match(caps.version, /^18\.16\./);
    assert.equal(caps.queryParameters, false);
    assert.equal(caps.dateTime64, false);
    assert.equal(caps.parquetOutput, false);
    assert.equal(await ch.version(), caps.version);
  });

  it('string literals come back from the server unchanged', async () => {
    const samples = ["it's", 'back\\slash', 'new\nline\ttab\rcr', "'; DROP TABLE x; --", 'naïve €', 'nul\0byte', '`tick`'];
    for (const s of samples) {
      const [r] = await ch.query<{ s: string }>(`SELECT ${stringLiteral(s)} AS s`);
      assert.equal(r.s, s);
    }
  });

  it('quoted identifiers reach the server as the same names', async () => {
    const table = { database: db.name, table: 'odd`name\\here' };
    await ch.command(
      `CREATE TABLE ${qualifiedName(table)} (${quoteIdentifier('col `x`')} UInt8, ${quoteIdentifier("it's")} String) ENGINE = Memory`,
    );
    assert.deepEqual(await ch.columns(table), [
      { name: 'col `x`', type: 'UInt8' },
      { name: "it's", type: 'String' },
    ]);
  });

  it('DateTime literals compare as UTC instants', async () => {
    const [r] = await ch.query<{ t: string }>(`SELECT toString(toUnixTimestamp(${dateTimeLiteral('2026-02-11T12:02:00Z')})) AS t`);
    assert.equal(Number(r.t), Date.UTC(2026, 1, 11, 12, 2, 0) / 1000);
  });

  it("lists a table's columns and counts its rows from part metadata", async () => {
    const ref = { database: db.name, table: 'bronze_trades_kraken' };
    const cols = await ch.columns(ref);
    assert.deepEqual(cols.slice(0, 3), [
      { name: 'exchange_timestamp', type: 'DateTime' },
      { name: 'exchange_timestamp_ms', type: 'UInt16' },
      { name: 'sequence_number', type: 'UInt64' },
    ]);
    assert.equal(await ch.totalRows(ref), 0);
    for (let i = 0; i < 3; i++) {
      await ch.command(
        `INSERT INTO ${qualifiedName(ref)} (exchange_timestamp, exchange_timestamp_ms, sequence_number, symbol, price, quantity, quote_volume, event_time, event_time_ms, kafka_offset, kafka_partition) ` +
          `SELECT toDateTime('2026-01-01 00:00:00', 'UTC') + number, 0, 42, 'XBT/USD', 1, 1, 1, toDateTime('2026-01-01 00:00:00', 'UTC'), 0, number + ${i * 1000}, 0 FROM system.numbers LIMIT 1000`,
      );
    }
    assert.equal(await ch.totalRows(ref), 3000);
  });

  it('describes what a query returns without running it over data', async () => {
    const cols = await ch.describeQuery(candleSelectSql('ohlcv_1h', { database: db.name }));
    const types = Object.fromEntries(cols.map((c) => [c.name, c.type]));
    assert.equal(types.window_start, 'DateTime');
    assert.equal(types.open_price, 'Decimal(18, 8)');
    assert.equal(types.volume, 'Decimal(38, 8)');
    assert.equal(types.trade_count, 'UInt64');
  });

  it('reports a missing table with ClickHouse code 60', async () => {
    await assert.rejects(
      ch.columns({ database: db.name, table: 'nope' }),
      (err: Error) => err instanceof ClickHouseQueryError && err.code === 60,
    );
    await assert.rejects(ch.totalRows({ database: db.name, table: 'nope' }), /does not exist/);
  });

  it("reads the server's error code from 18.16's message", async () => {
    await assert.rejects(ch.query('SELECT no_such_column'), (err: Error) => {
      assert.ok(err instanceof ClickHouseQueryError);
      assert.equal(err.code, 47);
      assert.match(err.message, /^ClickHouse error 47: Unknown identifier: no_such_column/);
      return true;
    });
  });

  it('reports an unreachable server as ServiceUnavailable with the password redacted', async () => {
    const down = clickhouseSourceFromEnv({ CLICKHOUSE_URL: 'http://u:secret@127.0.0.1:1' });
    try {
      await assert.rejects(down.version(), (err: Error) => {
        assert.ok(err instanceof ServiceUnavailable);
        assert.equal(err.exitCode, ExitCode.unavailable);
        assert.match(err.message, /^cannot reach ClickHouse at http:\/\/u:\*\*\*@127\.0\.0\.1:1 \(connection refused\)/);
        assert.ok(!err.message.includes('secret'));
        return true;
      });
      await assert.rejects(down.ping(), ServiceUnavailable);
    } finally {
      await down.close();
    }
  });

  it('reports a wrong password as a refused login (exit 3: a retry will not help), without the password', async () => {
    const url = new URL(stackEnv().CLICKHOUSE_URL);
    url.password = 'not-the-password';
    const wrong = clickhouseSourceFromEnv({ CLICKHOUSE_URL: url.toString() });
    try {
      await assert.rejects(wrong.version(), (err: Error) => {
        assert.ok(err instanceof ServiceRefused, String(err));
        assert.equal(err.exitCode, ExitCode.config);
        assert.match(err.message, /^ClickHouse at http:\/\/default:\*\*\*@127\.0\.0\.1:\d+: login refused \(/);
        assert.match(err.message, /check the user and password in CLICKHOUSE_URL/);
        assert.ok(!err.message.includes('not-the-password'));
        return true;
      });
    } finally {
      await wrong.close();
    }
  });
});

describe('configuration checked against ClickHouse', () => {
  const table = (over: Record<string, unknown>) => ({
    name: 'bronze_trades_kraken',
    layer: 'bronze',
    source: `${db.name}.bronze_trades_kraken`,
    cursor: 'exchange_timestamp',
    tieBreak: 'kafka_offset',
    target: 'cold.bronze_trades_kraken',
    partitionBy: ['day(exchange_timestamp)'],
    ...over,
  });

  it('accepts tables whose columns exist', async () => {
    const config = validateTablesConfig(
      {
        tables: [
          table({}),
          {
            name: 'ohlcv_1d',
            layer: 'gold',
            source: `${db.name}.ohlcv_1d`,
            query: candleSelectSql('ohlcv_1d', { database: db.name }),
            cursor: 'window_start',
            closedWindow: '1d',
            target: 'cold.gold_ohlcv_1d',
            partitionBy: ['month(window_start)', 'exchange'],
          },
        ],
      },
      'offload.config.json',
    );
    await checkTablesAgainstClickHouse(config, ch);
  });

  it('names the key, the column, the table and the columns there are', async () => {
    const config = validateTablesConfig(
      {
        tables: [
          table({ name: 'a', target: 'cold.a' }),
          table({ name: 'b', target: 'cold.b' }),
          table({ name: 'c', target: 'cold.c' }),
          table({ name: 'd', target: 'cold.d', cursor: 'exchange_ts' }),
          table({ name: 'e', target: 'cold.e', cursor: 'symbol', tieBreak: 'seq', partitionBy: ['day(ts)'] }),
          table({ name: 'f', target: 'cold.f', source: `${db.name}.missing` }),
        ],
      },
      'offload.config.json',
    );
    await assert.rejects(checkTablesAgainstClickHouse(config, ch), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      // One line, every problem in it: `file: 5 problems: (1) key: message; (2) …`.
      assert.doesNotMatch(err.message, /\n/);
      const head = 'offload.config.json: 5 problems: ';
      assert.ok(err.message.startsWith(head), err.message);
      const lines = err.message
        .slice(head.length)
        .split(/(?:^|; )\(\d\) /)
        .filter(Boolean);
      assert.equal(
        lines[0],
        `tables[3].cursor: column "exchange_ts" is not in ${db.name}.bronze_trades_kraken ` +
          '(columns: exchange_timestamp, exchange_timestamp_ms, sequence_number, symbol, price, quantity, quote_volume, event_time, event_time_ms, kafka_offset, kafka_partition, ingestion_timestamp)',
      );
      assert.equal(lines[1], 'tables[4].cursor: column "symbol" is String; a cursor must be a Date, DateTime or DateTime64 column');
      assert.match(lines[2], /^tables\[4\]\.tieBreak: column "seq" is not in /);
      assert.match(lines[3], /^tables\[4\]\.partitionBy\[0\]: column "ts" is not in /);
      assert.match(lines[4], new RegExp(`^tables\\[5\\]\\.source: table ${db.name}\\.missing does not exist$`));
      assert.equal(lines.length, 5);
      return true;
    });
  });
});
