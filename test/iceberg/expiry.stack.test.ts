// Snapshot expiry and metadata cleanup as a policy: the table's own retention properties decide (unless
// the caller overrides them), a dry run tells exactly what a real run then deletes, and every file under
// the table is accounted for: after expiry the files left are those the new version references, plus
// nothing — the deleted ones are exactly the replaced data files only expired snapshots read, their
// manifests and manifest lists, and the metadata files the trimmed log no longer names.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CATALOG_NAME } from '../../src/iceberg/catalog.js';
import { DEFAULT_MAX_SNAPSHOT_AGE_MS, resolveExpiryPolicy } from '../../src/iceberg/expire.js';
import type { DuckDBSession } from '../../src/iceberg/parquet.js';
import { readDataFiles, readReferencedFiles, snapshotHistory } from '../../src/iceberg/reader.js';
import {
  commitStaged,
  createTable,
  expireSnapshots,
  loadTable,
  stageAppend,
  stageReplacePartitions,
  type Table,
} from '../../src/iceberg/table.js';
import {
  openCatalog,
  openDuck,
  openWarehouse,
  pyiceberg,
  pyicebergSkip,
  tradesSchema,
  tradesSpec,
  tradesSql,
  writeRows,
  type CatalogDatabase,
  type PyRead,
  type Warehouse,
} from '../support/iceberg-tables.js';

let db: CatalogDatabase;
let wh: Warehouse;
let duck: DuckDBSession;

before(async () => {
  db = await openCatalog('expiry');
  wh = await openWarehouse('file');
  duck = await openDuck();
});
after(async () => {
  duck?.close();
  await wh?.close();
  await db?.close();
});

async function commit(table: Table, relation: string, run: string, replace = false): Promise<Table> {
  const files = await writeRows(duck, table, wh.io, relation, { prefix: run });
  return commitStaged(
    db.pool,
    db.catalog,
    await (replace ? stageReplacePartitions : stageAppend)(table, wh.io, files, { summaryProperties: { 'offload.run-id': run } }),
  );
}

const everything = async (t: Table) => (await wh.io.list(`${t.metadata.location}/`)).map((f) => f.uri).sort();

describe('snapshot expiry as a policy', () => {
  it('follows the table properties, deletes exactly what its dry run listed, and leaves only what the new version references', async () => {
    const schema = tradesSchema();
    let table = await createTable(
      db.catalog,
      wh.io,
      { namespace: 'cold', name: 'retained' },
      {
        schema,
        spec: tradesSpec(schema, ['exchange']),
        warehouse: wh.url,
        properties: { 'history.expire.min-snapshots-to-keep': '2', 'write.metadata.previous-versions-max': '3' },
      },
    );
    for (let i = 0; i < 4; i++) table = await commit(table, tradesSql(1 + i * 30, 30), `a${i}`);
    // Two replaces of binance: the binance files of a0..a3, and then those of r0, are read only by older snapshots.
    table = await commit(table, tradesSql(1000, 9, { exchanges: ['binance'] }), 'r0', true);
    table = await commit(table, tradesSql(2000, 9, { exchanges: ['binance'] }), 'r1', true);
    const replacedAway = (await readReferencedFiles(wh.io, table.metadata, table.metadataLocation)).dataFiles.filter((f) =>
      /\/exchange=binance\/(a\d|r0)-/.test(f),
    );
    assert.equal(replacedAway.length, 5);

    const rules = resolveExpiryPolicy(table.metadata, { maxSnapshotAgeMs: 0 }, 1_000);
    assert.deepEqual(
      rules,
      { olderThanMs: 1_000, retainLast: 2, maxPreviousMetadataFiles: 3 },
      'the caller sets the age; the table the rest',
    );
    assert.equal(resolveExpiryPolicy(table.metadata, {}, DEFAULT_MAX_SNAPSHOT_AGE_MS).olderThanMs, 0, 'the default age is 5 days');

    const beforeFiles = await everything(table);
    const dry = await expireSnapshots(db.pool, db.catalog, wh.io, table.ident, { policy: { maxSnapshotAgeMs: 0 }, dryRun: true });
    assert.equal((await loadTable(db.catalog, wh.io, table.ident)).metadataLocation, table.metadataLocation, 'a dry run commits nothing');
    assert.deepEqual(await everything(table), beforeFiles, 'a dry run deletes nothing');
    assert.equal(dry.expired.length, 4, 'six snapshots, the newest two kept');

    const real = await expireSnapshots(db.pool, db.catalog, wh.io, table.ident, { policy: { maxSnapshotAgeMs: 0 } });
    assert.deepEqual(real.deleted, dry.deleted, 'the run deletes exactly what the dry run listed');
    assert.deepEqual(
      snapshotHistory(real.table.metadata).map((s) => s.summary['offload.run-id']),
      ['r0', 'r1'],
    );
    assert.deepEqual(
      real.deleted.dataFiles,
      replacedAway.filter((f) => !/\/r0-/.test(f)).sort(),
      'the binance files of a0..a3: only expired snapshots read them',
    );
    assert.deepEqual(real.deleted.deleteFiles, []);
    assert.equal(real.deleted.manifestLists.length, 4);
    assert.equal(real.table.metadata['metadata-log'].length, 3, 'the log keeps write.metadata.previous-versions-max entries');
    // Versions 0..6 existed; the new version 7 logs 4, 5 and 6: 3 falls out of the log now, 0..2 fell out before.
    assert.deepEqual(
      real.deleted.metadataFiles.map((f) => /\/(\d+)-[^/]*\.metadata\.json$/.exec(f)![1]),
      ['00000', '00001', '00002', '00003'],
    );

    const refs = await readReferencedFiles(wh.io, real.table.metadata, real.table.metadataLocation);
    const referenced = [...refs.metadataFiles, ...refs.manifestLists, ...refs.manifests, ...refs.dataFiles, ...refs.deleteFiles].sort();
    assert.deepEqual(await everything(real.table), referenced, 'every file left is referenced, every referenced file is there');
    assert.deepEqual(
      [...referenced, ...real.deletedFiles].sort(),
      [...beforeFiles, real.table.metadataLocation].sort(),
      'and nothing else went',
    );
    assert.equal(
      (await readDataFiles(wh.io, real.table.metadata)).reduce((n, f) => n + f.recordCount, 0n),
      120n - (await binanceRowsOf(4)) + 9n,
    );
  });
});

describe('expiry read back by pyiceberg', { skip: pyicebergSkip || undefined }, () => {
  it('reads the expired table at its current snapshot', async () => {
    const table = await loadTable(db.catalog, wh.io, { namespace: 'cold', name: 'retained' });
    const py = await pyiceberg<PyRead>({ catalogUrl: db.url, catalogName: DEFAULT_CATALOG_NAME, warehouse: wh }, ['read', 'cold.retained']);
    assert.equal(py.current_snapshot_id, String(table.metadata['current-snapshot-id']));
    assert.deepEqual(
      py.snapshots.map((s) => s.summary['offload.run-id']),
      ['r0', 'r1'],
    );
    assert.equal(py.row_count, Number((await readDataFiles(wh.io, table.metadata)).reduce((n, f) => n + f.recordCount, 0n)));
  });
});

/** Binance rows among the first `runs` appends of 30 (ids 1..30·runs). */
async function binanceRowsOf(runs: number): Promise<bigint> {
  const r = await duck.connection.runAndReadAll(`SELECT count(*) AS n FROM (${tradesSql(1, 30 * runs)}) WHERE exchange = 'binance'`);
  return BigInt(r.getRowObjectsJS()[0].n as bigint);
}
