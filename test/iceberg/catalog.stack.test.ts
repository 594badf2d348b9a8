// The JDBC catalog in PostgreSQL: namespaces and tables stored exactly as Iceberg's JdbcCatalog stores
// them, and the commit — a compare-and-set of metadata_location inside the caller's transaction — that
// either moves the pointer together with the watermark or moves nothing.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { createPool, withTransaction } from '../../src/state/pool.js';
import { migrate } from '../../src/state/migrate.js';
import * as watermarks from '../../src/state/watermarks.js';
import { CatalogError, DEFAULT_CATALOG_NAME, JdbcCatalog } from '../../src/iceberg/catalog.js';
import { CommitConflict } from '../../src/core/errors.js';
import { freshPostgresDatabase } from '../support/stack.js';

let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
let pool: pg.Pool;
let catalog: JdbcCatalog;

before(async () => {
  db = await freshPostgresDatabase('cat');
  pool = createPool({ connectionString: db.url });
  await migrate(pool);
  catalog = new JdbcCatalog(pool);
});
after(async () => {
  await pool.end();
  await db.drop();
});

const loc = (table: string, n: number) =>
  `s3://warehouse/iceberg/cold/${table}/metadata/${String(n).padStart(5, '0')}-${randomUUID()}.metadata.json`;

function catalogReason(reason: string) {
  return (err: unknown) => {
    assert.ok(err instanceof CatalogError, String(err));
    assert.equal(err.reason, reason, err.message);
    return true;
  };
}

test('the catalog tables have the JdbcCatalog V1 layout', async () => {
  const r = await pool.query<{ table_name: string; column_name: string; data_type: string; len: number | null; is_nullable: string }>(
    `SELECT table_name, column_name, data_type, character_maximum_length AS len, is_nullable
       FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name IN ('iceberg_tables', 'iceberg_namespace_properties')
      ORDER BY table_name, ordinal_position`,
  );
  assert.deepEqual(
    r.rows.map((c) => `${c.table_name}.${c.column_name} ${c.data_type}(${c.len}) ${c.is_nullable === 'NO' ? 'NOT NULL' : 'NULL'}`),
    [
      'iceberg_namespace_properties.catalog_name character varying(255) NOT NULL',
      'iceberg_namespace_properties.namespace character varying(255) NOT NULL',
      'iceberg_namespace_properties.property_key character varying(255) NOT NULL',
      'iceberg_namespace_properties.property_value character varying(1000) NULL',
      'iceberg_tables.catalog_name character varying(255) NOT NULL',
      'iceberg_tables.table_namespace character varying(255) NOT NULL',
      'iceberg_tables.table_name character varying(255) NOT NULL',
      'iceberg_tables.metadata_location character varying(1000) NULL',
      'iceberg_tables.previous_metadata_location character varying(1000) NULL',
      'iceberg_tables.iceberg_type character varying(5) NULL',
    ],
  );
  assert.equal(catalog.name, DEFAULT_CATALOG_NAME);
});

