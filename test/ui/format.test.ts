import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatAgo,
  formatBytes,
  formatCompact,
  formatCount,
  formatDelta,
  formatDuration,
  formatTimestamp,
  fitWatermark,
  oneLine,
  padCell,
} from '../../src/ui/format.js';

describe('format', () => {
  it('writes counts in full while they fit, compact after', () => {
    assert.equal(formatCount(1234), '1,234');
    assert.equal(formatCount(1_234_567, 8), '1.23M');
    assert.equal(formatCount(812_345, 8), '812,345');
    assert.equal(formatCount(null), '—');
    assert.equal(formatCompact(45_600), '45.6k');
    assert.equal(formatCompact(7_100_000_000), '7.10G');
  });

  it('signs a difference and says 0 when both sides agree', () => {
    assert.equal(formatDelta(0), '0');
    assert.equal(formatDelta(12), '+12');
    assert.equal(formatDelta(-3), '-3');
    assert.equal(formatDelta(1200, 6), '+1,200');
    assert.equal(formatDelta(-1_234_567, 6), '-1.23M');
    assert.equal(formatDelta(null), '—');
  });

  it('writes sizes and durations the way people read them', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(47_185_920), '45.0 MB');
    assert.equal(formatDuration(850), '850ms');
    assert.equal(formatDuration(4200), '4.2s');
    assert.equal(formatDuration(192_000), '3m12s');
    assert.equal(formatDuration(3_840_000), '1h04m');
  });

  it('says how long ago, from a given now', () => {
    const now = Date.parse('2026-02-11T12:10:00Z');
    assert.equal(formatAgo('2026-02-11T12:09:58Z', now), 'just now');
    assert.equal(formatAgo('2026-02-11T12:09:15Z', now), '45s ago');
    assert.equal(formatAgo('2026-02-11T12:01:00Z', now), '9m ago');
    assert.equal(formatAgo('2026-02-11T09:10:00Z', now), '3h ago');
    assert.equal(formatAgo(null, now), '—');
  });

  it('shortens a watermark timestamp to the column, and says never for the epoch', () => {
    assert.equal(formatTimestamp('2026-02-11T12:02:00.123000Z'), '2026-02-11 12:02:00.123');
    assert.equal(formatTimestamp('2026-02-11T12:02:00.000000Z'), '2026-02-11 12:02:00');
    assert.equal(formatTimestamp('2026-02-11T12:02:00.123000Z', 19), '2026-02-11 12:02:00');
    assert.equal(formatTimestamp('2026-02-11T12:02:00.000000Z', 14), '02-11 12:02:00');
    assert.equal(formatTimestamp('1970-01-01T00:00:00.000000Z'), 'never');
    assert.equal(fitWatermark({ timestamp: '2026-02-11T12:02:00Z', tieBreak: '17' }), '2026-02-11 12:02:00 #17');
    assert.equal(fitWatermark({ timestamp: '1970-01-01T00:00:00Z', tieBreak: '0' }), 'never');
  });

  it('keeps text on one line: breaks and tabs become spaces, escape codes go', () => {
    assert.equal(oneLine('a\n  b\r\n\tc \x1b[31md\x1b[0m\x07'), 'a b c d');
    assert.equal(padCell('x\ny', 5), 'x y  ');
  });

  it('pads and cuts cells to their width', () => {
    assert.equal(padCell('abc', 5), 'abc  ');
    assert.equal(padCell('abc', 5, 'right'), '  abc');
    assert.equal(padCell('bronze_trades_binance', 10), 'bronze_tr…');
  });
});
