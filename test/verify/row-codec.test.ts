// How each column travels from ClickHouse to DuckDB for the row comparison: the exact route per type, and
// the columns left out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { columnCodec } from '../../src/verify/row-codec.js';

describe('row codec', () => {
  it('sends strings as hex and instants as epoch numbers, typed as Iceberg types', () => {
    const s = columnCodec('symbol', 'LowCardinality(String)', 'string')!;
    assert.equal(s.select, 'hex(toString(`symbol`)) AS `symbol`');
    assert.equal(s.fromText('c0'), 'decode(unhex(c0))');
    assert.equal(s.fromIceberg('"symbol"'), '"symbol"');
    const t64 = columnCodec('ts', "DateTime64(6, 'UTC')", 'timestamptz')!;
    assert.equal(t64.select, 'toUnixTimestamp64Micro(`ts`) AS `ts`');
    assert.equal(t64.fromText('c1'), 'make_timestamptz(c1::BIGINT)');
    const t = columnCodec('ts', "Nullable(DateTime('UTC'))", 'timestamptz')!;
    assert.equal(t.fromText('c1'), 'make_timestamptz(c1::BIGINT * 1000000)');
  });

  it('compares decimals wider than 18 digits as their exact text, narrower numbers in their type', () => {
    const wide = columnCodec('v', 'Decimal(38, 18)', 'decimal(38, 18)')!;
    assert.equal(wide.type, 'VARCHAR');
    assert.equal(wide.fromIceberg('"v"'), 'CAST("v" AS VARCHAR)');
    const narrow = columnCodec('p', 'Decimal(18, 8)', 'decimal(18, 8)')!;
    assert.equal(narrow.type, 'DECIMAL(18,8)');
    assert.equal(narrow.fromText('c2'), 'c2::DECIMAL(18,8)');
    assert.equal(columnCodec('ok', 'UInt8', 'boolean')!.fromText('c3'), "(c3 <> '0')");
  });

  it('sends flat arrays with their length, and leaves out what cannot travel exactly', () => {
    const list = columnCodec('tags', 'Array(String)', { type: 'list', 'element-id': 9, element: 'string', 'element-required': false })!;
    assert.equal(list.type, 'VARCHAR[]');
    assert.match(
      list.select,
      /^concat\(toString\(length\(`tags`\)\), ':', arrayStringConcat\(arrayMap\(x -> toString\(hex\(toString\(x\)\)\), `tags`\), ','\)\) AS `tags`$/,
    );
    assert.equal(
      columnCodec('nested', 'Array(Array(Int32))', {
        type: 'list',
        'element-id': 9,
        element: { type: 'list', 'element-id': 10, element: 'int', 'element-required': false },
        'element-required': false,
      }),
      null,
    );
    assert.equal(
      columnCodec('m', 'Map(String, String)', {
        type: 'map',
        'key-id': 1,
        key: 'string',
        'value-id': 2,
        value: 'string',
        'value-required': false,
      }),
      null,
    );
  });
});
