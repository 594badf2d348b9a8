// The progress model of a run (pipeline/progress.ts) on simulated clocks: rows never go backwards, the
// total is the run's (not a batch's), the rate is smoothed so the time left stays steady through bursts and
// pauses, and a table taken in one slice moves from 0 to 100 % in small steps.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RunProgress, SliceTally, type ProgressSnapshot } from '../../src/pipeline/progress.js';

const T0 = 1_000_000;

describe('RunProgress', () => {
  it('rows done never go backwards, whatever the estimates say', () => {
    const p = new RunProgress(10_000, T0);
    p.planBatch(10_000);
    p.extractionStarted(T0);
    const seen: number[] = [];
    for (const [rows, at] of [
      [1000, 100],
      [4000, 200],
      [3500, 300], // an estimate made exact, lower
      [3900, 400],
      [7000, 500],
      [0, 600], // a fresh count of a later slice must not reset anything
      [9000, 700],
    ] as const) {
      p.batchRows(rows, T0 + at);
      seen.push(p.snapshot(T0 + at).rows);
    }
    assert.deepEqual(seen, [1000, 4000, 4000, 4000, 7000, 7000, 9000]);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1]);
  });

  it('the total is the whole run, planned once; a later batch continues from the rows committed', () => {
    const p = new RunProgress(3_000_000, T0);
    p.planBatch(3_000_000);
    p.extractionStarted(T0);
    p.batchRows(900_000, T0 + 1000);
    p.batchCommitted(1_000_000, T0 + 2000);
    assert.deepEqual([p.snapshot(T0 + 2000).rows, p.snapshot(T0 + 2000).totalRows], [1_000_000, 3_000_000]);
    p.planBatch(2_000_000); // the rows left in (W', H]
    p.batchRows(10_000, T0 + 2500);
    const s = p.snapshot(T0 + 2500);
    assert.equal(s.rows, 1_010_000, 'no reset to the batch’s own count');
    assert.equal(s.totalRows, 3_000_000, 'not the batch’s 2,000,000');
    p.batchRows(2_000_000, T0 + 4000);
    p.batchCommitted(2_000_000, T0 + 4500);
    p.finish(T0 + 4600);
    const end = p.snapshot(T0 + 4600);
    assert.deepEqual([end.rows, end.totalRows, end.etaSec], [3_000_000, 3_000_000, 0]);
  });

  it('rows beyond the plan raise the total; the percent never passes 100', () => {
    const p = new RunProgress(100, T0);
    p.planBatch(100);
    p.batchRows(120, T0 + 10);
    const s = p.snapshot(T0 + 10);
    assert.equal(s.rows, 120);
    assert.equal(s.totalRows, 120);
  });

  it('no rate and no time left before the rows have flowed for a second; elapsed from the run’s start', () => {
    const p = new RunProgress(1000, T0);
    p.planBatch(1000);
    p.extractionStarted(T0 + 500);
    p.batchRows(100, T0 + 900);
    const early = p.snapshot(T0 + 900);
    assert.equal(early.rowsPerSec, 0);
    assert.equal(early.etaSec, null);
    assert.equal(early.elapsedMs, 900);
    p.batchRows(300, T0 + 1600);
    const later = p.snapshot(T0 + 1600);
    assert.equal(later.rowsPerSec, Math.round((300 * 1000) / 1100));
    assert.equal(later.etaSec, Math.round(700 / (300 / 1.1)));
  });

  it('the time left stays steady through bursts and pauses (no 14 s → 2m38s in a second)', () => {
    // 3,000,000 rows at 200,000 rows/s in bursts of 2 s, each followed by a 1 s pause (a slice encoded
    // while the next waits): 133,333 rows/s on average, about 22.5 s in all.
    const planned = 3_000_000;
    const p = new RunProgress(planned, T0);
    p.planBatch(planned);
    p.extractionStarted(T0);
    let rows = 0;
    const etas: Array<{ at: number; eta: number }> = [];
    for (let ms = 250; rows < planned; ms += 250) {
      const inPause = ms % 3000 > 2000;
      if (!inPause) rows = Math.min(planned, rows + 50_000);
      p.batchRows(rows, T0 + ms);
      p.tick(T0 + ms);
      const s = p.snapshot(T0 + ms);
      if (ms % 1000 === 0 && s.etaSec !== null && rows < planned) etas.push({ at: ms, eta: s.etaSec });
    }
    assert.ok(etas.length >= 15, `ETAs seen: ${etas.length}`);
    for (let i = 1; i < etas.length; i++) {
      const [a, b] = [etas[i - 1].eta, etas[i].eta];
      // One second later the time left moved by at most a few seconds, never by a factor.
      assert.ok(Math.abs(b - a) <= 4, `ETA ${a}s → ${b}s at ${etas[i].at} ms (all: ${etas.map((e) => e.eta).join(', ')})`);
    }
    // And it is about right: after the first 3 s of bursts the time left is within 40 % of the truth.
    const truth = (at: number) => (planned - (Math.floor(at / 3000) * 400_000 + Math.min(400_000, (at % 3000) * 200))) / 133_333;
    for (const e of etas.filter((x) => x.at >= 3000 && x.eta >= 3)) {
      assert.ok(
        Math.abs(e.eta - truth(e.at)) <= Math.max(3, truth(e.at) * 0.4),
        `ETA ${e.eta}s at ${e.at} ms, truth ≈ ${truth(e.at).toFixed(1)}s`,
      );
    }
  });

  it('a stall slows the rate gradually: the time left grows, it does not jump', () => {
    const p = new RunProgress(1_000_000, T0);
    p.planBatch(1_000_000);
    p.extractionStarted(T0);
    for (let s = 1; s <= 4; s++) p.batchRows(s * 100_000, T0 + s * 1000);
    const before = p.snapshot(T0 + 4000);
    p.tick(T0 + 5000);
    const after = p.snapshot(T0 + 5000);
    assert.ok(after.rowsPerSec < before.rowsPerSec, 'a second without rows lowers the rate');
    assert.ok(after.rowsPerSec > before.rowsPerSec * 0.7, `…by a fifth at most: ${before.rowsPerSec} → ${after.rowsPerSec}`);
    assert.ok(after.etaSec! >= before.etaSec!);
  });
});

