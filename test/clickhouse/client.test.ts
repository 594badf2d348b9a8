// ClickHouse source pieces that need no server: capabilities by version, quoting, literals, error parsing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { capabilitiesOf, displayUrl, extractFormatFromEnv, parseServerError } from '../../src/clickhouse/client.js';
import {
  dateTimeLiteral,
  literalValues,
  parameterValues,
  sqlValues,
  numberLiteral,
  parseTableRef,
  qualifiedName,
  quoteIdentifier,
  stringLiteral,
} from '../../src/clickhouse/sql.js';

describe('capabilities by server version', () => {
  it('18.16 has none of the newer features and needs the LowCardinality setting', () => {
    const c = capabilitiesOf('18.16.1');
    assert.equal(c.version, '18.16.1');
    for (const missing of [
      'queryParameters',
      'dateTime64',
      'parquetOutput',
      'arrowOutput',
      'mapType',
      'boolType',
      'tablesTotalRows',
      'parquetExtraction',
    ] as const) {
      assert.equal(c[missing], false, missing);
    }
    assert.equal(c.lowCardinalityExperimental, true);
  });

  it('current servers have all of them', () => {
    for (const v of ['24.8.4.13', '25.3.1.2703']) {
      const c = capabilitiesOf(v);
      assert.ok(
        c.queryParameters &&
          c.dateTime64 &&
          c.parquetOutput &&
          c.arrowOutput &&
          c.mapType &&
          c.boolType &&
          c.tablesTotalRows &&
          c.parquetExtraction,
        v,
      );
      assert.equal(c.lowCardinalityExperimental, false);
    }
  });

  it('derives each from the version in between', () => {
    assert.equal(capabilitiesOf('19.11.3.11').queryParameters, true);
    assert.equal(capabilitiesOf('19.10.1').queryParameters, false);
    assert.equal(capabilitiesOf('20.1.2.4').dateTime64, true);
    assert.equal(capabilitiesOf('19.17.10').dateTime64, false);
    assert.equal(capabilitiesOf('21.12.1').boolType, true);
    assert.equal(capabilitiesOf('21.11.1').boolType, false);
    assert.equal(capabilitiesOf('23.8.1').parquetExtraction, true);
    assert.equal(capabilitiesOf('23.3.9').parquetExtraction, false, 'Parquet output exists, but older than the path is checked for');
    assert.equal(capabilitiesOf('garbage').dateTime64, false, 'unknown versions are treated like 18.16');
  });
});

describe('identifiers and literals', () => {
  it('backquotes identifiers and escapes backquotes and backslashes', () => {
    assert.equal(quoteIdentifier('exchange_timestamp'), '`exchange_timestamp`');
    assert.equal(quoteIdentifier('we`ird\\name'), '`we\\`ird\\\\name`');
    assert.equal(qualifiedName({ database: 'k2', table: 'ohlcv_1m' }), '`k2`.`ohlcv_1m`');
    assert.throws(() => quoteIdentifier(''));
  });

  it('parses table references', () => {
    assert.deepEqual(parseTableRef('k2.bronze_trades_binance'), { database: 'k2', table: 'bronze_trades_binance' });
    assert.deepEqual(parseTableRef('silver_trades', 'k2'), { database: 'k2', table: 'silver_trades' });
    assert.deepEqual(parseTableRef('`my db`.`t.1`'), { database: 'my db', table: 't.1' });
    assert.throws(() => parseTableRef('a.b.c'), /not a table name/);
  });

  it('escapes strings: quotes, backslashes, control characters', () => {
    assert.equal(stringLiteral("it's"), "'it\\'s'");
    assert.equal(stringLiteral('a\\b'), "'a\\\\b'");
    assert.equal(stringLiteral('line\nnext\ttab\0'), "'line\\nnext\\ttab\\0'");
    assert.equal(stringLiteral("'; DROP TABLE x; --"), "'\\'; DROP TABLE x; --'");
  });

  it('writes numbers and bigints exactly', () => {
    assert.equal(numberLiteral(42), '42');
    assert.equal(numberLiteral(18446744073709551615n), '18446744073709551615');
    assert.equal(numberLiteral(1.5), '1.5');
    assert.throws(() => numberLiteral(Number.NaN));
  });

  it('writes UTC instants as DateTime or DateTime64 literals, never dropping digits silently', () => {
    assert.equal(dateTimeLiteral('2026-02-11T12:02:00.000000Z'), "toDateTime('2026-02-11 12:02:00', 'UTC')");
    assert.equal(dateTimeLiteral(new Date(Date.UTC(2026, 1, 11, 12, 2, 0))), "toDateTime('2026-02-11 12:02:00', 'UTC')");
    assert.equal(dateTimeLiteral('2026-02-11T12:02:00.123456Z', 6), "toDateTime64('2026-02-11 12:02:00.123456', 6, 'UTC')");
    assert.equal(dateTimeLiteral('2026-02-11T12:02:00.1Z', 3), "toDateTime64('2026-02-11 12:02:00.100', 3, 'UTC')");
    assert.equal(dateTimeLiteral('2026-02-11T12:02:00.123000Z', 3), "toDateTime64('2026-02-11 12:02:00.123', 3, 'UTC')");
    assert.throws(() => dateTimeLiteral('2026-02-11T12:02:00.5Z'), /more sub-second digits than a DateTime holds/);
    assert.throws(() => dateTimeLiteral('2026-02-11T12:02:00.123456Z', 3), /DateTime64\(3\)/);
    assert.throws(() => dateTimeLiteral("2026-02-11'); DROP TABLE x; --"), /not a UTC timestamp/);
  });
});

