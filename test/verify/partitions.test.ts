// Why a partition differs, as `offload verify` prints it in its WHY column (pure: the numbers of both sides).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { differenceOf } from '../../src/verify/partitions.js';

describe('differenceOf', () => {
  it('is undefined when both sides have the same rows and checksum', () => {
    assert.equal(differenceOf({ rows: 3n, checksum: 7n }, { rows: 3n, checksum: 7n }), undefined);
    assert.equal(differenceOf(null, null), undefined);
  });

  it('counts the rows one side lacks', () => {
    assert.equal(
      differenceOf({ rows: 5n, checksum: 1n }, { rows: 3n, checksum: 2n }),
      '2 row(s) in ClickHouse up to the watermark that Iceberg lacks',
    );
    assert.equal(differenceOf(null, { rows: 4n, checksum: 2n }), '4 row(s) in Iceberg that ClickHouse no longer has up to the watermark');
  });

  it('names changed values when the counts agree', () => {
    assert.match(differenceOf({ rows: 3n, checksum: 1n }, { rows: 3n, checksum: 2n })!, /^as many rows on both sides, other values/);
  });
});
