// offload_runs: a run starts running, ends exactly once (committed inside the commit transaction, or
// up_to_date / failed / aborted), and the listings the status screens and recovery need come back in order.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import type pg from 'pg';
import { createPool, withTransaction } from '../../src/state/pool.js';
import { migrate } from '../../src/state/migrate.js';
import * as runs from '../../src/state/runs.js';
import { freshPostgresDatabase } from '../support/stack.js';

let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
let pool: pg.Pool;

before(async () => {
  db = await freshPostgresDatabase('runs');
  pool = createPool({ connectionString: db.url });
  await migrate(pool);
});
after(async () => {
  await pool.end();
  await db.drop();
});

const lower = { timestamp: '2026-02-11T12:00:00.000000Z', tieBreak: '17' };
const upper = { timestamp: '2026-02-11T12:04:59.999999Z', tieBreak: '18446744073709551615' };

test('a run starts running as host:pid and commits with its snapshot id exact', async () => {
  const run = await runs.start(pool, { table: 'bronze_trades_binance', icebergTable: 'cold.bronze_trades_binance' });
  assert.equal(run.status, 'running');
  assert.equal(run.worker, `${hostname()}:${process.pid}`);
  assert.equal(run.windowStart, null);
  assert.match(run.startedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  await runs.setWindow(pool, run.runId, { start: lower, end: upper });

  const snapshotId = 9_123_456_789_012_345_678n; // 63-bit: beyond a JS double's exact range
  await withTransaction(pool, (tx) =>
    runs.markCommitted(tx, run.runId, {
      snapshotId,
      metadataLocation: 's3://w/cold/t/metadata/00001-a.metadata.json',
      rows: 12345,
      bytes: 987654,
      files: 3,
    }),
  );
  const done = await runs.get(pool, run.runId);
  assert.ok(done);
  assert.equal(done.status, 'committed');
  assert.equal(done.snapshotId, '9123456789012345678');
  assert.deepEqual(done.windowStart, lower);
  assert.deepEqual(done.windowEnd, upper);
  assert.equal(done.rows, 12345);
  assert.equal(done.bytes, 987654);
  assert.equal(done.files, 3);
  assert.ok(done.finishedAt && done.durationMs !== null && done.durationMs >= 0);

  // A run ends once: committing or failing it again is refused / a no-op.
  await assert.rejects(
    runs.markCommitted(pool, run.runId, { snapshotId: 1n, metadataLocation: 'x', rows: 0, bytes: 0, files: 0 }),
    /is committed, not running: it cannot commit/,
  );
  assert.equal(await runs.markFailed(pool, run.runId, 'late failure'), false);
  assert.equal((await runs.get(pool, run.runId))!.status, 'committed');
});

test('a commit transaction that rolls back leaves the run running', async () => {
  const run = await runs.start(pool, { table: 'silver_trades', windowStart: lower, windowEnd: upper });
  await assert.rejects(
    withTransaction(pool, async (tx) => {
      await runs.markCommitted(tx, run.runId, { snapshotId: 5n, metadataLocation: 'm', rows: 1, bytes: 1, files: 1 });
      throw new Error('crash inside commit');
    }),
    /crash inside commit/,
  );
  const r = await runs.get(pool, run.runId);
  assert.equal(r!.status, 'running');
  assert.equal(r!.snapshotId, null);
  assert.deepEqual(await runs.findRunning(pool, 'silver_trades').then((x) => x.map((y) => y.runId)), [run.runId]);
  assert.equal(await runs.markAborted(pool, run.runId, 'not in any snapshot'), true);
  const aborted = await runs.get(pool, run.runId);
  assert.equal(aborted!.status, 'aborted');
  assert.equal(aborted!.error, 'not in any snapshot');
  assert.deepEqual(await runs.findRunning(pool, 'silver_trades'), []);
});

test('up to date and failed end a run with their reason', async () => {
  const a = await runs.start(pool, { table: 'ohlcv_1m' });
  assert.equal(await runs.markUpToDate(pool, a.runId), true);
  const b = await runs.start(pool, { table: 'ohlcv_1m' });
  assert.equal(await runs.markFailed(pool, b.runId, 'cannot reach S3 at http://127.0.0.1:19900'), true);
  assert.equal((await runs.get(pool, a.runId))!.status, 'up_to_date');
  const failed = (await runs.get(pool, b.runId))!;
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error, 'cannot reach S3 at http://127.0.0.1:19900');
});

test('lists latest first, filtered by table and status, limited; latest per table; still-running runs', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await runs.start(pool, { table: 'ohlcv_1d' })).runId);
  await runs.markUpToDate(pool, ids[0]);
  await runs.markUpToDate(pool, ids[1]);

  const latest3 = await runs.list(pool, { table: 'ohlcv_1d', limit: 3 });
  assert.deepEqual(
    latest3.map((r) => r.runId),
    [ids[4], ids[3], ids[2]],
  );
  const upToDate = await runs.list(pool, { table: 'ohlcv_1d', status: 'up_to_date' });
  assert.deepEqual(
    upToDate.map((r) => r.runId),
    [ids[1], ids[0]],
  );
  const everything = await runs.list(pool);
  assert.ok(everything.length >= 9);
  for (let i = 1; i < everything.length; i++) assert.ok(everything[i - 1].startedAt >= everything[i].startedAt, 'latest first');

  const latest = await runs.latestByTable(pool);
  assert.equal(latest.get('ohlcv_1d')!.runId, ids[4]);
  assert.equal(latest.get('bronze_trades_binance')!.status, 'committed');
  const some = await runs.latestByTable(pool, ['ohlcv_1d']);
  assert.deepEqual([...some.keys()], ['ohlcv_1d']);

  const running = await runs.findRunning(pool, 'ohlcv_1d');
  assert.deepEqual(
    running.map((r) => r.runId),
    [ids[2], ids[3], ids[4]],
    'oldest first',
  );
});
