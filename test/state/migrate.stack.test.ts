// The migrations runner against a real PostgreSQL, one fresh database per test: applied in order,
// applying twice is harmless, two `offload init` at once are safe, a newer or tampered database is refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { createPool } from '../../src/state/pool.js';
import { loadMigrations, migrate, migrationStatus } from '../../src/state/migrate.js';
import { ConfigError, OffloadError } from '../../src/core/errors.js';
import { freshPostgresDatabase } from '../support/stack.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function freshPool(): Promise<pg.Pool> {
  const db = await freshPostgresDatabase('mig');
  const pool = createPool({ connectionString: db.url });
  cleanups.push(db.drop, () => pool.end());
  return pool;
}

const shipped = loadMigrations();
const newest = shipped[shipped.length - 1].version;

async function tableNames(pool: pg.Pool): Promise<string[]> {
  const r = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
  );
  return r.rows.map((x) => x.table_name);
}

test('ships numbered migrations for watermarks, runs and the Iceberg catalog', () => {
  assert.deepEqual(
    shipped.map((m) => m.version),
    shipped.map((_, i) => i + 1),
    'versions are 1..n without gaps',
  );
  assert.ok(shipped.length >= 3);
});

test('applies every migration once; applying again changes nothing', async () => {
  const pool = await freshPool();
  const first = await migrate(pool);
  assert.deepEqual(
    first.applied.map((m) => m.version),
    shipped.map((m) => m.version),
  );
  assert.equal(first.version, newest);
  const tables = await tableNames(pool);
  for (const t of ['offload_schema_migrations', 'offload_watermarks', 'offload_runs', 'iceberg_tables', 'iceberg_namespace_properties']) {
    assert.ok(tables.includes(t), `${t} missing (have ${tables.join(', ')})`);
  }

  const second = await migrate(pool);
  assert.equal(second.applied.length, 0);
  assert.equal(second.version, newest);
  const recorded = await pool.query<{ version: number; checksum: string }>(
    'SELECT version, checksum FROM offload_schema_migrations ORDER BY version',
  );
  assert.deepEqual(
    recorded.rows.map((r) => [r.version, r.checksum]),
    shipped.map((m) => [m.version, m.checksum]),
  );
  const status = await migrationStatus(pool);
  assert.equal(status.pending.length, 0);
  assert.equal(status.version, newest);
});

test('four concurrent inits on four pools: all succeed, each migration is applied exactly once', async () => {
  const db = await freshPostgresDatabase('mig');
  cleanups.push(db.drop);
  const pools = Array.from({ length: 4 }, () => createPool({ connectionString: db.url }));
  cleanups.push(() => Promise.all(pools.map((p) => p.end())).then(() => {}));
  const results = await Promise.all(pools.map((p) => migrate(p)));
  const appliedCounts = results.map((r) => r.applied.length).sort();
  assert.deepEqual(appliedCounts, [0, 0, 0, shipped.length], 'one init applied everything, the others found nothing to do');
  for (const r of results) assert.equal(r.version, newest);
  const n = await pools[0].query<{ n: string }>('SELECT count(*) AS n FROM offload_schema_migrations');
  assert.equal(Number(n.rows[0].n), shipped.length);
});

test('a database migrated by a newer offload is refused with a clear error', async () => {
  const pool = await freshPool();
  await migrate(pool);
  const future = newest + 1;
  await pool.query(`INSERT INTO offload_schema_migrations (version, name, checksum) VALUES ($1, 'from_the_future', 'x')`, [future]);
  await assert.rejects(migrate(pool), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(
      err.message,
      new RegExp(`database "mig_[a-z0-9_]+" was migrated by a newer offload \\(version ${future} > ${newest}\\); upgrade the tool`),
    );
    return true;
  });
  await assert.rejects(migrationStatus(pool), /newer offload/);
});

test('an applied migration whose file changed is refused, naming the file', async () => {
  const pool = await freshPool();
  await migrate(pool);
  await pool.query(`UPDATE offload_schema_migrations SET checksum = repeat('0', 64) WHERE version = 2`);
  await assert.rejects(migrate(pool), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, new RegExp(`migration ${shipped[1].file} was changed after it was applied`));
    assert.match(err.message, /add a new numbered migration/);
    return true;
  });
});

