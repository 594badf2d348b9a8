// The TUI while offloads run: `x` stops the selected table's run safely (alone, also during offload all),
// the quit dialog counts what is running and queued, the header counts the tables a filter shows, a run
// of several batches stays one run on its row, and each table's elapsed time counts from its own start.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OffloadEvent } from '../../src/pipeline/events.js';
import { progressLine } from '../../src/ui/screens/TablesScreen.js';
import {
  activeOffloadsText,
  reduceEvent,
  reduceRunRequested,
  reduceRunSettled,
  reduceStatus,
  initialState,
  type TuiState,
} from '../../src/ui/store.js';
import { NOW, WATERMARK, sampleReport } from '../support/ui/fixtures.js';
import { closeApps, openApp } from '../support/ui/app.js';
import { MemoryBackend } from '../support/ui/memory-backend.js';
import { KEY, waitForFrame } from '../support/ui/terminal.js';

const B = 'bronze_trades_binance';
const K = 'bronze_trades_kraken';

function open(size: { columns: number; rows: number } = { columns: 120, rows: 32 }) {
  return openApp(new MemoryBackend(), size);
}

afterEach(closeApps);

const committed = (table: string, rows: number): OffloadEvent => ({
  kind: 'committed',
  table,
  runId: `${table}-1`,
  snapshotId: '1',
  watermark: WATERMARK,
  rows,
  files: 1,
  bytes: 1000,
  durationMs: 10,
});

describe('x: stop the selected table’s run safely', () => {
  it('stops a single table’s offload before its commit; the hint bar offers it only while something runs', async () => {
    const { press, frame, backend, ui, rowOf } = await open();
    assert.doesNotMatch(frame(), /x stop/, 'nothing runs: no stop key in the hints');
    await press('j'); // bronze_trades_kraken
    await press('o');
    const run = backend.runs[0];
    run.emit({ kind: 'phase', table: K, runId: 'r', phase: 'extract' });
    await waitForFrame(ui, (x) => /x stop/.test(x));
    await press('x');
    assert.equal(run.signal.aborted, true, 'the same safe stop as quitting’s: the run’s signal');
    await waitForFrame(ui, (x) => x.includes('stopping safely'));
    assert.match(frame(), /stopping safely: work before its commit is abandoned, a commit under way completes/);
    run.finish();
    await waitForFrame(ui, () => /■ stopped/.test(rowOf(K)));
    assert.match(frame(), /stopped before its commit; nothing committed/);
  });

  it('during offload all, stops only the selected table; the others go on', async () => {
    const { press, frame, backend, ui, rowOf, session } = await open();
    await press('A', 'y');
    const run = backend.runs[0];
    assert.ok(run.tableSignal, 'offload all hands each table a stop of its own');
    run.emit({ kind: 'phase', table: B, runId: 'rb', phase: 'extract' });
    run.emit({ kind: 'phase', table: K, runId: 'rk', phase: 'extract' });
    await press('j'); // bronze_trades_kraken
    await press('x');
    assert.equal(run.tableSignal!(K).aborted, true);
    assert.equal(run.tableSignal!(B).aborted, false);
    assert.equal(run.signal.aborted, false, 'the run of the other tables is not stopped');
    await waitForFrame(ui, () => /▶ stopping/.test(rowOf(K)));
    // The pipeline reports the table stopped (skipped on its stop signal); a queued table stopped never starts.
    run.emit({ kind: 'skipped', table: K, reason: 'bronze_trades_kraken: stopped while moving its data (a stop was requested)' });
    await waitForFrame(ui, () => /■ stopped/.test(rowOf(K)));
    await press('j', 'x'); // silver_trades, still queued
    assert.equal(run.tableSignal!('silver_trades').aborted, true);
    assert.match(frame(), /stop requested: it will not start/);
    assert.match(rowOf(B), /▶ extract/);
    assert.equal(session.hasOffloads(), true);
  });

  it('on a table that is not running it says so and does nothing', async () => {
    const { press, frame, backend } = await open();
    await press('x');
    assert.equal(backend.runs.length, 0);
    assert.match(frame(), /not running: nothing to stop/);
  });

  it('is in the help', async () => {
    const { press, frame } = await open({ columns: 120, rows: 50 });
    await press('?');
    assert.match(frame(), /x\s+stop the selected table's offload safely \(as quit's stop\)/);
  });
});

