// Compaction end to end on S3: a table appended to 100 times by a trickle (one small file per partition
// per append) compacts to one file per partition in `replace` snapshots, and pyiceberg and DuckDB read the
// same multiset of rows before and after. Against concurrent writers: an append committed between the
// rewrite and its commit is kept (the rewrite is built again on the newer version), a replace of the
// same partition in between aborts the rewrite (its files removed meanwhile) and leaves nothing behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CATALOG_NAME } from '../../src/iceberg/catalog.js';
import { readPartitionChecksums } from '../../src/iceberg/checksum.js';
import { compactPartition, rewritePartition, stagePartitionRewrite } from '../../src/iceberg/compaction.js';
import { planCompaction } from '../../src/iceberg/compaction-plan.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import type { DuckDBSession } from '../../src/iceberg/parquet.js';
import { readPartitionStats, readSnapshotFiles } from '../../src/iceberg/reader.js';
import {
  commitStaged,
  commitWithRetry,
  createTable,
  RewriteConflict,
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
  sortRows,
  tradesSchema,
  tradesSpec,
  tradesSql,
  writeRows,
  type CatalogDatabase,
  type PyicebergContext,
  type PyRead,
  type Warehouse,
} from '../support/iceberg-tables.js';

const APPENDS = 100;
const ROWS_PER_APPEND = 12;
const TARGET = 64 << 20;

let db: CatalogDatabase;
let wh: Warehouse;
let duck: DuckDBSession;
let ctx: PyicebergContext;

before(async () => {
  if (pyicebergSkip) return;
  db = await openCatalog('compact');
  wh = await openWarehouse('s3');
  duck = await openDuck();
  ctx = { catalogUrl: db.url, catalogName: DEFAULT_CATALOG_NAME, warehouse: wh };
});
after(async () => {
  duck?.close();
  await wh?.close();
  await db?.close();
});

/** A trades table partitioned by day and exchange (2 × 2 partitions), appended to `appends` times. */
async function trickleTable(name: string, appends: number): Promise<Table> {
  const schema = tradesSchema();
  let table = await createTable(db.catalog, wh.io, { namespace: 'cold', name }, { schema, spec: tradesSpec(schema), warehouse: wh.url });
  for (let i = 0; i < appends; i++) {
    const files = await writeRows(
      duck,
      table,
      wh.io,
      tradesSql(1 + i * ROWS_PER_APPEND, ROWS_PER_APPEND, { days: [0, 1], exchanges: ['binance', 'kraken'] }),
      { prefix: `run-${i}` },
    );
    table = await commitStaged(
      db.pool,
      db.catalog,
      await stageAppend(table, wh.io, files, { summaryProperties: { 'offload.run-id': `run-${i}`, 'offload.watermark': `w-${i}` } }),
    );
  }
  return table;
}

const currentSnapshotOf = (m: Table['metadata']) => currentSnapshot(m)!.summary;
const readBoth = (name: string) => pyiceberg<PyRead>(ctx, ['read', `cold.${name}`, '--duckdb']);

