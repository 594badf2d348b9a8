// The ClickHouse side's SQL: its shape, and the types it refuses. Whether ClickHouse computes the numbers
// DuckDB computes is proved on real servers (test/integration/pipeline/checksum.k2.test.ts on 18.16,
// test/integration/current-clickhouse/checksum.test.ts on the current engine).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalTextSql, parseChecksumRow, partitionChecksumSql, partitionValueSql } from '../../src/clickhouse/checksum.js';

describe('partitionChecksumSql', () => {
  it('groups by the Iceberg partition values and sums the row hashes with overflow', () => {
    const sql = partitionChecksumSql({
      from: '`k2`.`trades`',
      where: 'ts <= 1',
      columns: [
        { name: 'ts', type: 'DateTime' },
        { name: 'price', type: 'Decimal(38, 8)' },
      ],
      partitionBy: [
        { transform: 'day', column: 'ts', type: 'DateTime' },
        { transform: 'identity', column: 'exchange', type: 'LowCardinality(String)' },
      ],
    });
    assert.match(
      sql,
      /^SELECT .* AS p0, toString\(`exchange`\) AS p1, toString\(count\(\)\) AS rows, toString\(sumWithOverflow\(reinterpretAsUInt64\(reverse\(substring\(MD5\(concat\(/,
    );
    assert.match(sql, / FROM `k2`\.`trades` WHERE ts <= 1 GROUP BY p0, p1$/);
  });

  it('never prints a wide decimal whole (18.16 prints Decimal128 wrongly from 22 digits on)', () => {
    const wide = canonicalTextSql('price', 'Decimal(38, 8)');
    assert.doesNotMatch(wide, /toString\(`price`\)/);
    assert.match(canonicalTextSql('price', 'Decimal(18, 8)'), /toString\(`price`\)/);
  });

  it('maps NULLs of Nullable columns to N and leaves non-nullable ones bare', () => {
    assert.match(canonicalTextSql('q', 'Nullable(UInt64)'), /^ifNull\(toString\(`q`\), 'N'\)$/);
    assert.equal(canonicalTextSql('q', 'UInt64'), 'toString(`q`)');
  });

  it('floors sub-microsecond DateTime64 values, as the offload stores them', () => {
    assert.match(canonicalTextSql('t', 'DateTime64(9)'), /toUnixTimestamp64Nano/);
    assert.match(canonicalTextSql('t', "DateTime64(3, 'UTC')"), /^toString\(toUnixTimestamp64Micro\(`t`\)\)$/);
  });

  it('refuses types the offload does not map, naming them', () => {
    assert.throws(() => canonicalTextSql('ip', 'IPv4'), /IPv4 type has no checksum text/);
    assert.throws(() => partitionValueSql({ transform: 'hour', column: 'd', type: 'Date' }), /hour\(\) of d \(Date\): not a time/);
  });

  it('reads a result row into the key the Iceberg side gives the partition', () => {
    assert.deepEqual(parseChecksumRow({ p0: '20494', p1: null, rows: '3', checksum: '18446744073709551615' }, 2), {
      key: '["20494",null]',
      rows: 3n,
      checksum: 18446744073709551615n,
    });
  });
});