describe('the quit dialog counts what runs', () => {
  it('one table between two commits of its run is running, not "0 offloads queued"', async () => {
    const { press, backend, ui } = await open();
    await press('j', 'o');
    const run = backend.runs[0];
    run.emit({ kind: 'phase', table: K, runId: 'r', phase: 'extract' });
    run.emit(committed(K, 20_000_000)); // batch 1 of 2
    run.emit({ kind: 'phase', table: K, runId: 'r2', phase: 'extract' });
    await press('q');
    const f = await waitForFrame(ui, (x) => x.includes('Quit how?'));
    assert.match(f, /1 offload running\. Quit how\?/);
  });

  it('offload all: running and queued apart', async () => {
    const { press, backend, ui } = await open();
    await press('A', 'y');
    const run = backend.runs[0];
    run.emit({ kind: 'phase', table: B, runId: 'rb', phase: 'extract' });
    run.emit({ kind: 'up-to-date', table: 'ohlcv_1d', watermark: WATERMARK });
    await press('q');
    const f = await waitForFrame(ui, (x) => x.includes('Quit how?'));
    assert.match(f, /1 offload running, 7 queued\. Quit how\?/);
  });

  it('words for every mix', () => {
    let s: TuiState = reduceStatus(initialState(), sampleReport(), NOW, NOW);
    s = reduceRunRequested(s, [B, K], NOW);
    assert.equal(activeOffloadsText(s), '2 offloads queued');
    s = reduceEvent(s, { kind: 'phase', table: B, runId: 'r', phase: 'plan' }, NOW);
    assert.equal(activeOffloadsText(s), '1 offload running, 1 queued');
    s = reduceEvent(s, { kind: 'phase', table: K, runId: 'r', phase: 'plan' }, NOW);
    assert.equal(activeOffloadsText(s), '2 offloads running');
    s = reduceEvent(s, { kind: 'busy', table: B }, NOW);
    s = reduceEvent(s, { kind: 'busy', table: K }, NOW);
    assert.equal(activeOffloadsText(s), 'the last offload');
  });
});

describe('the header', () => {
  it('says how many of the tables a filter shows', async () => {
    const { press, frame, ui } = await open();
    assert.match(frame(), /offload · 9 tables · sort: layer/);
    await press('/', 'b', 'r', 'o', 'n', 'z', 'e', KEY.enter);
    await waitForFrame(ui, (x) => x.includes('2 of 9 tables'));
    assert.match(frame(), /offload · 2 of 9 tables · sort: layer · filter: bronze/);
  });
});

describe('a run on its row', () => {
  const progress = (table: string, rows: number, totalRows: number): OffloadEvent => ({
    kind: 'progress',
    table,
    runId: 'r',
    rows,
    bytes: rows * 50,
    files: 0,
    rowsPerSec: 10_000,
    totalRows,
    etaSec: Math.round((totalRows - rows) / 10_000),
  });

  const planned = (batch: number, rows: { estimatedRows: number; batches: number; runRows: number }): OffloadEvent => ({
    kind: 'planned',
    table: K,
    runId: `r${batch}`,
    window: { lower: WATERMARK, upper: WATERMARK },
    ...rows,
    batch,
  });

  it('several batches are one run: rows and the total are the run’s, never going back', () => {
    let s: TuiState = reduceStatus(initialState(), sampleReport(), NOW, NOW);
    s = reduceRunRequested(s, [K], NOW);
    const play = (e: OffloadEvent) => (s = reduceEvent(s, e, NOW));
    play(planned(1, { estimatedRows: 20_000_000, batches: 2, runRows: 30_000_000 }));
    assert.equal(s.live[K].totalRows, 30_000_000, 'the run’s rows, not the first batch’s');
    play(progress(K, 12_000_000, 30_000_000));
    play(committed(K, 20_000_000));
    play(progress(K, 20_000_000, 30_000_000)); // the pipeline reports the rows committed
    assert.equal(s.live[K].status, 'running');
    play(planned(2, { estimatedRows: 10_000_000, batches: 1, runRows: 10_000_000 }));
    assert.equal(s.live[K].totalRows, 30_000_000, 'a later batch does not shrink the total');
    play(progress(K, 19_000_000, 30_000_000)); // an estimate settling lower
    assert.equal(s.live[K].rows, 20_000_000, 'never backwards');
    play(progress(K, 25_000_000, 30_000_000));
    assert.equal(s.live[K].rows, 25_000_000);
    play({ ...committed(K, 10_000_000), kind: 'finished', rows: 30_000_000, batches: 2 } as OffloadEvent);
    assert.equal(s.live[K].status, 'committed');
    assert.equal(s.live[K].rows, 30_000_000);
  });

  it('a run that committed but never said it finished still shows committed once it ends', () => {
    let s: TuiState = reduceStatus(initialState(), sampleReport(), NOW, NOW);
    s = reduceRunRequested(s, [K], NOW);
    s = reduceEvent(s, committed(K, 5), NOW);
    s = reduceRunSettled(s, [K], { isAborted: false }, NOW + 10);
    assert.equal(s.live[K].status, 'committed');
  });

  it('during offload all, each table’s elapsed time counts from its own start', () => {
    let s: TuiState = reduceStatus(initialState(), sampleReport(), NOW, NOW);
    s = reduceRunRequested(s, [B, K], NOW);
    s = reduceEvent(s, { kind: 'phase', table: B, runId: 'rb', phase: 'extract' }, NOW + 1000);
    s = reduceEvent(s, { kind: 'phase', table: K, runId: 'rk', phase: 'extract' }, NOW + 95_000);
    s = reduceEvent(s, progress(K, 5000, 10_000), NOW + 100_000);
    assert.match(progressLine(s.live[K], 120, NOW + 100_000), / 5\.0s in$/, 'kraken started 5 s ago, not when A was pressed');
    assert.match(progressLine(s.live[B], 120, NOW + 100_000), / 1m39s in$/);
    assert.match(progressLine(s.live[K], 120, NOW + 100_000), /50% · extract · 5\.00k\/10\.0k rows/);
  });
});
