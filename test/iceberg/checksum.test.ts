// The canonical texts the checksums hash, as DuckDB computes them from Iceberg values: one example per
// type (ClickHouse computes the same texts; the integration tests compare the two engines on real rows).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalTextSql, partitionValueText, rowHashSql } from '../../src/iceberg/checksum.js';
import { openDuckDB, type DuckDBSession } from '../../src/iceberg/parquet.js';
import type { IcebergType } from '../../src/iceberg/types.js';

let duck: DuckDBSession;
before(async () => {
  duck = await openDuckDB({ threads: 1, memoryLimit: '128MB' });
});
after(() => duck?.close());

async function text(type: IcebergType, value: string): Promise<string> {
  const rows = (
    await duck.connection.runAndReadAll(`SELECT ${canonicalTextSql(type, 'v')} AS t FROM (SELECT ${value} AS v)`)
  ).getRowObjectsJS();
  return String(rows[0].t);
}

describe('canonical texts (DuckDB side)', () => {
  const cases: Array<[string, IcebergType, string, string]> = [
    ['NULL of any type', 'long', 'CAST(NULL AS BIGINT)', 'N'],
    ['a long', 'long', '-42::BIGINT', '-42'],
    ['a decimal without trailing zeros', 'decimal(18, 8)', '1.50000000::DECIMAL(18,8)', '1.5'],
    ['an integral decimal without a point', 'decimal(38, 8)', '100::DECIMAL(38,8)', '100'],
    ['a tiny negative decimal', 'decimal(38, 8)', '-0.00000001::DECIMAL(38,8)', '-0.00000001'],
    ['UInt64 max as decimal(20, 0)', 'decimal(20, 0)', '18446744073709551615::DECIMAL(20,0)', '18446744073709551615'],
    ['a double as its IEEE bits', 'double', '1.5::DOUBLE', '4609434218613702656'],
    ['−0.0 keeps its sign bit', 'double', "'-0.0'::DOUBLE", '9223372036854775808'],
    ['any NaN', 'double', "'nan'::DOUBLE", 'nan'],
    ['a float as its 32 bits', 'float', '1.5::FLOAT', '1069547520'],
    ['a boolean', 'boolean', 'true', '1'],
    ['a NULL boolean', 'boolean', 'CAST(NULL AS BOOLEAN)', 'N'],
    ['a date as days', 'date', "DATE '1969-12-31'", '-1'],
    ['a timestamp as µs', 'timestamptz', "TIMESTAMPTZ '1970-01-01 00:00:01.000001+00'", '1000001'],
    ['a string with its byte length', 'string', "'日本'", '6:日本'],
    ['a uuid', 'uuid', "'0191E3B2-7C4A-7D2E-9F00-1234567890AB'::UUID", '0191e3b2-7c4a-7d2e-9f00-1234567890ab'],
    [
      'a list with a NULL',
      { type: 'list', 'element-id': 2, element: 'string', 'element-required': false },
      "['a', NULL, '']",
      '[1:a,N,0:]',
    ],
    ['an empty list', { type: 'list', 'element-id': 2, element: 'string', 'element-required': false }, '[]::VARCHAR[]', '[]'],
    [
      'a map, entries sorted',
      { type: 'map', 'key-id': 2, key: 'string', 'value-id': 3, value: 'string', 'value-required': false },
      "MAP(['z', 'a'], ['last', NULL])",
      '{1:a:N,1:z:4:last}',
    ],
    [
      'a struct',
      {
        type: 'struct',
        fields: [
          { id: 2, name: 'a', required: true, type: 'string' },
          { id: 3, name: 'b', required: false, type: 'long' },
        ],
      },
      "{'a': 'x', 'b': NULL::BIGINT}",
      '(1:x,N)',
    ],
  ];
  for (const [what, type, value, expected] of cases) it(what, async () => assert.equal(await text(type, value), expected));

  it('hashes a row text to the first 8 bytes of its MD5, big-endian', async () => {
    const rows = (await duck.connection.runAndReadAll(`SELECT ${rowHashSql("'abc'")} AS h`)).getRowObjectsJS();
    assert.equal(BigInt(rows[0].h as bigint), 0x900150983cd24fb0n);
  });
});

describe('partition values as text', () => {
  it('are the transform results and identity values, decimals trimmed, NULL as null', () => {
    assert.equal(partitionValueText('day', 'timestamptz', 20494), '20494');
    assert.equal(partitionValueText('identity', 'string', 'binance'), 'binance');
    assert.equal(partitionValueText('identity', 'timestamp', 1_000_001n), '1000001');
    assert.equal(partitionValueText('identity', 'decimal(9, 2)', '12.50'), '12.5');
    assert.equal(partitionValueText('identity', 'decimal(9, 0)', '100'), '100');
    assert.equal(partitionValueText('identity', 'boolean', false), '0');
    assert.equal(partitionValueText('identity', 'string', null), null);
    assert.equal(partitionValueText('void', 'long', 5), null);
  });
});