test('a failing migration leaves nothing of itself behind and later runs resume from it', async () => {
  const pool = await freshPool();
  const dir = mkdtempSync(join(tmpdir(), 'offload-migrations-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '001_first.sql'), 'CREATE TABLE first_table (id INTEGER PRIMARY KEY);\n');
  writeFileSync(join(dir, '002_broken.sql'), 'CREATE TABLE half_made (id INTEGER);\nSELECT no_such_function();\n');
  await assert.rejects(migrate(pool, { dir }), (err: unknown) => {
    assert.ok(err instanceof OffloadError);
    assert.match(err.message, /migration 002_broken\.sql failed: .*no_such_function.*nothing of it was applied/);
    return true;
  });
  const tables = await tableNames(pool);
  assert.ok(tables.includes('first_table'));
  assert.ok(!tables.includes('half_made'), 'the failed migration rolled back as a whole');
  const versions = await pool.query<{ version: number }>('SELECT version FROM offload_schema_migrations');
  assert.deepEqual(
    versions.rows.map((r) => r.version),
    [1],
  );

  writeFileSync(join(dir, '002_broken.sql'), 'CREATE TABLE half_made (id INTEGER);\n');
  const fixed = await migrate(pool, { dir });
  assert.deepEqual(
    fixed.applied.map((m) => m.file),
    ['002_broken.sql'],
  );
});

test('a badly named file in the migrations directory is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'offload-migrations-'));
  try {
    writeFileSync(join(dir, '1-first.sql'), 'SELECT 1;');
    assert.throws(() => loadMigrations(dir), /1-first\.sql: not a migration file name \(expected NNN_name\.sql/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("adopts a database where the seed's watermark table and a V0 Iceberg catalog already exist", async () => {
  const pool = await freshPool();
  // The seed platform's DDL and a catalog created by an older engine (no iceberg_type column).
  await pool.query(`
    CREATE TABLE offload_watermarks (
      table_name TEXT PRIMARY KEY,
      last_offload_timestamp TIMESTAMPTZ NOT NULL,
      last_offload_max_sequence BIGINT NOT NULL,
      last_offload_row_count BIGINT DEFAULT 0,
      status TEXT NOT NULL DEFAULT 'initialized',
      last_successful_run TIMESTAMPTZ,
      last_run_duration_seconds INTEGER,
      failure_count INTEGER DEFAULT 0,
      last_error_message TEXT,
      created_at TIMESTAMPTZ DEFAULT NOW(),
      updated_at TIMESTAMPTZ DEFAULT NOW());
    INSERT INTO offload_watermarks (table_name, last_offload_timestamp, last_offload_max_sequence, status)
    VALUES ('bronze_trades_binance', '2026-02-11 12:00:00+00', 41, 'success');
    CREATE TABLE iceberg_tables (
      catalog_name VARCHAR(255) NOT NULL, table_namespace VARCHAR(255) NOT NULL, table_name VARCHAR(255) NOT NULL,
      metadata_location VARCHAR(1000), previous_metadata_location VARCHAR(1000),
      PRIMARY KEY (catalog_name, table_namespace, table_name));
    INSERT INTO iceberg_tables VALUES ('offload', 'cold', 'legacy', 's3://w/cold/legacy/metadata/00000-a.metadata.json', NULL);
  `);
  const r = await migrate(pool);
  assert.equal(r.applied.length, shipped.length);
  const wm = await pool.query('SELECT table_name, last_offload_max_sequence, status, watermark_timestamp FROM offload_watermarks');
  assert.deepEqual(wm.rows, [
    { table_name: 'bronze_trades_binance', last_offload_max_sequence: '41', status: 'success', watermark_timestamp: null },
  ]);
  const cat = await pool.query('SELECT table_name, iceberg_type FROM iceberg_tables');
  assert.deepEqual(cat.rows, [{ table_name: 'legacy', iceberg_type: null }], 'the V0 catalog gained iceberg_type, rows kept');
});