test('namespaces: create with properties (stored with exists=true), list, load, update, refuse duplicates', async () => {
  await catalog.createNamespace('cold', { owner: 'offload', comment: 'cold copies' });
  const rows = await pool.query(
    `SELECT catalog_name, namespace, property_key, property_value FROM iceberg_namespace_properties WHERE namespace = 'cold' ORDER BY property_key`,
  );
  assert.deepEqual(rows.rows, [
    { catalog_name: 'offload', namespace: 'cold', property_key: 'comment', property_value: 'cold copies' },
    { catalog_name: 'offload', namespace: 'cold', property_key: 'exists', property_value: 'true' },
    { catalog_name: 'offload', namespace: 'cold', property_key: 'owner', property_value: 'offload' },
  ]);
  assert.equal(await catalog.namespaceExists('cold'), true);
  assert.equal(await catalog.namespaceExists('col'), false, 'no prefix match');
  assert.deepEqual(await catalog.loadNamespaceProperties('cold'), { comment: 'cold copies', owner: 'offload' });
  await assert.rejects(catalog.createNamespace('cold'), catalogReason('namespace-exists'));
  assert.equal(await catalog.ensureNamespace('cold'), false);
  assert.equal(await catalog.ensureNamespace('warm'), true);
  assert.deepEqual(await catalog.loadNamespaceProperties('warm'), {});

  await catalog.updateNamespaceProperties('cold', { owner: 'sre', retention: '7d' }, ['comment']);
  assert.deepEqual(await catalog.loadNamespaceProperties('cold'), { owner: 'sre', retention: '7d' });
  await assert.rejects(catalog.updateNamespaceProperties('cold', { exists: 'false' }), /reserved/);
  await assert.rejects(catalog.loadNamespaceProperties('nowhere'), catalogReason('no-such-namespace'));
  assert.deepEqual(
    (await catalog.listNamespaces()).filter((n) => ['cold', 'warm'].includes(n)),
    ['cold', 'warm'],
  );
});

test('tables: create, load, list, rename, drop; a namespace with tables cannot be dropped', async () => {
  await catalog.ensureNamespace('gold');
  const id = { namespace: 'gold', name: 'ohlcv_1m' };
  const first = loc('ohlcv_1m', 0);
  await catalog.createTable(id, first);
  const row = await pool.query(`SELECT * FROM iceberg_tables WHERE table_namespace = 'gold' AND table_name = 'ohlcv_1m'`);
  assert.deepEqual(row.rows, [
    {
      catalog_name: 'offload',
      table_namespace: 'gold',
      table_name: 'ohlcv_1m',
      metadata_location: first,
      previous_metadata_location: null,
      iceberg_type: 'TABLE',
    },
  ]);
  assert.deepEqual(await catalog.loadTable(id), { identifier: id, metadataLocation: first, previousMetadataLocation: null });
  await assert.rejects(catalog.createTable(id, loc('ohlcv_1m', 0)), catalogReason('table-exists'));
  assert.equal(await catalog.loadTable({ namespace: 'gold', name: 'nope' }), null);

  await catalog.createTable({ namespace: 'gold', name: 'ohlcv_5m' }, loc('ohlcv_5m', 0));
  assert.deepEqual(await catalog.listTables('gold'), [
    { namespace: 'gold', name: 'ohlcv_1m' },
    { namespace: 'gold', name: 'ohlcv_5m' },
  ]);
  await assert.rejects(catalog.dropNamespace('gold'), catalogReason('namespace-not-empty'));

  await catalog.renameTable({ namespace: 'gold', name: 'ohlcv_5m' }, { namespace: 'gold', name: 'ohlcv_5min' });
  assert.equal(await catalog.tableExists({ namespace: 'gold', name: 'ohlcv_5m' }), false);
  assert.equal(await catalog.tableExists({ namespace: 'gold', name: 'ohlcv_5min' }), true);
  await assert.rejects(catalog.renameTable({ namespace: 'gold', name: 'ohlcv_5min' }, id), catalogReason('table-exists'));
  await assert.rejects(
    catalog.renameTable({ namespace: 'gold', name: 'ghost' }, { namespace: 'gold', name: 'x' }),
    catalogReason('no-such-table'),
  );
  await assert.rejects(catalog.renameTable(id, { namespace: 'nowhere', name: 'x' }), catalogReason('no-such-namespace'));

  assert.equal(await catalog.dropTable({ namespace: 'gold', name: 'ohlcv_5min' }), true);
  assert.equal(await catalog.dropTable({ namespace: 'gold', name: 'ohlcv_5min' }), false);
  assert.equal(await catalog.dropTable(id), true);
  assert.equal(await catalog.dropNamespace('gold'), true);
  assert.equal(await catalog.namespaceExists('gold'), false);
  assert.equal(await catalog.dropNamespace('gold'), false);
});

