// Planning decisions on their own: the watermark's exact text, the cutoff (events and closed candle
// windows), batches that end only on whole cursor values, and slices along partition periods.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isoFromMicros, microsFromIso } from '../../src/core/watermark.js';
import { FAULT_POINTS, parseFault } from '../../src/pipeline/faults.js';
import {
  crossingBucket,
  cutoffMicros,
  lastCursorWithin,
  lowerBoundOf,
  periodOf,
  periodStart,
  planFromStats,
  sliceBatch,
} from '../../src/pipeline/plan.js';

const S = 1_000_000n; // µs per second
const DAY = 86_400n * S;

describe('watermark timestamps', () => {
  it('round-trips microseconds exactly, before and after 1970', () => {
    for (const iso of [
      '1970-01-01T00:00:00.000000Z',
      '2026-02-11T12:02:00.123456Z',
      '1969-12-31T23:59:59.999999Z',
      '2105-12-31T23:59:59.000001Z',
    ]) {
      assert.equal(isoFromMicros(microsFromIso(iso)), iso);
    }
    assert.equal(microsFromIso('1970-01-01T00:00:01Z'), S);
    assert.equal(microsFromIso('1969-12-31T23:59:59.999999Z'), -1n);
  });

  it('refuses sub-microsecond digits instead of moving a bound', () => {
    assert.throws(() => microsFromIso('2026-01-01T00:00:00.0000001Z'), /sub-microsecond/);
    assert.equal(microsFromIso('2026-01-01T00:00:00.123456000Z'), microsFromIso('2026-01-01T00:00:00.123456Z'));
  });

  it('starts a never-offloaded table before its first row, and a committed one after its watermark', () => {
    const w = { timestamp: '1970-01-01T00:00:00.000000Z', tieBreak: null };
    assert.equal(lowerBoundOf(w, false), null);
    assert.deepEqual(lowerBoundOf({ timestamp: '2026-02-11T12:00:00.000000Z', tieBreak: '42' }, true), {
      cursor: microsFromIso('2026-02-11T12:00:00Z'),
      tieBreak: '42',
    });
  });
});

describe('the cutoff', () => {
  it('takes events older than now − lag', () => {
    assert.equal(cutoffMicros(1000n * S, 300_000, null), 700n * S);
  });

  it('takes a candle only once its window and the lag have passed: window_start + interval + lag <= now', () => {
    const now = microsFromIso('2026-02-11T11:06:00Z');
    const cutoff = cutoffMicros(now, 300_000, 3_600_000);
    assert.equal(isoFromMicros(cutoff), '2026-02-11T10:01:00.000000Z');
    assert.ok(microsFromIso('2026-02-11T10:00:00Z') <= cutoff, 'the 10:00 hour closed at 11:00; 11:05 passed: offloaded');
    assert.ok(microsFromIso('2026-02-11T11:00:00Z') > cutoff, 'the 11:00 hour is open');
    const inLag = cutoffMicros(microsFromIso('2026-02-11T11:02:00Z'), 300_000, 3_600_000);
    assert.ok(microsFromIso('2026-02-11T10:00:00Z') > inLag, 'closed 2 minutes ago: still inside the lag');
  });
});

