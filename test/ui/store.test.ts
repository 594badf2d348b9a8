import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OffloadEvent } from '../../src/pipeline/events.js';
import { replacedUtf8Warning } from '../../src/pipeline/offload.js';
import {
  LOG_LIMIT,
  appendLog,
  initialState,
  reduceCycleSort,
  reduceEvent,
  reduceFilter,
  reduceMove,
  reduceRunRequested,
  reduceRunSettled,
  reduceStatus,
  reduceStatusFailed,
  rowStateOf,
  visibleTables,
  type TuiState,
} from '../../src/ui/store.js';
import { NOW, WATERMARK, sampleReport, tableStatus } from '../support/ui/fixtures.js';

const T = 'bronze_trades_kraken';

function loaded(): TuiState {
  return reduceStatus(initialState(), sampleReport(), NOW, NOW);
}

function play(state: TuiState, events: OffloadEvent[], at = NOW): TuiState {
  return events.reduce((s, e) => reduceEvent(s, e, at), state);
}

describe('store: status snapshots', () => {
  it('shows the report and selects the first table', () => {
    const s = loaded();
    assert.equal(s.report?.tables.length, 9);
    assert.equal(s.selected, 'bronze_trades_binance');
    assert.equal(s.lastRefreshAt, NOW);
    assert.equal(s.statusError, null);
  });

  it('keeps the previous report on screen when a refresh fails, and logs the error once', () => {
    let s = loaded();
    s = reduceStatusFailed(
      s,
      'cannot reach PostgreSQL at postgres://offload:***@127.0.0.1:15432/offload (ECONNREFUSED).\n  hint',
      NOW + 5000,
    );
    s = reduceStatusFailed(
      s,
      'cannot reach PostgreSQL at postgres://offload:***@127.0.0.1:15432/offload (ECONNREFUSED).\n  hint',
      NOW + 10000,
    );
    assert.equal(s.report?.tables.length, 9);
    assert.match(s.statusError ?? '', /cannot reach PostgreSQL/);
    assert.equal(s.log.filter((l) => l.level === 'error').length, 1);
    s = reduceStatus(s, sampleReport(), NOW + 15000, NOW + 15000);
    assert.equal(s.statusError, null, 'the next good refresh clears the error');
  });

  it('keeps the selection on the same table when the rows change order', () => {
    let s = reduceMove(loaded(), 2);
    assert.equal(s.selected, 'silver_trades');
    s = reduceCycleSort(s); // name
    assert.equal(s.sort, 'name');
    assert.equal(s.selected, 'silver_trades');
    assert.equal(visibleTables(s)[0].name, 'bronze_trades_binance');
    assert.equal(visibleTables(s).at(-1)?.name, 'silver_trades');
  });

  it('cycles the sort through layer, name, pending, watermark, state', () => {
    let s = loaded();
    const seen = [s.sort];
    for (let i = 0; i < 5; i++) {
      s = reduceCycleSort(s);
      seen.push(s.sort);
    }
    assert.deepEqual(seen, ['layer', 'name', 'pending', 'watermark', 'state', 'layer']);
    s = { ...s, sort: 'pending' };
    assert.equal(visibleTables(s)[0].name, 'bronze_trades_kraken', 'most pending first (12,345)');
    s = { ...s, sort: 'watermark' };
    assert.equal(visibleTables(s)[0].name, 'ohlcv_1h', 'oldest watermark first (never offloaded)');
    s = { ...s, sort: 'state' };
    assert.deepEqual(
      visibleTables(s)
        .slice(0, 2)
        .map((t) => t.name),
      ['silver_trades', 'ohlcv_1m'],
      'failed, then busy',
    );
  });

  it('filters by name, layer, source or target and moves the selection into the result', () => {
    let s = reduceFilter(loaded(), 'ohlcv_1', true);
    assert.deepEqual(
      visibleTables(s).map((t) => t.name),
      ['ohlcv_1m', 'ohlcv_15m', 'ohlcv_1h', 'ohlcv_1d'],
    );
    assert.equal(s.selected, 'ohlcv_1m');
    s = reduceFilter(s, 'SILVER', false);
    assert.deepEqual(
      visibleTables(s).map((t) => t.name),
      ['silver_trades'],
    );
    s = reduceFilter(s, 'nothing-matches', false);
    assert.equal(visibleTables(s).length, 0);
  });

  it('moves within bounds: j past the end stays on the last table', () => {
    let s = loaded();
    s = reduceMove(s, 'last');
    assert.equal(s.selected, 'ohlcv_1d');
    s = reduceMove(s, 5);
    assert.equal(s.selected, 'ohlcv_1d');
    s = reduceMove(s, 'first');
    s = reduceMove(s, -1);
    assert.equal(s.selected, 'bronze_trades_binance');
  });
});

