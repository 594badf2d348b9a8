// The metadata reader answers from metadata, manifest lists and manifests only: totals, per-partition
// counts, snapshot history, data files of a snapshot, and every file kept snapshots reference. The
// expected numbers are counted by DuckDB over the same rows. The reader must open no data file: one
// test deletes them all before reading.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DuckDBSession } from '../../src/iceberg/parquet.js';
import {
  readDataFiles,
  readPartitionStats,
  readReferencedFiles,
  readTableOverview,
  readTotals,
  snapshotHistory,
} from '../../src/iceberg/reader.js';
import { commitStaged, createTable, stageAppend, stageReplacePartitions, type Table } from '../../src/iceberg/table.js';
import {
  openCatalog,
  openDuck,
  openWarehouse,
  tradesSchema,
  tradesSpec,
  tradesSql,
  writeRows,
  type CatalogDatabase,
  type Warehouse,
} from '../support/iceberg-tables.js';

let db: CatalogDatabase;
let warehouse: Warehouse;
let duck: DuckDBSession;

before(async () => {
  db = await openCatalog('reader');
  warehouse = await openWarehouse('file');
  duck = await openDuck();
});
after(async () => {
  duck?.close();
  await warehouse?.close();
  await db?.close();
});

async function commit(table: Table, relation: string, runId: string, kind: 'append' | 'replace' = 'append'): Promise<Table> {
  const files = await writeRows(duck, table, warehouse.io, relation, { prefix: runId });
  const stage = kind === 'append' ? stageAppend : stageReplacePartitions;
  return commitStaged(db.pool, db.catalog, await stage(table, warehouse.io, files, { summaryProperties: { 'offload.run-id': runId } }));
}

/** Rows per partition (day, exchange) as DuckDB counts them over the written relations. */
async function countsByPartition(relations: string[]): Promise<Array<[string, string, bigint]>> {
  const union = relations.map((r) => `SELECT exchange_timestamp, exchange FROM (${r})`).join(' UNION ALL ');
  const r = await duck.connection.runAndReadAll(
    `SELECT strftime(exchange_timestamp AT TIME ZONE 'UTC', '%Y-%m-%d') AS day, exchange, count(*) AS n FROM (${union}) GROUP BY ALL ORDER BY ALL`,
  );
  return r.getRowObjectsJS().map((x) => [String(x.day), String(x.exchange), BigInt(x.n as bigint)]);
}

test('an empty table: no snapshot, zero totals, no partitions', async () => {
  const schema = tradesSchema();
  const table = await createTable(
    db.catalog,
    warehouse.io,
    { namespace: 'cold', name: 'empty' },
    { schema, spec: tradesSpec(schema), warehouse: warehouse.url },
  );
  const overview = await readTableOverview(warehouse.io, table.metadata);
  assert.equal(overview.currentSnapshot, null);
  assert.deepEqual(overview.totals, { records: 0n, dataFiles: 0n, filesSizeBytes: 0n, source: 'empty' });
  assert.deepEqual(overview.partitions, []);
  assert.deepEqual(overview.snapshots, []);
  assert.deepEqual(
    overview.spec.fields.map((f) => f.name),
    ['exchange_timestamp_day', 'exchange'],
  );
  assert.deepEqual(await readDataFiles(warehouse.io, table.metadata), []);
});

