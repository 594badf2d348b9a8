// offload_watermarks on a migrated database: every column of the seed's table is there with its type
// and default, the seed's own queries still work, and our exact watermark (µs timestamp + a tie-break
// wider than BIGINT) round-trips and moves only inside the caller's transaction.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { createPool, withTransaction } from '../../src/state/pool.js';
import { migrate } from '../../src/state/migrate.js';
import * as watermarks from '../../src/state/watermarks.js';
import { EPOCH } from '../../src/core/watermark.js';
import { CommitConflict } from '../../src/core/errors.js';
import { freshPostgresDatabase } from '../support/stack.js';

let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
let pool: pg.Pool;

before(async () => {
  db = await freshPostgresDatabase('wm');
  pool = createPool({ connectionString: db.url });
  await migrate(pool);
});
after(async () => {
  await pool.end();
  await db.drop();
});

test("has every column of the seed's table, with the seed's types, nullability and defaults", async () => {
  const r = await pool.query<{ column_name: string; data_type: string; is_nullable: string; column_default: string | null }>(
    `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = 'offload_watermarks'`,
  );
  const cols = new Map(r.rows.map((c) => [c.column_name, c]));
  const seed: Array<[string, string, 'YES' | 'NO', RegExp | null]> = [
    ['table_name', 'text', 'NO', null],
    ['last_offload_timestamp', 'timestamp with time zone', 'NO', null],
    ['last_offload_max_sequence', 'bigint', 'NO', null],
    ['last_offload_row_count', 'bigint', 'YES', /^0$/],
    ['status', 'text', 'NO', /^'initialized'::text$/],
    ['last_successful_run', 'timestamp with time zone', 'YES', null],
    ['last_run_duration_seconds', 'integer', 'YES', null],
    ['failure_count', 'integer', 'YES', /^0$/],
    ['last_error_message', 'text', 'YES', null],
    ['created_at', 'timestamp with time zone', 'YES', /^now\(\)$/],
    ['updated_at', 'timestamp with time zone', 'YES', /^now\(\)$/],
  ];
  for (const [name, type, nullable, def] of seed) {
    const c = cols.get(name);
    assert.ok(c, `column ${name} missing`);
    assert.equal(c.data_type, type, `${name} type`);
    assert.equal(c.is_nullable, nullable, `${name} nullability`);
    if (def) assert.match(c.column_default ?? '', def, `${name} default`);
    else assert.equal(c.column_default, null, `${name} default`);
  }
  const pk = await pool.query<{ column_name: string }>(
    `SELECT a.attname AS column_name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = 'offload_watermarks'::regclass AND i.indisprimary`,
  );
  assert.deepEqual(
    pk.rows.map((x) => x.column_name),
    ['table_name'],
  );
  for (const extra of ['watermark_timestamp', 'watermark_tie_break', 'iceberg_table', 'committed_run_id']) {
    assert.ok(cols.has(extra), `our column ${extra} missing`);
  }
  assert.equal(cols.get('watermark_tie_break')!.data_type, 'numeric');
});

test('status is limited to initialized | running | success | failed', async () => {
  await watermarks.ensure(pool, ['check_status']);
  await assert.rejects(
    pool.query(`UPDATE offload_watermarks SET status = 'done' WHERE table_name = 'check_status'`),
    /offload_watermarks_status_check/,
  );
});