test('rows other engines wrote: NULL iceberg_type reads as a table, VIEW rows are not tables', async () => {
  const legacy = loc('legacy', 3);
  await pool.query(
    `INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location) VALUES ('offload', 'bronze', 'legacy', $1)`,
    [legacy],
  );
  await pool.query(
    `INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, iceberg_type) VALUES ('offload', 'bronze', 'a_view', 's3://v/1.metadata.json', 'VIEW')`,
  );
  assert.equal(await catalog.namespaceExists('bronze'), true, 'a table row makes its namespace exist');
  assert.ok((await catalog.listNamespaces()).includes('bronze'));
  assert.deepEqual(await catalog.listTables('bronze'), [{ namespace: 'bronze', name: 'legacy' }]);
  assert.equal((await catalog.loadTable({ namespace: 'bronze', name: 'legacy' }))!.metadataLocation, legacy);
  assert.equal(await catalog.loadTable({ namespace: 'bronze', name: 'a_view' }), null);
  const next = loc('legacy', 4);
  await withTransaction(pool, (tx) =>
    catalog.compareAndSetMetadataLocation(tx, { namespace: 'bronze', name: 'legacy' }, { expected: legacy, next }),
  );
  assert.equal((await catalog.loadTable({ namespace: 'bronze', name: 'legacy' }))!.metadataLocation, next);
  await assert.rejects(catalog.dropNamespace('bronze'), catalogReason('namespace-not-empty'));
});

test('two catalog names in one database do not see each other', async () => {
  const other = new JdbcCatalog(pool, 'other_catalog');
  await other.createNamespace('cold');
  await other.createTable({ namespace: 'cold', name: 'only_there' }, loc('only_there', 0));
  assert.equal(await catalog.loadTable({ namespace: 'cold', name: 'only_there' }), null);
  assert.deepEqual(await other.listTables('cold'), [{ namespace: 'cold', name: 'only_there' }]);
  assert.ok(!(await catalog.listTables('cold')).some((t) => t.name === 'only_there'));
});

test('compare-and-set: moves the pointer and records the previous one', async () => {
  const id = { namespace: 'cold', name: 'bronze_trades_binance' };
  const v0 = loc(id.name, 0);
  const v1 = loc(id.name, 1);
  await withTransaction(pool, (tx) => catalog.compareAndSetMetadataLocation(tx, id, { expected: null, next: v0 }));
  assert.deepEqual(await catalog.loadTable(id), { identifier: id, metadataLocation: v0, previousMetadataLocation: null });
  await withTransaction(pool, (tx) => catalog.compareAndSetMetadataLocation(tx, id, { expected: v0, next: v1 }));
  assert.deepEqual(await catalog.loadTable(id), { identifier: id, metadataLocation: v1, previousMetadataLocation: v0 });
});

test('compare-and-set: a stale expected location is a CommitConflict naming the actual one', async () => {
  const id = { namespace: 'cold', name: 'bronze_trades_kraken' };
  const v0 = loc(id.name, 0);
  const v1 = loc(id.name, 1);
  await catalog.createTable(id, v0);
  await withTransaction(pool, (tx) => catalog.compareAndSetMetadataLocation(tx, id, { expected: v0, next: v1 }));
  await assert.rejects(
    withTransaction(pool, (tx) => catalog.compareAndSetMetadataLocation(tx, id, { expected: v0, next: loc(id.name, 2) })),
    (err: unknown) => {
      assert.ok(err instanceof CommitConflict, String(err));
      assert.equal(err.table, 'cold.bronze_trades_kraken');
      assert.equal(err.expected, v0);
      assert.equal(err.actual, v1);
      return true;
    },
  );
  await assert.rejects(
    withTransaction(pool, (tx) => catalog.compareAndSetMetadataLocation(tx, id, { expected: null, next: loc(id.name, 2) })),
    (err: unknown) => err instanceof CommitConflict && err.actual === v1,
    'creating a table that exists is a conflict too',
  );
  await assert.rejects(
    withTransaction(pool, (tx) =>
      catalog.compareAndSetMetadataLocation(tx, { namespace: 'cold', name: 'missing' }, { expected: v0, next: v1 }),
    ),
    (err: unknown) => err instanceof CommitConflict && err.actual === null,
  );
  assert.equal((await catalog.loadTable(id))!.metadataLocation, v1);
});