describe('store: row state', () => {
  it('gives each table the state it is coloured by', () => {
    const s = loaded();
    const state = (name: string) => {
      const t = s.report?.tables.find((x) => x.name === name);
      assert.ok(t);
      return rowStateOf(t, s.live[name]);
    };
    assert.equal(state('bronze_trades_binance'), 'up-to-date');
    assert.equal(state('bronze_trades_kraken'), 'pending');
    assert.equal(state('silver_trades'), 'failed');
    assert.equal(state('ohlcv_1m'), 'busy');
    assert.equal(state('ohlcv_5m'), 'unknown');
    const running = reduceRunRequested(s, [T], NOW);
    const kraken = running.report?.tables.find((x) => x.name === T);
    assert.ok(kraken);
    assert.equal(rowStateOf(kraken, running.live[T]), 'running');
  });

  it('a failed last run shows as failed; an aborted one (stopped, or a crash recovered) does not', () => {
    const last = { runId: 'r', startedAt: '', finishedAt: null, durationMs: null, rows: 0, error: 'x' };
    assert.equal(rowStateOf(tableStatus('x', 'bronze', { lastRun: { ...last, status: 'failed' } }), undefined), 'failed');
    assert.equal(rowStateOf(tableStatus('x', 'bronze', { lastRun: { ...last, status: 'aborted' } }), undefined), 'pending');
  });

  it('a table the pipeline skips while a stop is asked for was stopped', () => {
    let s = reduceRunRequested(loaded(), [T], NOW);
    s = reduceEvent(s, { kind: 'skipped', table: T, reason: 'stopped before its commit (a stop was requested)' }, NOW, true);
    assert.equal(s.live[T].status, 'stopped');
    assert.match(s.log.at(-1)?.message ?? '', /^stopped: /);
  });
});