describe('compaction', { skip: pyicebergSkip || undefined }, () => {
  it(`compacts a table appended ${APPENDS} times to one file per partition; pyiceberg and DuckDB read the same multiset`, async (t) => {
    let table = await trickleTable('trickle', APPENDS);
    const before = await readBoth('trickle');
    assert.equal(before.row_count, APPENDS * ROWS_PER_APPEND);
    const statsBefore = await readPartitionStats(wh.io, table.metadata);
    assert.deepEqual(
      statsBefore.map((p) => p.fileCount),
      [APPENDS, APPENDS, APPENDS, APPENDS],
      'one small file per partition per append',
    );
    const sumsBefore = await readPartitionChecksums(wh.io, duck.connection, table.metadata);

    const plan = planCompaction(await readSnapshotFiles(wh.io, table.metadata), table.metadata['default-spec-id'], {
      targetFileSizeBytes: TARGET,
    });
    assert.deepEqual(
      plan.partitions.map((p) => [p.groups.length, p.groups[0].files.length, p.deleteFiles.length]),
      statsBefore.map(() => [1, APPENDS, 0]),
    );
    const began = performance.now();
    for (const job of plan.partitions)
      table = (await compactPartition(db.pool, db.catalog, wh.io, duck.connection, table, job, { targetFileSizeBytes: TARGET })).table;
    t.diagnostic(`${plan.partitions.length} partitions × ${APPENDS} files compacted in ${Math.round(performance.now() - began)} ms`);

    const statsAfter = await readPartitionStats(wh.io, table.metadata);
    assert.deepEqual(
      statsAfter.map((p) => [p.path, p.fileCount, p.recordCount]),
      statsBefore.map((p) => [p.path, 1, p.recordCount]),
    );
    const snap = currentSnapshot(table.metadata)!;
    assert.deepEqual(
      [
        snap.summary.operation,
        snap.summary['deleted-data-files'],
        snap.summary['added-data-files'],
        snap.summary['total-records'],
        snap.summary['total-data-files'],
      ],
      ['replace', String(APPENDS), '1', String(APPENDS * ROWS_PER_APPEND), '4'],
    );

    const after = await readBoth('trickle');
    assert.equal(after.files.length, 4);
    assert.deepEqual(sortRows(after.rows), sortRows(before.rows), 'pyiceberg: the same multiset of rows');
    assert.deepEqual(sortRows(after.duckdb_rows!), sortRows(before.rows), 'DuckDB over the compacted files: the same multiset');
    const sumsAfter = await readPartitionChecksums(wh.io, duck.connection, table.metadata);
    assert.deepEqual(
      sumsAfter.partitions.map((p) => [p.path, p.rows, p.checksum]),
      sumsBefore.partitions.map((p) => [p.path, p.rows, p.checksum]),
    );
    // Compacting again finds nothing to do.
    assert.deepEqual(planCompaction(await readSnapshotFiles(wh.io, table.metadata), 0, { targetFileSizeBytes: TARGET }).partitions, []);
  });

  it('a commit that lands between the rewrite and its commit: an append is kept, a replace of the partition aborts the rewrite', async () => {
    let table = await trickleTable('raced', 6);
    const plan = planCompaction(await readSnapshotFiles(wh.io, table.metadata), 0, { targetFileSizeBytes: TARGET });
    const [first, second] = plan.partitions;

    // An append to every partition lands after the rewrite read its rows: restaged, both kept; the rewrite
    // carries the watermark of the parent it is finally built on.
    const rewritten = await rewritePartition(wh.io, duck.connection, table, first, { targetFileSizeBytes: TARGET });
    const staged = await stagePartitionRewrite(table, wh.io, first, rewritten, { carrySummaryKeys: ['offload.watermark'] });
    assert.equal(currentSnapshotOf(staged.metadata)['offload.watermark'], 'w-5');
    const appended = await writeRows(duck, table, wh.io, tradesSql(10_000, 8, { days: [0, 1], exchanges: ['binance', 'kraken'] }), {
      prefix: 'late',
    });
    table = await commitStaged(
      db.pool,
      db.catalog,
      await stageAppend(table, wh.io, appended, { summaryProperties: { 'offload.watermark': 'late' } }),
    );
    table = await commitWithRetry(db.pool, db.catalog, wh.io, staged);
    assert.deepEqual(
      [currentSnapshotOf(table.metadata).operation, currentSnapshotOf(table.metadata)['offload.watermark']],
      ['replace', 'late'],
    );
    const files = await readSnapshotFiles(wh.io, table.metadata);
    const paths = new Set(files.dataFiles.map((f) => f.filePath));
    assert.ok(
      appended.every((f) => paths.has(f.filePath)),
      'the concurrent append is in the table',
    );
    assert.ok(
      rewritten.dataFiles.every((f) => paths.has(f.filePath)),
      'the compacted file is in the table',
    );
    assert.ok(
      first.groups[0].files.every((f) => !paths.has(f.filePath)),
      'the replaced files are not',
    );
    assert.equal((await readBoth('raced')).row_count, 6 * ROWS_PER_APPEND + 8);

    // A replace-partitions of the second partition lands in between: the files the rewrite replaces are gone.
    const staleBase = table;
    const replacement = await writeRows(
      duck,
      table,
      wh.io,
      `SELECT * FROM (${tradesSql(20_000, 40, { days: [0, 1], exchanges: ['binance', 'kraken'] })}) WHERE exchange = '${second.partition.exchange}'`,
      { prefix: 'fix' },
    );
    table = await commitStaged(
      db.pool,
      db.catalog,
      await stageReplacePartitions(
        table,
        wh.io,
        replacement.filter((f) => f.partition.exchange_timestamp_day === second.partition.exchange_timestamp_day),
      ),
    );
    const lost = compactPartition(db.pool, db.catalog, wh.io, duck.connection, staleBase, second, {
      targetFileSizeBytes: TARGET,
      fileNamePrefix: 'lost-rewrite',
    });
    await assert.rejects(lost, (err: unknown) => err instanceof RewriteConflict && /no longer in the table/.test((err as Error).message));
    const leftovers = (await wh.io.list(`${table.metadata.location}/data/`)).filter((f) => f.uri.includes('lost-rewrite'));
    assert.deepEqual(leftovers, [], 'the aborted rewrite removed its files');
    assert.equal(
      (await readSnapshotFiles(wh.io, table.metadata)).dataFiles.some((f) => f.filePath.includes('lost-rewrite')),
      false,
    );
  });
});