test('totals, per-partition counts and history come from metadata and manifests, never from the data files', async () => {
  const schema = tradesSchema();
  let table = await createTable(
    db.catalog,
    warehouse.io,
    { namespace: 'cold', name: 'trades' },
    { schema, spec: tradesSpec(schema), warehouse: warehouse.url },
  );
  const first = tradesSql(1, 900);
  const second = tradesSql(2_001, 333, { days: [2] });
  const fix = tradesSql(9_001, 25, { days: [0], exchanges: ['kraken'] });
  table = await commit(table, first, 'run-1');
  table = await commit(table, second, 'run-2');
  const beforeFix = table;
  table = await commit(table, fix, 'run-3', 'replace');

  // Any read of a data file from here on fails: the reader must not need one.
  const allData = (await readReferencedFiles(warehouse.io, table.metadata, table.metadataLocation)).dataFiles;
  await warehouse.io.deleteMany(allData);
  assert.equal(await warehouse.io.exists(allData[0]), false);

  const overview = await readTableOverview(warehouse.io, table.metadata);
  const fixedAway = (await countsByPartition([first, second])).find(([day, ex]) => day === '2026-02-10' && ex === 'kraken')![2];
  const total = 900n + 333n - fixedAway + 25n;
  assert.equal(overview.totals.records, total);
  assert.equal(overview.totals.source, 'summary');
  assert.equal(overview.currentSnapshot?.summary['offload.run-id'], 'run-3');
  assert.equal(overview.currentSnapshot?.operation, 'overwrite');
  assert.deepEqual(
    overview.snapshots.map((s) => [
      s.operation,
      s.summary['offload.run-id'],
      s.summary['added-records'],
      s.summary['total-records'],
      s.isCurrent,
    ]),
    [
      ['append', 'run-1', '900', '900', false],
      ['append', 'run-2', '333', '1233', false],
      ['overwrite', 'run-3', '25', String(total), true],
    ],
  );

  // Per partition: the path form the TUI shows, and the counts DuckDB finds in the rows.
  const expected = (await countsByPartition([first, second]))
    .filter(([day, ex]) => !(day === '2026-02-10' && ex === 'kraken'))
    .concat(await countsByPartition([fix]))
    .map(([day, ex, n]) => [`exchange_timestamp_day=${day}/exchange=${ex}`, n] as const)
    .sort();
  assert.deepEqual(
    overview.partitions.map((p) => [p.path, p.recordCount] as const),
    expected,
  );
  assert.equal(overview.partitions.length, 9);
  assert.ok(overview.partitions.every((p) => p.fileCount >= 1 && p.fileSizeBytes > 0n));
  assert.equal(
    overview.partitions.reduce((s, p) => s + p.recordCount, 0n),
    total,
  );
  const kraken = overview.partitions.find((p) => p.path === 'exchange_timestamp_day=2026-02-10/exchange=kraken')!;
  assert.deepEqual(
    [kraken.partition, kraken.recordCount, kraken.fileCount],
    [{ exchange_timestamp_day: 20494, exchange: 'kraken' }, 25n, 1],
  );

  // An older snapshot, by id.
  const old = await readPartitionStats(warehouse.io, table.metadata, beforeFix.metadata['current-snapshot-id']!);
  assert.equal(
    old.reduce((s, p) => s + p.recordCount, 0n),
    1233n,
  );
  assert.equal((await readTotals(warehouse.io, table.metadata, snapshotHistory(table.metadata)[0].snapshotId)).records, 900n);
  await assert.rejects(readDataFiles(warehouse.io, table.metadata, 42n), /has no snapshot 42/);
});

test('totals missing from a summary (another writer) are counted from the manifests', async () => {
  const schema = tradesSchema();
  let table = await createTable(
    db.catalog,
    warehouse.io,
    { namespace: 'cold', name: 'no_totals' },
    { schema, spec: tradesSpec(schema, ['exchange']), warehouse: warehouse.url },
  );
  table = await commit(table, tradesSql(1, 123), 'only');
  const snapshot = table.metadata.snapshots[0];
  const { 'total-records': _r, 'total-data-files': _f, 'total-files-size': _s, ...rest } = snapshot.summary;
  const stripped = { ...table.metadata, snapshots: [{ ...snapshot, summary: rest }] };
  const files = await readDataFiles(warehouse.io, table.metadata);
  assert.deepEqual(await readTotals(warehouse.io, stripped), {
    records: 123n,
    dataFiles: BigInt(files.length),
    filesSizeBytes: files.reduce((s, f) => s + f.fileSizeInBytes, 0n),
    source: 'manifests',
  });
});

test('referenced files: every file under the table location after clean commits, and each of them exists', async () => {
  const schema = tradesSchema();
  let table = await createTable(
    db.catalog,
    warehouse.io,
    { namespace: 'cold', name: 'refs' },
    { schema, spec: tradesSpec(schema, ['exchange']), warehouse: warehouse.url },
  );
  table = await commit(table, tradesSql(1, 60), 'a');
  table = await commit(table, tradesSql(61, 60), 'b');
  table = await commit(table, tradesSql(500, 6, { exchanges: ['binance'] }), 'c', 'replace');
  const refs = await readReferencedFiles(warehouse.io, table.metadata, table.metadataLocation);
  assert.equal(refs.metadataFiles.length, 4, 'versions 0..3');
  assert.equal(refs.manifestLists.length, 3);
  assert.ok(refs.metadataFiles.includes(table.metadataLocation));
  // The binance files the replace removed are still referenced: snapshots a and b read them.
  const current = (await readDataFiles(warehouse.io, table.metadata)).map((f) => f.filePath);
  assert.ok(refs.dataFiles.length > current.length);
  const everything = (await warehouse.io.list(`${table.metadata.location}/`)).map((f) => f.uri).sort();
  assert.deepEqual(
    [...refs.metadataFiles, ...refs.manifestLists, ...refs.manifests, ...refs.dataFiles].sort(),
    everything,
    'no orphan, nothing missing',
  );
});
