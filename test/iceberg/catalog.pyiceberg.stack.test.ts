// pyiceberg's SqlCatalog, pointed at the same PostgreSQL database and catalog name, and our catalog.ts
// see one catalog: pyiceberg initializes on our tables without touching them, lists the namespace we
// created, creates a table we then list/load and commit to, loads the table we registered, and commits
// on top of our commit through the same compare-and-set chain.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import type pg from 'pg';
import { createPool, withTransaction } from '../../src/state/pool.js';
import { migrate } from '../../src/state/migrate.js';
import { JdbcCatalog } from '../../src/iceberg/catalog.js';
import { freshPostgresDatabase, verificationPython } from '../support/stack.js';

const python = verificationPython();
const skip: string | false = !python
  ? 'no verification venv (.venv): run dev/python-env.sh'
  : (await execa(python, ['-c', 'import pyiceberg.catalog.sql, pyarrow, psycopg2'], { reject: false })).exitCode !== 0
    ? 'the venv lacks pyiceberg[sql-postgres]/pyarrow: run dev/python-env.sh'
    : false;

const CATALOG = 'offload';
let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
let pool: pg.Pool;
let catalog: JdbcCatalog;
let warehouse: string;

// Everything pyiceberg is asked to do, one step per invocation; each prints one JSON object.
const SCRIPT = `
import json, os, sys
from pyiceberg.catalog.sql import SqlCatalog

cat = SqlCatalog(os.environ["CATALOG"], uri=os.environ["URI"], warehouse=os.environ["WAREHOUSE"])
step = sys.argv[1]
out = {}
if step == "init":
    out["schema_version"] = getattr(cat, "_schema_version", None)
elif step == "create":
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField, LongType, StringType, TimestamptzType
    out["namespaces"] = sorted(".".join(n) for n in cat.list_namespaces())
    out["cold_exists"] = cat.namespace_exists("cold")
    out["cold_properties"] = cat.load_namespace_properties("cold")
    schema = Schema(
        NestedField(1, "sequence_number", LongType(), required=True),
        NestedField(2, "symbol", StringType(), required=False),
        NestedField(3, "exchange_timestamp", TimestamptzType(), required=False),
    )
    t = cat.create_table("cold.made_by_pyiceberg", schema=schema)
    out["metadata_location"] = t.metadata_location
elif step == "read":
    import pyarrow as pa
    from datetime import datetime, timezone
    out["tables"] = sorted(".".join(i) for i in cat.list_tables("cold"))
    ours = cat.load_table("cold.registered_by_offload")
    out["registered_location"] = ours.metadata_location
    out["registered_fields"] = [f.name for f in ours.schema().fields]
    t = cat.load_table("cold.made_by_pyiceberg")
    out["loaded_location"] = t.metadata_location
    rows = pa.table({
        "sequence_number": pa.array([1, 2, 3], type=pa.int64()),
        "symbol": pa.array(["BTCUSDT", "ETHUSDT", "BTCUSDT"]),
        "exchange_timestamp": pa.array([datetime(2026, 2, 11, 12, 0, tzinfo=timezone.utc)] * 3, type=pa.timestamp("us", tz="UTC")),
    }, schema=t.schema().as_arrow())
    t.append(rows)
    out["appended_location"] = t.metadata_location
    out["rows"] = cat.load_table("cold.made_by_pyiceberg").scan().to_arrow().num_rows
    cat.drop_namespace("scratch")
print(json.dumps(out))
`;