describe('SliceTally', () => {
  it('a table taken in one slice moves from 0 to 100 % in small steps as its rows stream', () => {
    // 852,615 rows in one slice, counted as they arrive in chunks of ~10,000 rows.
    const planned = 852_615;
    const tally = new SliceTally([planned]);
    const p = new RunProgress(planned, T0);
    p.planBatch(planned);
    p.extractionStarted(T0);
    const percents: number[] = [];
    const snap = (at: number): ProgressSnapshot => p.snapshot(at);
    let counted = 0;
    for (let at = 100; counted < planned; at += 100) {
      counted = Math.min(planned, counted + 9_871);
      tally.streamed(0, { rows: counted, bytes: counted * 60 });
      p.batchRows(tally.progress(0).rows, T0 + at);
      percents.push(Math.floor((snap(T0 + at).rows / snap(T0 + at).totalRows) * 100));
    }
    tally.written(0, planned);
    p.batchRows(tally.progress(1).rows, T0 + 9000);
    percents.push(Math.floor((snap(T0 + 9000).rows / snap(T0 + 9000).totalRows) * 100));
    assert.equal(percents[0], 1);
    assert.equal(percents.at(-1), 100);
    for (let i = 1; i < percents.length; i++) {
      assert.ok(percents[i] >= percents[i - 1]);
      assert.ok(percents[i] - percents[i - 1] <= 2, `a step of ${percents[i] - percents[i - 1]} %`);
    }
  });

  it('a count that overshoots (a quoted value holding the row terminator) is capped at the slice’s plan, then exact', () => {
    const tally = new SliceTally([1000, 500]);
    tally.streamed(0, { rows: 1010 });
    assert.equal(tally.progress(0).rows, 1000);
    tally.written(0, 999);
    tally.streamed(1, { rows: 20 });
    assert.equal(tally.progress(1).rows, 1019);
  });

  it('a path that counts no rows (Parquet) is estimated from its bytes at the bytes per row of the slices written', () => {
    const tally = new SliceTally([1000, 1000, 1000]);
    tally.streamed(0, { bytes: 30_000 });
    assert.equal(tally.progress(0).rows, 0, 'nothing written yet: no bytes per row to go by');
    tally.written(0, 1000); // 30 bytes a row
    tally.streamed(1, { bytes: 15_000 });
    assert.equal(tally.progress(1).rows, 1500);
    tally.streamed(1, { bytes: 60_000 });
    assert.equal(tally.progress(1).rows, 2000, 'capped at the slice’s planned rows');
    assert.equal(tally.progress(1).bytes, 90_000);
  });
});
