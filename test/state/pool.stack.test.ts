// PostgreSQL plumbing against the real server: transactions commit or roll back as a whole, the
// pre-COMMIT hook can stop a commit, per-table advisory locks exclude across pools (= across machines),
// and an unreachable server is reported with its URL redacted.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { connectPostgres, createPool, describePostgres, withTransaction } from '../../src/state/pool.js';
import { advisoryKey, isTableLocked, tableLockHolder, tryLockTable } from '../../src/state/locks.js';
import { ExitCode, ServiceRefused, ServiceUnavailable } from '../../src/core/errors.js';
import { freshPostgresDatabase } from '../support/stack.js';

let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
let poolA: pg.Pool;
let poolB: pg.Pool;

before(async () => {
  db = await freshPostgresDatabase('pg');
  poolA = createPool({ connectionString: db.url }, { applicationName: 'offload-test-a' });
  poolB = createPool({ connectionString: db.url }, { applicationName: 'offload-test-b' });
  await poolA.query('CREATE TABLE items (id INTEGER PRIMARY KEY)');
});
after(async () => {
  await poolA.end();
  await poolB.end();
  await db.drop();
});

async function ids(): Promise<number[]> {
  return (await poolA.query<{ id: number }>('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('withTransaction commits everything fn did, and returns its value', async () => {
  await poolA.query('DELETE FROM items');
  const out = await withTransaction(poolA, async (tx) => {
    await tx.query('INSERT INTO items VALUES (1), (2)');
    return 'done';
  });
  assert.equal(out, 'done');
  assert.deepEqual(await ids(), [1, 2]);
});

test('withTransaction rolls back everything when fn throws', async () => {
  await poolA.query('DELETE FROM items');
  await assert.rejects(
    withTransaction(poolA, async (tx) => {
      await tx.query('INSERT INTO items VALUES (3)');
      throw new Error('boom after the insert');
    }),
    /boom after the insert/,
  );
  assert.deepEqual(await ids(), []);
});

test('the beforeCommit hook runs after fn, inside the transaction, and a throw there rolls back', async () => {
  await poolA.query('DELETE FROM items');
  const seen: number[][] = [];
  await assert.rejects(
    withTransaction(
      poolA,
      async (tx) => {
        await tx.query('INSERT INTO items VALUES (4)');
      },
      {
        beforeCommit: async (tx) => {
          seen.push((await tx.query<{ id: number }>('SELECT id FROM items')).rows.map((r) => r.id));
          throw new Error('fault point inside-commit');
        },
      },
    ),
    /fault point inside-commit/,
  );
  assert.deepEqual(seen, [[4]], 'the hook saw the uncommitted row');
  assert.deepEqual(await ids(), [], 'nothing committed');
  // The pool is still healthy afterwards.
  await withTransaction(poolA, (tx) => tx.query('INSERT INTO items VALUES (5)'));
  assert.deepEqual(await ids(), [5]);
});

test('advisory keys are stable, signed 64-bit and differ per table', () => {
  assert.equal(advisoryKey('table:bronze_trades_binance'), advisoryKey('table:bronze_trades_binance'));
  assert.notEqual(advisoryKey('table:a'), advisoryKey('table:b'));
  const k = advisoryKey('table:x');
  assert.ok(k >= -(2n ** 63n) && k < 2n ** 63n);
});

test('a table lock held by one pool excludes another pool until released; other tables stay free', async () => {
  const a = await tryLockTable(poolA, 'bronze_trades_binance');
  assert.ok(a, 'first worker gets the lock');
  try {
    assert.equal(await tryLockTable(poolB, 'bronze_trades_binance'), null, 'second worker sees busy');
    assert.equal(await tryLockTable(poolA, 'bronze_trades_binance'), null, 'a second session of the same pool is also excluded');
    const other = await tryLockTable(poolB, 'bronze_trades_kraken');
    assert.ok(other, 'a different table is free');
    await other.release();

    assert.equal(await isTableLocked(poolB, 'bronze_trades_binance'), true);
    const holder = await tableLockHolder(poolB, 'bronze_trades_binance');
    assert.ok(holder);
    assert.equal(holder.applicationName, 'offload-test-a');
    assert.equal(await isTableLocked(poolB, 'bronze_trades_kraken'), false);
    assert.ok(a.isHeld());
  } finally {
    await a.release();
  }
  assert.equal(a.isHeld(), false);
  assert.equal(await isTableLocked(poolB, 'bronze_trades_binance'), false);
  const b = await tryLockTable(poolB, 'bronze_trades_binance');
  assert.ok(b, 'free again after release');
  await b.release();
  await b.release(); // twice is harmless
});

test('a lock whose connection dies is reported lost and becomes free for others', async () => {
  const a = await tryLockTable(poolA, 'silver_trades');
  assert.ok(a);
  const holder = await tableLockHolder(poolB, 'silver_trades');
  assert.ok(holder);
  await poolB.query('SELECT pg_terminate_backend($1)', [holder.pid]);
  await until('the lock to be reported lost', async () => a.signal.aborted);
  assert.equal(a.isHeld(), false);
  await until('the lock to be free', async () => !(await isTableLocked(poolB, 'silver_trades')));
  const b = await tryLockTable(poolB, 'silver_trades');
  assert.ok(b);
  await b.release();
  await a.release(); // releasing a lost lock is harmless
});

test('an unreachable PostgreSQL is ServiceUnavailable with the URL redacted', async () => {
  const url = 'postgres://offload:Sup3r-Secret-pw@127.0.0.1:1/offload';
  await assert.rejects(connectPostgres({ connectionString: url }), (err: unknown) => {
    assert.ok(err instanceof ServiceUnavailable, String(err));
    assert.equal(err.service, 'PostgreSQL');
    assert.equal(
      err.message,
      'cannot reach PostgreSQL at postgres://offload:***@127.0.0.1:1/offload (connection refused); is the server running, and is DATABASE_URL right?',
    );
    assert.ok(!err.message.includes('Sup3r-Secret-pw'));
    return true;
  });
  // A pool made without connecting reports the same on first use.
  const pool = createPool({ connectionString: url });
  try {
    await assert.rejects(
      withTransaction(pool, async () => 1),
      ServiceUnavailable,
    );
    await assert.rejects(tryLockTable(pool, 't'), ServiceUnavailable);
  } finally {
    await pool.end();
  }
});

test('a wrong password or a missing database is refused (exit 3), reported without the password', async () => {
  const wrong = new URL(db.url);
  wrong.password = 'Not-The-Password-42';
  await assert.rejects(connectPostgres({ connectionString: wrong.toString() }), (err: unknown) => {
    assert.ok(err instanceof ServiceRefused, String(err));
    assert.equal(err.exitCode, ExitCode.config);
    assert.match(
      err.message,
      /login refused \(password authentication failed for user "offload"\); check the user and password in DATABASE_URL$/,
    );
    assert.ok(!err.message.includes('Not-The-Password-42'));
    assert.match(err.message, /:\*\*\*@127\.0\.0\.1/);
    return true;
  });
  const missing = new URL(db.url);
  missing.pathname = '/no_such_database_here';
  await assert.rejects(connectPostgres({ connectionString: missing.toString() }), (err: unknown) => {
    assert.ok(err instanceof ServiceRefused, String(err));
    assert.match(
      err.message,
      /no such database \(database "no_such_database_here" does not exist\); check the database name in DATABASE_URL$/,
    );
    return true;
  });
});

test('describePostgres never shows a password, for URLs, key=value strings and PG* variables', () => {
  assert.equal(describePostgres({ connectionString: 'postgresql://u:pw123@h:5432/d' }), 'postgresql://u:***@h:5432/d');
  assert.equal(describePostgres({ connectionString: 'host=h user=u password=pw123 dbname=d' }), 'host=h user=u password=*** dbname=d');
  assert.equal(
    describePostgres({}, { PGHOST: 'db.example', PGPORT: '6543', PGUSER: 'off', PGPASSWORD: 'pw123', PGDATABASE: 'state' }),
    'postgres://off:***@db.example:6543/state',
  );
});