async function pyiceberg<T>(step: string, url = db.url): Promise<T> {
  const uri = url.replace(/^postgres(ql)?:\/\//, 'postgresql+psycopg2://');
  const r = await execa(python!, ['-c', SCRIPT, step], {
    env: { CATALOG, URI: uri, WAREHOUSE: pathToFileURL(warehouse).href },
    reject: false,
    timeout: 180_000,
  });
  assert.equal(r.exitCode, 0, `pyiceberg step ${step} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

async function catalogColumns(): Promise<string[]> {
  const r = await pool.query<{ c: string }>(
    `SELECT table_name || '.' || column_name || ' ' || data_type || coalesce('(' || character_maximum_length || ')', '') || ' ' || is_nullable AS c
       FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name IN ('iceberg_tables', 'iceberg_namespace_properties')
      ORDER BY table_name, ordinal_position`,
  );
  return r.rows.map((x) => x.c);
}

before(async () => {
  if (skip) return;
  db = await freshPostgresDatabase('pyice');
  pool = createPool({ connectionString: db.url });
  await migrate(pool);
  catalog = new JdbcCatalog(pool, CATALOG);
  warehouse = mkdtempSync(join(tmpdir(), 'offload-pyiceberg-'));
});
after(async () => {
  if (skip) return;
  await pool.end();
  await db.drop();
  rmSync(warehouse, { recursive: true, force: true });
});

test('pyiceberg and offload share one JDBC catalog in PostgreSQL, both ways', { skip }, async () => {
  const layoutBefore = await catalogColumns();
  await catalog.createNamespace('cold', { owner: 'offload' });
  await catalog.createNamespace('scratch');

  // 1. pyiceberg opens our catalog, sees our namespaces, and creates a table through it.
  const created = await pyiceberg<{
    namespaces: string[];
    cold_exists: boolean;
    cold_properties: Record<string, string>;
    metadata_location: string;
  }>('create');
  assert.deepEqual(created.namespaces, ['cold', 'scratch']);
  assert.equal(created.cold_exists, true);
  assert.deepEqual(created.cold_properties, { exists: 'true', owner: 'offload' });
  assert.deepEqual(await catalogColumns(), layoutBefore, 'pyiceberg found our tables compatible and changed nothing');

  // 2. We list and load the table pyiceberg created.
  const pyTable = { namespace: 'cold', name: 'made_by_pyiceberg' };
  assert.deepEqual(await catalog.listTables('cold'), [pyTable]);
  const loaded = await catalog.loadTable(pyTable);
  assert.ok(loaded);
  assert.equal(loaded.metadataLocation, created.metadata_location);
  const firstFile = fileURLToPath(created.metadata_location);
  assert.ok(existsSync(firstFile), `${firstFile} written by pyiceberg`);

  // 3. We commit a new metadata file for it (same content, new name) with our compare-and-set, and
  //    register a second table at a metadata file of our own.
  const ours = join(dirname(firstFile), `00001-${randomUUID()}.metadata.json`);
  copyFileSync(firstFile, ours);
  const oursUrl = pathToFileURL(ours).href;
  await withTransaction(pool, (tx) =>
    catalog.compareAndSetMetadataLocation(tx, pyTable, { expected: created.metadata_location, next: oursUrl }),
  );
  const registered = join(warehouse, `registered-${randomUUID()}.metadata.json`);
  copyFileSync(firstFile, registered);
  await catalog.createTable({ namespace: 'cold', name: 'registered_by_offload' }, pathToFileURL(registered).href);

  // 4. pyiceberg loads both, appends 3 rows on top of our commit, and drops the empty namespace we made.
  const read = await pyiceberg<{
    tables: string[];
    registered_location: string;
    registered_fields: string[];
    loaded_location: string;
    appended_location: string;
    rows: number;
  }>('read');
  assert.deepEqual(read.tables, ['cold.made_by_pyiceberg', 'cold.registered_by_offload']);
  assert.equal(read.registered_location, pathToFileURL(registered).href);
  assert.deepEqual(read.registered_fields, ['sequence_number', 'symbol', 'exchange_timestamp']);
  assert.equal(read.loaded_location, oursUrl, 'pyiceberg sees our commit');
  assert.equal(read.rows, 3);

  // 5. pyiceberg's commit went through the same pointer: we see it, with ours as its predecessor.
  const after = await catalog.loadTable(pyTable);
  assert.deepEqual(after, { identifier: pyTable, metadataLocation: read.appended_location, previousMetadataLocation: oursUrl });
  assert.equal(await catalog.namespaceExists('scratch'), false, 'pyiceberg dropped the namespace we created');
  assert.deepEqual(await catalog.listNamespaces(), ['cold']);
});

test('offload init on a database where pyiceberg created the catalog first adopts its tables', { skip }, async () => {
  const other = await freshPostgresDatabase('pyfirst');
  const otherPool = createPool({ connectionString: other.url });
  try {
    await pyiceberg('init', other.url);
    const before = await otherPool.query<{ n: string }>(
      `SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'iceberg_tables'`,
    );
    assert.equal(Number(before.rows[0].n), 1, 'pyiceberg created its catalog tables');
    const r = await migrate(otherPool);
    assert.ok(r.applied.length >= 3);
    const cat = new JdbcCatalog(otherPool, CATALOG);
    await cat.createNamespace('cold');
    await cat.createTable({ namespace: 'cold', name: 't' }, 'file:///nowhere/00000-x.metadata.json');
    assert.deepEqual(await cat.listTables('cold'), [{ namespace: 'cold', name: 't' }]);
  } finally {
    await otherPool.end();
    await other.drop();
  }
});