test('ensure seeds 1970-01-01 once per table and keeps existing rows', async () => {
  const created = await watermarks.ensure(pool, [
    'bronze_trades_binance',
    { table: 'bronze_trades_kraken', icebergTable: 'cold.bronze_trades_kraken' },
  ]);
  assert.deepEqual(created.sort(), ['bronze_trades_binance', 'bronze_trades_kraken']);
  const again = await watermarks.ensure(pool, [
    { table: 'bronze_trades_binance', icebergTable: 'cold.bronze_trades_binance' },
    'bronze_trades_kraken',
  ]);
  assert.deepEqual(again, []);
  const b = await watermarks.read(pool, 'bronze_trades_binance');
  assert.ok(b);
  assert.deepEqual(b.watermark, { timestamp: '1970-01-01T00:00:00.000000Z', tieBreak: null });
  assert.equal(b.status, 'initialized');
  assert.equal(b.icebergTable, 'cold.bronze_trades_binance', 'a missing iceberg_table is filled in');
  const seedView = await pool.query(
    `SELECT last_offload_max_sequence, last_offload_row_count, failure_count FROM offload_watermarks WHERE table_name = 'bronze_trades_kraken'`,
  );
  assert.deepEqual(seedView.rows[0], { last_offload_max_sequence: '0', last_offload_row_count: '0', failure_count: 0 });
  assert.equal(await watermarks.read(pool, 'never_configured'), null);
});

test("the seed's own queries keep working against our rows", async () => {
  await watermarks.ensure(pool, ['ohlcv_1m']);
  // Verbatim shapes from the seed's DDL comments and its watermark_pg.py.
  const upd = await pool.query(`UPDATE offload_watermarks SET status = 'running', updated_at = NOW() WHERE table_name = $1`, ['ohlcv_1m']);
  assert.equal(upd.rowCount, 1);
  const sel = await pool.query(`SELECT last_offload_timestamp, last_offload_max_sequence FROM offload_watermarks WHERE table_name = $1`, [
    'ohlcv_1m',
  ]);
  assert.equal(sel.rows.length, 1);
  assert.equal((sel.rows[0].last_offload_timestamp as Date).toISOString(), '1970-01-01T00:00:00.000Z');
  assert.equal(sel.rows[0].last_offload_max_sequence, '0');
  await pool.query(
    `UPDATE offload_watermarks
        SET last_offload_timestamp = $2, last_offload_max_sequence = $3, last_offload_row_count = $4,
            status = 'success', last_successful_run = NOW(), last_run_duration_seconds = $5, failure_count = 0, updated_at = NOW()
      WHERE table_name = $1`,
    ['ohlcv_1m', '2026-02-11 12:00:00+00', 1000, 1000, 12],
  );
  const failed = await pool.query(
    `SELECT * FROM offload_watermarks WHERE status = 'failed' OR failure_count > 0 ORDER BY failure_count DESC`,
  );
  assert.equal(failed.rows.length, 0);
  const all = await pool.query(`SELECT table_name, last_offload_timestamp, last_successful_run, last_run_duration_seconds, status
                                  FROM offload_watermarks ORDER BY last_successful_run DESC NULLS LAST`);
  assert.equal(all.rows[0].table_name, 'ohlcv_1m');
});

test('advance stores the exact watermark: microseconds and a UInt64 tie-break beyond BIGINT', async () => {
  await watermarks.ensure(pool, ['silver_trades']);
  const runId = randomUUID();
  const w = { timestamp: '2026-02-11T12:02:00.123456Z', tieBreak: '18446744073709551615' };
  await withTransaction(pool, (tx) => watermarks.advance(tx, 'silver_trades', w, { rowCount: 5000, runId, durationSeconds: 3.4 }));
  const s = await watermarks.read(pool, 'silver_trades');
  assert.ok(s);
  assert.deepEqual(s.watermark, w);
  assert.equal(s.status, 'success');
  assert.equal(s.lastRowCount, 5000);
  assert.equal(s.committedRunId, runId);
  assert.equal(s.lastRunDurationSeconds, 3);
  assert.ok(s.lastSuccessfulRun);
  // The seed's columns follow along (the tie-break clamped to BIGINT there).
  const seedView = await pool.query(
    `SELECT to_char(last_offload_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts, last_offload_max_sequence, last_offload_row_count
       FROM offload_watermarks WHERE table_name = 'silver_trades'`,
  );
  assert.deepEqual(seedView.rows[0], {
    ts: '2026-02-11 12:02:00.123456',
    last_offload_max_sequence: '9223372036854775807',
    last_offload_row_count: '5000',
  });

  await watermarks.advance(
    pool,
    'silver_trades',
    { timestamp: '2026-02-11T12:03:00.000001Z', tieBreak: '42' },
    { rowCount: 7, runId: randomUUID(), expected: w },
  );
  const s2 = await watermarks.read(pool, 'silver_trades');
  assert.deepEqual(s2!.watermark, { timestamp: '2026-02-11T12:03:00.000001Z', tieBreak: '42' });
});