describe('store: offload events', () => {
  const runId = 'run-1';
  it('follows one offload from queued to committed, with progress on the way', () => {
    let s = reduceRunRequested(loaded(), [T], NOW);
    assert.equal(s.live[T].status, 'queued');
    s = play(s, [
      { kind: 'phase', table: T, runId, phase: 'plan' },
      { kind: 'planned', table: T, runId, window: { lower: WATERMARK, upper: WATERMARK }, estimatedRows: 12_345, batches: 1 },
      { kind: 'phase', table: T, runId, phase: 'extract' },
      { kind: 'progress', table: T, runId, rows: 6000, bytes: 300_000, files: 0, rowsPerSec: 3000, etaSec: 2 },
    ]);
    assert.equal(s.live[T].status, 'running');
    assert.equal(s.live[T].phase, 'extract');
    assert.equal(s.live[T].rows, 6000);
    assert.equal(s.live[T].totalRows, 12_345, 'the plan estimate is the total until progress says otherwise');
    assert.equal(s.live[T].etaSec, 2);

    const outcome = { table: T, runId, snapshotId: '99', watermark: WATERMARK, rows: 12_345, files: 1, bytes: 600_000, durationMs: 4100 };
    s = play(s, [{ kind: 'committed', ...outcome }], NOW + 5000);
    assert.equal(s.live[T].status, 'running', 'a commit is one batch: the run goes on until it finishes');
    s = play(s, [{ kind: 'finished', ...outcome, batches: 1 }], NOW + 5000);
    assert.equal(s.live[T].status, 'committed');
    const row = s.report?.tables.find((t) => t.name === T);
    assert.ok(row?.watermark.ok && row.iceberg.ok);
    assert.equal(row.watermark.value.timestamp, WATERMARK.timestamp, 'the new watermark shows before the next refresh');
    assert.equal(row.iceberg.value.rows, 800_000 + 12_345);
    assert.ok(row.clickhouse.ok);
    assert.equal(
      row.clickhouse.value.rowsUpToWatermark,
      800_000 + 12_345,
      'ClickHouse up to the new watermark: the same moment as Iceberg',
    );
    assert.equal(row.clickhouse.value.pendingRows, 0);
    assert.equal(row.delta, 0, 'Δ compares numbers of one moment');
    assert.equal(row.lastRun?.status, 'committed');
    assert.ok(s.log.some((l) => /committed 12,345 rows, 1 file/.test(l.message)));
  });

  it('shows the warning of a batch committed with strings that were not UTF-8: the table, the count per column', () => {
    let s = reduceRunRequested(loaded(), [T], NOW);
    const window = { lower: WATERMARK, upper: WATERMARK };
    s = play(s, [replacedUtf8Warning(T, 'r7', window, { symbol: 2, canonical_symbol: 1 })], NOW + 1000);
    const line = s.log.at(-1);
    assert.equal(line?.level, 'warn');
    assert.equal(line?.table, T);
    assert.match(line?.message ?? '', /^3 values not valid UTF-8 committed with U\+FFFD .*\(symbol: 2, canonical_symbol: 1\), run r7/);
  });

  it('records busy, failed and skipped outcomes and logs them', () => {
    let s = reduceRunRequested(loaded(), ['ohlcv_1m', 'silver_trades', 'ohlcv_1d'], NOW);
    s = play(s, [
      { kind: 'busy', table: 'ohlcv_1m' },
      { kind: 'failed', table: 'silver_trades', runId: 'r2', error: 'S3 PutObject: 503 Slow Down\n  at …' },
      { kind: 'skipped', table: 'ohlcv_1d', reason: 'silver layer failed' },
    ]);
    assert.equal(s.live.ohlcv_1m.status, 'busy');
    assert.equal(s.live.silver_trades.status, 'failed');
    assert.equal(s.live.silver_trades.message, 'S3 PutObject: 503 Slow Down');
    assert.equal(s.live.ohlcv_1d.status, 'skipped');
    assert.deepEqual(
      s.log.map((l) => [l.level, l.table]),
      [
        ['warn', 'ohlcv_1m'],
        ['error', 'silver_trades'],
        ['warn', 'ohlcv_1d'],
      ],
    );
  });

  it('marks runs that never finished as stopped after an abort, or failed after an error', () => {
    let s = reduceRunRequested(loaded(), [T, 'silver_trades'], NOW);
    s = play(s, [{ kind: 'phase', table: T, runId, phase: 'extract' }]);
    const stopped = reduceRunSettled(s, [T, 'silver_trades'], { isAborted: true }, NOW + 1000);
    assert.equal(stopped.live[T].status, 'stopped');
    assert.equal(stopped.live.silver_trades.status, 'stopped');
    const failed = reduceRunSettled(s, [T], { isAborted: false, error: 'cannot reach ClickHouse' }, NOW + 1000);
    assert.equal(failed.live[T].status, 'failed');
    assert.equal(failed.live[T].message, 'cannot reach ClickHouse');
  });

  it('drops a finished run once a refresh asked for after it arrives, keeps it until then', () => {
    let s = reduceRunRequested(loaded(), [T], NOW);
    s = play(s, [{ kind: 'up-to-date', table: T, watermark: WATERMARK }], NOW + 1000);
    s = reduceRunSettled(s, [T], { isAborted: false }, NOW + 1000);
    const stale = reduceStatus(s, sampleReport(), NOW + 500, NOW + 1500);
    assert.equal(stale.live[T]?.status, 'up-to-date', 'a refresh that started before the run ended does not know of it');
    const fresh = reduceStatus(s, sampleReport(), NOW + 1000, NOW + 1500);
    assert.equal(fresh.live[T], undefined);
  });

  it('keeps a failure on its row until the history shows that run or a newer one', () => {
    let s = reduceRunRequested(loaded(), ['ohlcv_1d'], NOW);
    s = play(s, [{ kind: 'failed', table: 'ohlcv_1d', error: 'cannot reach ClickHouse' }], NOW + 1000);
    s = reduceRunSettled(s, ['ohlcv_1d'], { isAborted: false, error: 'cannot reach ClickHouse' }, NOW + 1000);
    s = reduceStatus(s, sampleReport(), NOW + 2000, NOW + 2000);
    assert.equal(s.live.ohlcv_1d?.status, 'failed', 'the history still shows an older success');
    const later = sampleReport();
    const row = later.tables.find((t) => t.name === 'ohlcv_1d');
    assert.ok(row?.lastRun);
    row.lastRun = { ...row.lastRun, runId: 'newer', startedAt: new Date(NOW + 3000).toISOString() };
    s = reduceStatus(s, later, NOW + 4000, NOW + 4000);
    assert.equal(s.live.ohlcv_1d, undefined);
  });

  it('shows busy and stopped outcomes for a minute', () => {
    let s = reduceRunRequested(loaded(), [T], NOW);
    s = play(s, [{ kind: 'busy', table: T }], NOW);
    s = reduceRunSettled(s, [T], { isAborted: false }, NOW);
    s = reduceStatus(s, sampleReport(), NOW + 1000, NOW + 1000);
    assert.equal(s.live[T]?.status, 'busy');
    s = reduceStatus(s, sampleReport(), NOW + 61_000, NOW + 61_000);
    assert.equal(s.live[T], undefined);
  });

  it('a lock seen on a table our own offload still holds is not shown as another worker', () => {
    let s = reduceRunRequested(loaded(), ['ohlcv_1m'], NOW);
    s = play(
      s,
      [
        {
          kind: 'finished',
          table: 'ohlcv_1m',
          runId: 'r',
          snapshotId: '1',
          watermark: WATERMARK,
          rows: 300,
          files: 1,
          bytes: 1,
          batches: 1,
          durationMs: 1,
        },
      ],
      NOW,
    );
    s = reduceStatus(s, sampleReport(), NOW + 10, NOW + 10); // ohlcv_1m is locked (isBusy) in the report
    const row = s.report?.tables.find((t) => t.name === 'ohlcv_1m');
    assert.ok(row?.isBusy);
    assert.equal(rowStateOf(row, s.live.ohlcv_1m), 'pending', 'ours, between its last event and the end of its run');
    s = reduceRunSettled(s, ['ohlcv_1m'], { isAborted: false }, NOW + 20);
    s = reduceStatus(s, sampleReport(), NOW + 30, NOW + 30);
    assert.equal(rowStateOf(row, s.live.ohlcv_1m), 'busy', 'once our run has ended, a lock is another worker');
  });

  it('a refresh never drops a run that is still going', () => {
    let s = reduceRunRequested(loaded(), [T], NOW);
    s = reduceStatus(s, sampleReport(), NOW + 60_000, NOW + 60_000);
    assert.equal(s.live[T].status, 'queued');
  });

  it('keeps only the last LOG_LIMIT log lines', () => {
    let log = initialState().log;
    for (let i = 0; i < LOG_LIMIT + 50; i++) log = appendLog(log, { at: i, level: 'info', message: `line ${i}` });
    assert.equal(log.length, LOG_LIMIT);
    assert.equal(log[0].message, 'line 50');
  });
});