test('compare-and-set: of two concurrent commits from the same base exactly one wins', async () => {
  const id = { namespace: 'cold', name: 'silver_trades' };
  const base = loc(id.name, 0);
  await catalog.createTable(id, base);
  const a = loc(id.name, 1);
  const b = loc(id.name, 1);
  // A holds its row lock until B has started waiting on it; then A commits and B re-checks and loses.
  let releaseA!: () => void;
  const aMayCommit = new Promise<void>((r) => (releaseA = r));
  let aUpdated!: () => void;
  const aHasUpdated = new Promise<void>((r) => (aUpdated = r));
  const first = withTransaction(pool, async (tx) => {
    await catalog.compareAndSetMetadataLocation(tx, id, { expected: base, next: a });
    aUpdated();
    await aMayCommit;
  });
  await aHasUpdated;
  // Settled into a value at once: it may reject while we are still awaiting the first commit.
  const second = withTransaction(pool, (tx) => catalog.compareAndSetMetadataLocation(tx, id, { expected: base, next: b })).then(
    () => undefined,
    (err: unknown) => err,
  );
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const w = await pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      if (w.rows.length) break;
      if (Date.now() > deadline) throw new Error('second commit never waited on the first');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    releaseA();
  }
  await first;
  const lost = await second;
  assert.ok(lost instanceof CommitConflict, String(lost));
  assert.equal(lost.actual, a);
  assert.equal((await catalog.loadTable(id))!.metadataLocation, a);
});

test('a commit transaction that rolls back leaves metadata_location and the watermark unchanged', async () => {
  const id = { namespace: 'cold', name: 'ohlcv_1h' };
  const v0 = loc(id.name, 0);
  await catalog.createTable(id, v0);
  await watermarks.ensure(pool, [{ table: 'ohlcv_1h', icebergTable: 'cold.ohlcv_1h' }]);
  const before = await watermarks.read(pool, 'ohlcv_1h');
  const commit = (fault?: string) =>
    withTransaction(
      pool,
      async (tx) => {
        await catalog.compareAndSetMetadataLocation(tx, id, { expected: v0, next: loc(id.name, 1) });
        await watermarks.advance(
          tx,
          'ohlcv_1h',
          { timestamp: '2026-02-11T13:00:00.000000Z', tieBreak: null },
          { rowCount: 60, runId: randomUUID() },
        );
      },
      {
        beforeCommit: () => {
          if (fault) throw new Error(fault);
        },
      },
    );
  await assert.rejects(commit('fault point inside-commit'), /inside-commit/);
  assert.deepEqual(await catalog.loadTable(id), { identifier: id, metadataLocation: v0, previousMetadataLocation: null });
  assert.deepEqual(await watermarks.read(pool, 'ohlcv_1h'), before);

  await commit();
  assert.notEqual((await catalog.loadTable(id))!.metadataLocation, v0);
  assert.equal((await watermarks.read(pool, 'ohlcv_1h'))!.watermark.timestamp, '2026-02-11T13:00:00.000000Z');
});

test('invalid names and over-long locations are refused before reaching the database', async () => {
  await assert.rejects(catalog.createTable({ namespace: 'a..b', name: 't' }, 's3://x'), catalogReason('invalid'));
  await assert.rejects(catalog.createTable({ namespace: 'cold', name: '' }, 's3://x'), catalogReason('invalid'));
  await assert.rejects(catalog.createTable({ namespace: 'cold', name: 't' }, `s3://${'x'.repeat(1000)}`), catalogReason('invalid'));
  assert.throws(() => new JdbcCatalog(pool, ''), catalogReason('invalid'));
});
