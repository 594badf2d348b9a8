// The watermark's one home: exact comparison in µs, the snapshot-summary text both ways, display.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeWatermark, encodeWatermark, EPOCH, formatWatermark, instantMicros, sameWatermark } from '../../src/core/watermark.js';

describe('sameWatermark', () => {
  it('compares timestamps as exact microseconds, whatever their text', () => {
    const w = (timestamp: string, tieBreak: string | null = null) => ({ timestamp, tieBreak });
    assert.ok(sameWatermark(w('2026-02-11T12:02:00Z'), w('2026-02-11T12:02:00.000000Z')));
    assert.ok(sameWatermark(w('2026-02-11T14:02:00.5+02:00', '7'), w('2026-02-11T12:02:00.500000Z', '7')));
    assert.ok(!sameWatermark(w('2026-02-11T12:02:00.000001Z'), w('2026-02-11T12:02:00.000000Z')), 'one µs apart');
    assert.ok(!sameWatermark(w('2026-02-11T12:02:00Z', '1'), w('2026-02-11T12:02:00Z', '2')));
    assert.ok(!sameWatermark(w('2026-02-11T12:02:00Z', '1'), w('2026-02-11T12:02:00Z')));
    assert.ok(!sameWatermark(w('not a time'), w('not a time')), 'a timestamp that is no instant equals nothing');
    assert.ok(sameWatermark(null, null));
    assert.ok(!sameWatermark(EPOCH, null));
  });

  it('keeps digits beyond µs out of the comparison only when they are zero', () => {
    assert.equal(instantMicros('1970-01-01T00:00:01.000001000Z'), 1_000_001n);
    assert.equal(instantMicros('1970-01-01T00:00:01.0000011Z'), null);
  });
});

describe('the snapshot summary text', () => {
  it('round-trips, and reads the shorter forms', () => {
    const w = { timestamp: '2026-02-11T12:02:00.123456Z', tieBreak: '18446744073709551615' };
    assert.equal(encodeWatermark(w), '{"timestamp":"2026-02-11T12:02:00.123456Z","tieBreak":"18446744073709551615"}');
    assert.deepEqual(decodeWatermark(encodeWatermark(w)), w);
    assert.deepEqual(decodeWatermark('2026-02-11T12:02:00Z#17'), { timestamp: '2026-02-11T12:02:00Z', tieBreak: '17' });
    assert.deepEqual(decodeWatermark('2026-02-11T12:02:00Z'), { timestamp: '2026-02-11T12:02:00Z', tieBreak: null });
    for (const bad of [undefined, '', '{', '{"tieBreak":"1"}', 'yesterday']) assert.equal(decodeWatermark(bad), null, String(bad));
  });

  it('formats with the tie-break only when there is one', () => {
    assert.equal(formatWatermark({ timestamp: '2026-02-11T12:02:00Z', tieBreak: '17' }), '2026-02-11T12:02:00Z #17');
    assert.equal(formatWatermark(EPOCH), '1970-01-01T00:00:00.000000Z');
  });
});