test('advance with an expected watermark that moved meanwhile is a CommitConflict and changes nothing', async () => {
  await watermarks.ensure(pool, ['bronze_trades_coinbase']);
  const w1 = { timestamp: '2026-02-11T10:00:00.000000Z', tieBreak: null };
  await watermarks.advance(pool, 'bronze_trades_coinbase', w1, { rowCount: 1, runId: randomUUID() });
  await assert.rejects(
    watermarks.advance(
      pool,
      'bronze_trades_coinbase',
      { timestamp: '2026-02-11T11:00:00.000000Z', tieBreak: null },
      {
        rowCount: 1,
        runId: randomUUID(),
        expected: EPOCH,
      },
    ),
    (err: unknown) => {
      assert.ok(err instanceof CommitConflict);
      assert.match(err.message, /expected metadata 1970-01-01T00:00:00\.000000Z, found 2026-02-11T10:00:00\.000000Z/);
      return true;
    },
  );
  assert.deepEqual((await watermarks.read(pool, 'bronze_trades_coinbase'))!.watermark, w1);
  await assert.rejects(watermarks.advance(pool, 'no_row_here', w1, { rowCount: 0, runId: randomUUID() }), /no_row_here: no watermark row/);
  await assert.rejects(
    watermarks.advance(pool, 'bronze_trades_coinbase', { timestamp: 'yesterday', tieBreak: null }, { rowCount: 0, runId: randomUUID() }),
    /not an ISO-8601 timestamp/,
  );
});

test('a transaction that rolls back leaves the watermark unchanged', async () => {
  await watermarks.ensure(pool, ['ohlcv_5m']);
  const before = await watermarks.read(pool, 'ohlcv_5m');
  await assert.rejects(
    withTransaction(
      pool,
      (tx) =>
        watermarks.advance(
          tx,
          'ohlcv_5m',
          { timestamp: '2026-02-11T12:05:00.000000Z', tieBreak: null },
          { rowCount: 10, runId: randomUUID() },
        ),
      {
        beforeCommit: () => {
          throw new Error('killed before COMMIT');
        },
      },
    ),
    /killed before COMMIT/,
  );
  assert.deepEqual(await watermarks.read(pool, 'ohlcv_5m'), before);
});

test('running, failed (counted, message kept) and up to date', async () => {
  await watermarks.ensure(pool, ['ohlcv_1h']);
  assert.equal(await watermarks.markRunning(pool, 'ohlcv_1h'), true);
  assert.equal((await watermarks.read(pool, 'ohlcv_1h'))!.status, 'running');
  await watermarks.markFailed(pool, 'ohlcv_1h', 'cannot reach ClickHouse at http://default:***@127.0.0.1:18123', 2);
  await watermarks.markFailed(pool, 'ohlcv_1h', 'second failure');
  let s = (await watermarks.read(pool, 'ohlcv_1h'))!;
  assert.equal(s.status, 'failed');
  assert.equal(s.failureCount, 2);
  assert.equal(s.lastErrorMessage, 'second failure');
  assert.equal(s.lastRunDurationSeconds, 2);
  await watermarks.markUpToDate(pool, 'ohlcv_1h');
  s = (await watermarks.read(pool, 'ohlcv_1h'))!;
  assert.equal(s.status, 'initialized', 'nothing was ever committed');
  assert.equal(s.failureCount, 0);
  assert.equal(s.lastErrorMessage, null);
  assert.equal(await watermarks.markRunning(pool, 'not_a_table'), false);
  const names = (await watermarks.list(pool)).map((x) => x.table);
  assert.deepEqual(names, [...names].sort());
  assert.ok(names.includes('ohlcv_1h'));
});