describe('batches end on whole cursor values', () => {
  const counts = [
    { cursor: 10n, rows: 5 },
    { cursor: 11n, rows: 4 },
    { cursor: 12n, rows: 2 },
  ];

  it('takes the largest run of whole values within the batch size', () => {
    assert.equal(lastCursorWithin(counts, 0, 9), 11n);
    assert.equal(lastCursorWithin(counts, 0, 8), 10n);
    assert.equal(lastCursorWithin(counts, 0, 100), 12n);
  });

  it('takes one value whole even when it alone exceeds the batch size (rows sharing a timestamp are never split)', () => {
    assert.equal(lastCursorWithin(counts, 0, 3), 10n);
  });

  it('ends before the bucket when the rows before it already fill the batch', () => {
    assert.equal(lastCursorWithin(counts, 7, 9), null);
  });

  it('finds the bucket where the running total passes the batch size', () => {
    assert.deepEqual(crossingBucket(counts, 6), { index: 1, rowsBefore: 5 });
    assert.deepEqual(crossingBucket(counts, 4), { index: 0, rowsBefore: 0 });
    assert.equal(crossingBucket(counts, 11), null);
  });

  it('plans up to date when no row is old enough, else the whole window with a batch estimate', () => {
    assert.equal(planFromStats(null, { now: 0n, newest: null, rows: 0 }, 0n, 10).kind, 'up-to-date');
    const p = planFromStats(null, { now: 0n, newest: 42n, rows: 25 }, 50n, 10);
    assert.equal(p.kind, 'window');
    assert.equal(p.kind === 'window' && p.batches, 3);
    assert.equal(p.kind === 'window' && p.upper, 42n);
  });
});

describe('slices along partition periods', () => {
  const day = (d: number, rows: number) => ({ cursor: BigInt(d) * DAY, rows });

  it('gives each large day a slice of its own (files roll at the target size) and merges small ones', () => {
    const slices = sliceBatch([day(100, 3_000_000), day(101, 200), day(102, 300), day(103, 2_500_000)], 'day', 1_000_000, false);
    assert.deepEqual(
      slices.map((s) => [s.rows, s.isSinglePartition]),
      [
        [3_000_000, true],
        [500, false],
        [2_500_000, true],
      ],
    );
    // Contiguous, with the outer edges open (the window bounds them).
    assert.equal(slices[0].from, null);
    assert.equal(slices[0].to, 101n * DAY);
    assert.equal(slices[1].from, 101n * DAY);
    assert.equal(slices[1].to, 103n * DAY);
    assert.equal(slices[2].from, 103n * DAY);
    assert.equal(slices[2].to, null);
  });

  it('groups days into UTC months for a month transform', () => {
    const jan31 = Number(microsFromIso('2026-01-31T00:00:00Z') / DAY);
    const slices = sliceBatch([day(jan31, 2_000_000), day(jan31 + 1, 2_000_000)], 'month', 1_000_000, false);
    assert.equal(slices.length, 2, 'January and February are two partitions');
    assert.equal(slices[1].from, microsFromIso('2026-02-01T00:00:00Z'));
  });

  it('never marks a slice single-partition when other fields partition too', () => {
    const slices = sliceBatch([day(100, 3_000_000)], 'day', 1_000_000, true);
    assert.equal(slices[0].isSinglePartition, false);
  });

  it('is one slice without a time transform on the cursor', () => {
    assert.deepEqual(sliceBatch([], null, 1_000_000, true), [{ index: 0, from: null, to: null, rows: 0, isSinglePartition: false }]);
  });

  it('computes Iceberg transform values in UTC', () => {
    const t = microsFromIso('2026-02-11T12:34:56Z');
    assert.equal(periodOf(t, 'day'), 20495);
    assert.equal(periodOf(t, 'month'), (2026 - 1970) * 12 + 1);
    assert.equal(periodOf(t, 'year'), 56);
    assert.equal(periodOf(t, 'hour'), 20495 * 24 + 12);
    assert.equal(periodStart(periodOf(t, 'month'), 'month'), microsFromIso('2026-02-01T00:00:00Z'));
    assert.equal(periodOf(-1n, 'day'), -1);
  });
});

describe('fault points', () => {
  it('parses point, table and hit count, and refuses unknown points', () => {
    assert.deepEqual(parseFault('inside-commit'), { point: 'inside-commit', table: null, nth: 1 });
    assert.deepEqual(parseFault('mid-extract@bronze_trades_kraken:2'), { point: 'mid-extract', table: 'bronze_trades_kraken', nth: 2 });
    assert.throws(() => parseFault('inside-comit'), /unknown fault point/);
    assert.equal(FAULT_POINTS.length, 8);
  });
});