describe('values in a statement: literals on 18.16, query parameters on current servers', () => {
  it('picks parameters exactly when the server has them', () => {
    assert.equal(sqlValues(capabilitiesOf('18.16.1')).usesParameters, false);
    assert.equal(sqlValues(capabilitiesOf('26.9.2.1')).usesParameters, true);
  });

  it('literals: typed, escaped, every digit kept', () => {
    const v = literalValues();
    assert.equal(v.string("it's \\ \n"), "'it\\'s \\\\ \\n'");
    assert.equal(v.integer('18446744073709551615'), "toUInt64('18446744073709551615')");
    assert.equal(v.integer('-5'), 'toInt64(-5)');
    assert.equal(v.dateTime(1_700_000_000n), 'toDateTime(1700000000)');
    assert.equal(v.dateTime(-1n), 'toDateTime(0)', "clamped to DateTime's range");
    assert.equal(v.dateTime64(1_700_000_000_123_456n), "toDateTime64('2023-11-14 22:13:20.123456', 6, 'UTC')");
    assert.equal(v.dateTime64(-1n), "toDateTime64('1969-12-31 23:59:59.999999', 6, 'UTC')");
    assert.equal(v.date(19_000n), "toDate('2022-01-08')");
    assert.deepEqual(v.params, {});
    assert.throws(() => v.integer('1; DROP TABLE x'), /not an integer/);
  });

  it('parameters: placeholders numbered per statement, the values as text beside them', () => {
    const v = parameterValues();
    const sql = [
      v.string("it's \\"),
      v.integer('18446744073709551615'),
      v.integer('-1'),
      v.dateTime(1_700_000_000n),
      v.dateTime64(-1n),
      v.date(0n),
    ].join(' ');
    assert.equal(sql, "{p0:String} {p1:UInt64} {p2:Int64} {p3:DateTime('UTC')} {p4:DateTime64(6, 'UTC')} {p5:Date}");
    assert.deepEqual(v.params, {
      p0: "it's \\",
      p1: '18446744073709551615',
      p2: '-1',
      p3: '2023-11-14 22:13:20',
      p4: '1969-12-31 23:59:59.999999',
      p5: '1970-01-01',
    });
  });

  it('OFFLOAD_EXTRACT_FORMAT: auto by default, csv or parquet, anything else a configuration error', () => {
    assert.equal(extractFormatFromEnv({}), 'auto');
    assert.equal(extractFormatFromEnv({ OFFLOAD_EXTRACT_FORMAT: 'CSV' }), 'csv');
    assert.equal(extractFormatFromEnv({ OFFLOAD_EXTRACT_FORMAT: 'parquet' }), 'parquet');
    assert.throws(
      () => extractFormatFromEnv({ OFFLOAD_EXTRACT_FORMAT: 'arrow' }),
      /OFFLOAD_EXTRACT_FORMAT: "arrow" is not an extraction format/,
    );
  });
});

describe('errors', () => {
  it("reads the code from an 18.16 message, which the client's parser misses", () => {
    const e = new Error("Code: 60, e.displayText() = DB::Exception: Table k2.nope doesn't exist., e.what() = DB::Exception\n");
    assert.deepEqual(parseServerError(e), { code: 60, message: "Table k2.nope doesn't exist." });
  });

  it('reads the code from a current message too', () => {
    const e = new Error("Code: 47. DB::Exception: Missing columns: 'x' while processing query. (UNKNOWN_IDENTIFIER) (version 24.8.4.13)");
    assert.equal(parseServerError(e).code, 47);
  });

  it("takes the code the client parsed from a current server's error (its message no longer carries it)", () => {
    const e = Object.assign(new Error('Syntax error: failed at position 1 (SELEC)'), { code: '62', type: 'SYNTAX_ERROR' });
    assert.deepEqual(parseServerError(e), { code: 62, message: 'Syntax error: failed at position 1 (SELEC)' });
  });

  it('shows the server URL with the password hidden', () => {
    assert.equal(displayUrl({ url: 'http://127.0.0.1:18123', username: 'default', password: '' }), 'http://default@127.0.0.1:18123');
    assert.equal(displayUrl({ url: 'https://ch.example:8443', username: 'u', password: 'secret' }), 'https://u:***@ch.example:8443');
  });
});
