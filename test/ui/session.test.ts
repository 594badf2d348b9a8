import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TuiSession } from '../../src/ui/session.js';
import { createTuiStore } from '../../src/ui/store.js';
import { NOW, WATERMARK } from '../support/ui/fixtures.js';
import { MemoryBackend } from '../support/ui/memory-backend.js';

async function until(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(options: { statusTimeoutMs?: number } = {}) {
  const backend = new MemoryBackend();
  const store = createTuiStore();
  const session = new TuiSession(store, backend, { refreshSec: 0, now: () => NOW, ...options });
  return { backend, store, session };
}

describe('session', () => {
  it('coalesces refreshes: a request during a load makes exactly one more load', async () => {
    const { backend, session } = setup();
    let release!: () => void;
    backend.statusGate = new Promise((r) => (release = r));
    const first = session.refresh();
    void session.refresh();
    void session.refresh();
    release();
    await first;
    await until(() => backend.statusLoads === 2);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(backend.statusLoads, 2);
  });

  it('gives up on a status load that hangs and says so, keeping input alive', async () => {
    const { backend, store, session } = setup({ statusTimeoutMs: 50 });
    backend.statusGate = new Promise(() => undefined);
    await session.refresh();
    assert.match(store.getState().statusError ?? '', /did not answer within/);
    backend.statusGate = null;
    await session.refresh();
    assert.equal(store.getState().statusError, null, 'recovers on the next refresh');
    assert.equal(store.getState().report?.tables.length, 9);
  });

  it('runs an offload, reduces its events and refreshes when it commits', async () => {
    const { backend, store, session } = setup();
    await session.refresh();
    const loadsBefore = backend.statusLoads;
    session.execute({ kind: 'offload', table: 'bronze_trades_kraken' });
    assert.equal(store.getState().live.bronze_trades_kraken.status, 'queued');
    const run = backend.runs[0];
    assert.deepEqual(run.scope, { kind: 'table', table: 'bronze_trades_kraken' });
    run.emit({ kind: 'progress', table: 'bronze_trades_kraken', runId: 'r', rows: 10, bytes: 10, files: 0, rowsPerSec: 5 });
    assert.equal(store.getState().live.bronze_trades_kraken.rows, 10);
    run.emit({
      kind: 'committed',
      table: 'bronze_trades_kraken',
      runId: 'r',
      snapshotId: '1',
      watermark: WATERMARK,
      rows: 12_345,
      files: 1,
      bytes: 1,
      durationMs: 10,
    });
    run.finish();
    await session.waitForOffloads();
    await until(() => backend.statusLoads > loadsBefore);
    assert.equal(session.hasOffloads(), false);
  });

  it('does not start a table twice, nor run-all while something runs', async () => {
    const { backend, store, session } = setup();
    await session.refresh();
    session.execute({ kind: 'offload', table: 'ohlcv_1d' });
    session.execute({ kind: 'offload', table: 'ohlcv_1d' });
    session.execute({ kind: 'offload-all' });
    assert.equal(backend.runs.length, 1);
    assert.deepEqual(
      store.getState().log.map((l) => l.message),
      ['already running', 'offload all: wait for the running offloads to finish first'],
    );
  });

  it('stop safely aborts work before its commit, and waits for a commit under way', async () => {
    const { backend, store, session } = setup();
    await session.refresh();
    session.execute({ kind: 'offload', table: 'bronze_trades_binance' });
    session.execute({ kind: 'offload', table: 'bronze_trades_kraken' });
    const [extracting, committing] = backend.runs;
    extracting.emit({ kind: 'phase', table: 'bronze_trades_binance', runId: 'a', phase: 'extract' });
    committing.emit({ kind: 'phase', table: 'bronze_trades_kraken', runId: 'b', phase: 'commit' });
    committing.isCommitting = true;

    let hasExited = false;
    void session.exited.then(() => (hasExited = true));
    session.execute({ kind: 'stop-then-exit' });
    await until(() => store.getState().live.bronze_trades_binance.status === 'stopped');
    assert.equal(extracting.signal.aborted, true);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(hasExited, false, 'the commit under way is waited for');
    assert.equal(store.getState().live.bronze_trades_kraken.status, 'running');

    committing.emit({
      kind: 'committed',
      table: 'bronze_trades_kraken',
      runId: 'b',
      snapshotId: '2',
      watermark: WATERMARK,
      rows: 5,
      files: 1,
      bytes: 1,
      durationMs: 1,
    });
    committing.finish();
    await session.exited;
    assert.equal(committing.signal.aborted, true, 'asked to stop, but it was committing');
    assert.ok(
      store.getState().log.some((l) => l.table === 'bronze_trades_kraken' && /^committed 5 rows/.test(l.message)),
      'and its commit completed',
    );
  });

  it('wait-then-exit leaves only when every offload has ended', async () => {
    const { backend, session } = setup();
    await session.refresh();
    session.execute({ kind: 'offload-all' });
    let hasExited = false;
    void session.exited.then(() => (hasExited = true));
    session.execute({ kind: 'wait-then-exit' });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(hasExited, false);
    assert.equal(backend.runs[0].signal.aborted, false, 'waiting never aborts');
    backend.runs[0].finish();
    await session.exited;
  });

  it('shows a backend rejection as a failed run', async () => {
    const { backend, store, session } = setup();
    await session.refresh();
    session.execute({ kind: 'offload', table: 'ohlcv_1d' });
    backend.runs[0].fail(new Error('cannot reach ClickHouse at http://default:***@127.0.0.1:18123 (ECONNREFUSED)'));
    await session.waitForOffloads();
    assert.equal(store.getState().live.ohlcv_1d.status, 'failed');
    assert.match(store.getState().live.ohlcv_1d.message ?? '', /cannot reach ClickHouse/);
  });
});
