// Tables another engine deletes from, merge-on-read: the current ClickHouse engine (chdb) writes an Iceberg
// table on S3 with three inserts and an ALTER TABLE … DELETE, which leaves position delete files in delete
// manifests. Registered in our catalog, the table must be read (data and delete files apart, live rows
// exact), kept whole by gc, replaced by partition (the replaced partition's deletes go with it, the
// others stay), compacted (deletes applied and their files removed in the same commit), expired, and
// agree with pyiceberg all along. A table with equality deletes (written here by hand: no light writer
// makes them) is read with "≈" and left alone by compaction and checksums.
import { JdbcTableCatalog } from '../../src/iceberg/jdbc-table-catalog.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateTablesConfig } from '../../src/config/tables.js';
import { DEFAULT_CATALOG_NAME } from '../../src/iceberg/catalog.js';
import { readPartitionChecksums } from '../../src/iceberg/checksum.js';
import { compactPartition, rewritePartition, stagePartitionRewrite } from '../../src/iceberg/compaction.js';
import { planCompaction } from '../../src/iceberg/compaction-plan.js';
import { summarizeManifest, writeManifest, writeManifestList } from '../../src/iceberg/manifest.js';
import {
  addSnapshot,
  appendMetadataLog,
  currentSchema,
  currentSnapshot,
  manifestFileName,
  manifestListFileName,
  metadataDirectory,
  newSnapshotId,
  nextMetadataFileLocation,
  stringifyMetadata,
} from '../../src/iceberg/metadata.js';
import type { DuckDBSession } from '../../src/iceberg/parquet.js';
import {
  DELETE_FILE_PATH_FIELD_ID,
  DELETE_POS_FIELD_ID,
  liveRowsFromSummary,
  readDataFiles,
  readReferencedFiles,
  readSnapshotFiles,
  readSnapshotManifests,
  readTableOverview,
} from '../../src/iceberg/reader.js';
import {
  commitStaged,
  commitWithRetry,
  createTable,
  dataLocation,
  expireSnapshots,
  loadTable,
  RewriteConflict,
  stageAppend,
  stageReplacePartitions,
  type Table,
} from '../../src/iceberg/table.js';
import type { DeleteFile, ManifestEntry, TableIdentifier } from '../../src/iceberg/types.js';
import { gcTable } from '../../src/pipeline/gc.js';
import { PostgresStateStore } from '../../src/state/store.js';
import { chdbIcebergSkip, chdbRun, icebergS3Engine, registerForeignTable } from '../support/chdb-iceberg.js';
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

const ROWS_PER_INSERT = 60;
const INSERTS = 3;
/** Rows the ALTER TABLE … DELETE removes: ids 3, 10, …, 178 of 0..179. */
const DELETED = 26;
const LIVE = ROWS_PER_INSERT * INSERTS - DELETED;

let db: CatalogDatabase;
let wh: Warehouse;
let duck: DuckDBSession;
let ctx: PyicebergContext;

const idents = {
  read: { namespace: 'foreign', name: 'read_trades' },
  replace: { namespace: 'foreign', name: 'replace_trades' },
  compact: { namespace: 'foreign', name: 'compact_trades' },
} satisfies Record<string, TableIdentifier>;
const locationOf = (ident: TableIdentifier) => `${wh.url}/foreign/${ident.name}`;

/** chdb statements: the table, three inserts (one file per day each), the merge-on-read delete. */
function foreignTableSql(ident: TableIdentifier): string[] {
  const t = `t_${ident.name}`;
  return [
    `CREATE TABLE ${t} (id Int64, exchange String, price Decimal(18, 8), ts DateTime64(6, 'UTC')) ENGINE = ${icebergS3Engine(locationOf(ident))} PARTITION BY toRelativeDayNum(ts)`,
    ...Array.from(
      { length: INSERTS },
      (_, k) =>
        `INSERT INTO ${t} SELECT number, ['binance', 'kraken'][number % 2 + 1], toDecimal64(number, 8) / 8, ` +
        `toDateTime64('2026-02-10 00:00:00', 6, 'UTC') + toIntervalDay(number % 3) + toIntervalMicrosecond(number * 1000003) ` +
        `FROM numbers(${k * ROWS_PER_INSERT}, ${ROWS_PER_INSERT})`,
    ),
    `ALTER TABLE ${t} DELETE WHERE id % 7 = 3`,
    `SELECT count() FROM ${t}`,
  ];
}

const read = (ident: TableIdentifier) => pyiceberg<PyRead>(ctx, ['read', `${ident.namespace}.${ident.name}`]);
const load = (ident: TableIdentifier) => loadTable(db.catalog, wh.io, ident);

before(async () => {
  if (pyicebergSkip) return;
  db = await openCatalog('deletes');
  wh = await openWarehouse('s3');
  duck = await openDuck();
  ctx = { catalogUrl: db.url, catalogName: DEFAULT_CATALOG_NAME, warehouse: wh };
  if (chdbIcebergSkip) return;
  const out = await chdbRun(Object.values(idents).flatMap(foreignTableSql));
  assert.deepEqual(
    out.filter((o) => o.trim() !== ''),
    [`${LIVE}\n`, `${LIVE}\n`, `${LIVE}\n`],
    'chdb counts the live rows itself',
  );
  for (const ident of Object.values(idents)) await registerForeignTable(db.pool, db.catalog, wh.io, ident, locationOf(ident));
});

after(async () => {
  duck?.close();
  await wh?.close();
  await db?.close();
});

describe('a table another engine deletes from (merge-on-read position deletes)', {
  skip: chdbIcebergSkip || pyicebergSkip || undefined,
}, () => {
  it('is read with data and delete files apart; live rows are exact and agree with pyiceberg', async () => {
    const table = await load(idents.read);
    const files = await readSnapshotFiles(wh.io, table.metadata);
    assert.equal(files.dataFiles.length, INSERTS * 3, 'one data file per day per insert');
    assert.deepEqual(
      files.deleteFiles.map((f) => f.content),
      [1, 1, 1],
      'one position delete file per day',
    );
    assert.ok(files.dataFiles.every((f) => f.content === 0));

    const overview = await readTableOverview(wh.io, table.metadata);
    assert.equal(overview.totals.records, BigInt(ROWS_PER_INSERT * INSERTS));
    assert.deepEqual(overview.liveRows, {
      rows: BigInt(LIVE),
      exact: true,
      records: 180n,
      deleteFiles: 3n,
      positionDeletes: BigInt(DELETED),
      equalityDeletes: 0n,
    });
    assert.deepEqual(
      liveRowsFromSummary(currentSnapshot(table.metadata)!.summary),
      overview.liveRows,
      'the summary alone gives the same (what status shows)',
    );
    assert.deepEqual(
      overview.partitions.map((p) => [p.path, p.fileCount, p.deleteFileCount]),
      [
        ['ts=2026-02-10', 3, 1],
        ['ts=2026-02-11', 3, 1],
        ['ts=2026-02-12', 3, 1],
      ],
    );
    assert.equal(
      overview.partitions.reduce((s, p) => s + p.recordCount - p.positionDeletes, 0n),
      BigInt(LIVE),
    );

    const py = await read(idents.read);
    assert.equal(py.row_count, LIVE, 'pyiceberg applies the same deletes');
    assert.equal(new Set(py.rows.map((r) => Number(r.id) % 7)).has(3), false);

    // Checksums over the files, deletes applied, count the same rows.
    const sums = await readPartitionChecksums(wh.io, duck.connection, table.metadata);
    assert.equal(sums.skipped.length, 0);
    assert.equal(
      sums.partitions.reduce((s, p) => s + p.rows, 0n),
      BigInt(LIVE),
    );
  });

  it('gc keeps every file a kept snapshot references, delete files included; an unreadable table is a per-table error', async () => {
    const table = await load(idents.read);
    const refs = await readReferencedFiles(wh.io, table.metadata, table.metadataLocation);
    assert.equal(refs.deleteFiles.length, 3);
    const cfg = (name: string, target: string) =>
      validateTablesConfig({ tables: [{ name, layer: 'bronze', source: 'k2.nowhere', cursor: 'ts', target }] }, 'test').tables[0];

    // A second table whose current metadata file is gone: its references are unknown.
    const broken = { namespace: 'foreign', name: 'broken' };
    await db.catalog.createTable(broken, `${wh.url}/foreign/broken/metadata/00001-gone.metadata.json`);
    const deps = { state: new PostgresStateStore(db.pool), catalog: new JdbcTableCatalog(db.catalog, wh.io, wh.url, db.pool), io: wh.io };
    const results = [];
    for (const c of [cfg('broken', 'foreign.broken'), cfg('read_trades', 'foreign.read_trades')])
      results.push(await gcTable(c, deps, { minAgeMs: 0 }));
    assert.equal(results[0].status, 'error');
    assert.match(results[0].error ?? '', /00001-gone\.metadata\.json/);
    assert.equal(results[1].status, 'collected');
    const kept = new Set([...refs.dataFiles, ...refs.deleteFiles, ...refs.manifests, ...refs.manifestLists, ...refs.metadataFiles]);
    assert.deepEqual(
      results[1].deleted.filter((f) => kept.has(f)),
      [],
      'nothing referenced is deleted',
    );
    // What chdb left outside the metadata log (its first metadata file) is all gc may take.
    assert.ok(
      results[1].deleted.every((f) => /\/metadata\/v\d+\.metadata\.json$/.test(f)),
      results[1].deleted.join(', '),
    );
    assert.equal((await read(idents.read)).row_count, LIVE, 'the table still reads after gc');
  });

  it('replace-partitions drops the deletes of the partition it replaces and keeps the others', async () => {
    let table = await load(idents.replace);
    const before = await read(idents.replace);
    // New rows for 2026-02-10 only, written by us.
    const relation = `SELECT i::BIGINT AS id, 'bitstamp' AS exchange, CAST(i AS DECIMAL(18, 8)) AS price, TIMESTAMP '2026-02-10 12:00:00' + to_microseconds(i) AS ts FROM range(1000, 1010) t(i)`;
    const files = await writeRows(duck, table, wh.io, relation, { prefix: 'replace-1' });
    table = await commitStaged(db.pool, db.catalog, await stageReplacePartitions(table, wh.io, files));
    const after = await readSnapshotFiles(wh.io, table.metadata);
    assert.deepEqual(
      after.deleteFiles.map((f) => f.partition.ts).sort(),
      [20495, 20496],
      'the 2026-02-10 delete file went with its data files',
    );
    const summary = currentSnapshot(table.metadata)!.summary;
    assert.deepEqual(
      [
        summary.operation,
        summary['removed-delete-files'],
        summary['total-delete-files'],
        summary['deleted-data-files'],
        summary['total-data-files'],
      ],
      ['overwrite', '1', '2', '3', String(6 + files.length)],
    );
    const kept = before.rows.filter((r) => !String(r.ts).startsWith('2026-02-10'));
    const py = await read(idents.replace);
    assert.equal(py.row_count, kept.length + 10);
    assert.deepEqual(sortRows(py.rows.filter((r) => r.exchange !== 'bitstamp')), sortRows(kept));
    const live = (await readTableOverview(wh.io, table.metadata)).liveRows;
    assert.deepEqual([live.rows, live.exact], [BigInt(py.row_count), true]);
  });

  it('compaction applies the position deletes, removes their files in the same commit, and changes no row; expiry then deletes the old files', async () => {
    let table = await load(idents.compact);
    const before = await read(idents.compact);
    const sumsBefore = await readPartitionChecksums(wh.io, duck.connection, table.metadata);
    const plan = planCompaction(await readSnapshotFiles(wh.io, table.metadata), table.metadata['default-spec-id'], {
      targetFileSizeBytes: 64 << 20,
      minFiles: 2,
    });
    assert.deepEqual(plan.skipped, []);
    assert.deepEqual(
      plan.partitions.map((p) => [p.groups.flatMap((g) => g.files).length, p.deleteFiles.length]),
      [
        [3, 1],
        [3, 1],
        [3, 1],
      ],
    );
    const summaries = [];
    for (const job of plan.partitions) {
      table = (await compactPartition(db.pool, db.catalog, wh.io, duck.connection, table, job, { targetFileSizeBytes: 64 << 20 })).table;
      summaries.push(currentSnapshot(table.metadata)!.summary);
    }
    const files = await readSnapshotFiles(wh.io, table.metadata);
    assert.deepEqual([files.dataFiles.length, files.deleteFiles.length], [3, 0], 'one file per day, no delete file left');
    assert.deepEqual(
      summaries.map((s) => [s.operation, s['deleted-data-files'], s['added-data-files'], s['removed-delete-files']]),
      [
        ['replace', '3', '1', '1'],
        ['replace', '3', '1', '1'],
        ['replace', '3', '1', '1'],
      ],
    );
    assert.equal(
      summaries.reduce((n, s) => n + Number(s['removed-position-deletes']), 0),
      DELETED,
    );
    assert.deepEqual(
      [summaries[2]['total-position-deletes'], summaries[2]['total-delete-files'], summaries[2]['total-records']],
      ['0', '0', String(LIVE)],
    );
    const live = (await readTableOverview(wh.io, table.metadata)).liveRows;
    assert.deepEqual([live.rows, live.exact, live.records], [BigInt(LIVE), true, BigInt(LIVE)]);
    const after = await read(idents.compact);
    assert.deepEqual(sortRows(after.rows), sortRows(before.rows), 'pyiceberg reads the same multiset of rows');
    const sumsAfter = await readPartitionChecksums(wh.io, duck.connection, table.metadata);
    assert.deepEqual(
      sumsAfter.partitions.map((p) => [p.path, p.rows, p.checksum]),
      sumsBefore.partitions.map((p) => [p.path, p.rows, p.checksum]),
    );

    // Expiry: only the current snapshot stays; the replaced data files and the delete files go.
    const old = await readReferencedFiles(wh.io, table.metadata, table.metadataLocation);
    const expired = await expireSnapshots(db.pool, db.catalog, wh.io, idents.compact, { retainLast: 1 });
    const oldDeletes = old.deleteFiles;
    assert.equal(oldDeletes.length, 3);
    assert.ok(
      oldDeletes.every((f) => expired.deletedFiles.includes(f)),
      'the applied delete files are deleted with the snapshots that read them',
    );
    for (const f of [...oldDeletes, ...old.dataFiles.filter((f) => !files.dataFiles.some((d) => d.filePath === f))])
      assert.equal(await wh.io.exists(f), false, f);
    for (const f of files.dataFiles) assert.equal(await wh.io.exists(f.filePath), true, f.filePath);
    assert.deepEqual(sortRows((await read(idents.compact)).rows), sortRows(before.rows));
  });
});

describe('a table with equality deletes', { skip: pyicebergSkip || undefined }, () => {
  it('reads its live rows as approximate; compaction and checksums leave its partition alone', async () => {
    const local = await openWarehouse('file');
    try {
      const schema = tradesSchema();
      let table = await createTable(
        db.catalog,
        local.io,
        { namespace: 'eq', name: 'trades' },
        { schema, spec: tradesSpec(schema, ['exchange']), warehouse: local.url },
      );
      for (const run of ['a', 'b', 'c', 'd', 'e']) {
        const files = await writeRows(duck, table, local.io, tradesSql(run.charCodeAt(0) * 100, 30, { exchanges: ['kraken', 'binance'] }), {
          prefix: run,
        });
        table = await commitStaged(db.pool, db.catalog, await stageAppend(table, local.io, files));
      }
      table = await commitEqualityDelete(table, local, { exchange: 'kraken' });
      const overview = await readTableOverview(local.io, table.metadata);
      assert.equal(overview.liveRows.exact, false);
      assert.equal(overview.liveRows.equalityDeletes, 2n);
      assert.equal(liveRowsFromSummary(currentSnapshot(table.metadata)!.summary)!.exact, false, 'status shows ≈');
      const plan = planCompaction(await readSnapshotFiles(local.io, table.metadata), 0, { targetFileSizeBytes: 64 << 20, minFiles: 2 });
      assert.deepEqual(
        plan.skipped.map((s) => [s.partition.exchange, /equality deletes/.test(s.reason)]),
        [['kraken', true]],
      );
      assert.deepEqual(
        plan.partitions.map((p) => p.partition.exchange),
        ['binance'],
      );
      const sums = await readPartitionChecksums(local.io, duck.connection, table.metadata);
      assert.deepEqual(
        sums.skipped.map((s) => s.path),
        ['exchange=kraken'],
      );
      assert.deepEqual(
        sums.partitions.map((p) => [p.path, p.rows]),
        [['exchange=binance', 75n]],
      );

      // A delete file that lands in the partition between the rewrite and its commit aborts the rewrite.
      const [binance] = plan.partitions;
      const rewritten = await rewritePartition(local.io, duck.connection, table, binance, { targetFileSizeBytes: 64 << 20 });
      const staged = await stagePartitionRewrite(table, local.io, binance, rewritten);
      table = await commitEqualityDelete(table, local, { exchange: 'binance' });
      await assert.rejects(
        commitWithRetry(db.pool, db.catalog, local.io, staged),
        (err: unknown) => err instanceof RewriteConflict && /was added after the rewrite read its rows/.test((err as Error).message),
      );
    } finally {
      await local.close();
    }
  });
});

describe('a delete manifest shared by two partitions', { skip: pyicebergSkip || undefined }, () => {
  it("is written again on replace-partitions with the replaced partition's delete DELETED and the other EXISTING; pyiceberg applies the one left", async () => {
    const local = await openWarehouse('file');
    try {
      const ctxLocal: PyicebergContext = { catalogUrl: db.url, catalogName: DEFAULT_CATALOG_NAME, warehouse: local };
      const schema = tradesSchema();
      let table = await createTable(
        db.catalog,
        local.io,
        { namespace: 'pos', name: 'trades' },
        { schema, spec: tradesSpec(schema, ['exchange']), warehouse: local.url },
      );
      const files = await writeRows(duck, table, local.io, tradesSql(1, 40, { exchanges: ['kraken', 'binance'] }), { prefix: 'a' });
      table = await commitStaged(db.pool, db.catalog, await stageAppend(table, local.io, files));
      const byExchange = Object.fromEntries(
        (await readDataFiles(local.io, table.metadata)).map((f) => [String(f.partition.exchange), f.filePath]),
      );
      const positions = (exchange: string, ...pos: number[]) => ({
        content: 1 as const,
        partition: { exchange },
        rows: `SELECT * FROM (VALUES ${pos.map((p) => `('${byExchange[exchange]}', ${p}::BIGINT)`).join(', ')}) v(file_path, pos)`,
      });
      table = await commitDeletes(table, local, 'posdel', [positions('kraken', 0, 1, 2), positions('binance', 5)]);
      const read = () => pyiceberg<PyRead>(ctxLocal, ['read', 'pos.trades']);
      assert.equal((await read()).row_count, 40 - 4, 'pyiceberg applies both delete files of our delete manifest');
      assert.deepEqual((await readTableOverview(local.io, table.metadata)).liveRows.rows, 36n);

      const fix = await writeRows(duck, table, local.io, tradesSql(500, 6, { exchanges: ['binance'] }), { prefix: 'fix' });
      table = await commitStaged(db.pool, db.catalog, await stageReplacePartitions(table, local.io, fix));
      const manifests = await readSnapshotManifests(local.io, currentSnapshot(table.metadata)!);
      const deleteManifests = manifests.filter((m) => m.content === 1);
      assert.deepEqual(
        deleteManifests.map((m) => [m.addedSnapshotId, m.existingFilesCount, m.deletedFilesCount]),
        [[table.metadata['current-snapshot-id'], 1, 1]],
        'the shared delete manifest was written again',
      );
      const after = await read();
      assert.equal(after.row_count, 20 - 3 + 6, 'kraken keeps its three deletes, binance is replaced');
      assert.deepEqual(
        after.entries
          .filter((e) => /posdel/.test(e.path))
          .map((e) => e.status)
          .sort(),
        [0, 2],
      );
      const live = (await readTableOverview(local.io, table.metadata)).liveRows;
      assert.deepEqual([live.rows, live.exact, live.positionDeletes], [BigInt(after.row_count), true, 3n]);
    } finally {
      await local.close();
    }
  });
});

interface HandDelete {
  content: 1 | 2;
  partition: Record<string, string>;
  /** A DuckDB query of the delete rows: (file_path, pos) for position deletes, (trade_id) for equality deletes. */
  rows: string;
}

/**
 * Commits delete files in ONE delete manifest, as a writer like Spark (position) or Flink (equality) would:
 * the parquet files through DuckDB with the spec's field ids, the manifest through our writer.
 */
async function commitDeletes(table: Table, warehouse: Warehouse, tag: string, deletes: HandDelete[]): Promise<Table> {
  const schema = currentSchema(table.metadata);
  const spec = table.metadata['partition-specs'][0];
  const tradeId = schema.fields.find((f) => f.name === 'trade_id')!;
  const snapshotId = newSnapshotId(table.metadata.snapshots.map((s) => s['snapshot-id']));
  const entries: Array<ManifestEntry<DeleteFile>> = [];
  for (const [i, d] of deletes.entries()) {
    const name = `${tag}-${i}.parquet`;
    const path = `${dataLocation(table)}/exchange=${d.partition.exchange}/${name}`;
    const localPath = `${warehouse.url.replace(/^file:\/\//, '')}/${name}`;
    const fieldIds =
      d.content === 1 ? `{file_path: ${DELETE_FILE_PATH_FIELD_ID}, pos: ${DELETE_POS_FIELD_ID}}` : `{trade_id: ${tradeId.id}}`;
    await duck.connection.run(`COPY (${d.rows}) TO '${localPath}' (FORMAT parquet, FIELD_IDS ${fieldIds})`);
    const count = BigInt(
      (await duck.connection.runAndReadAll(`SELECT count(*) AS n FROM '${localPath}'`)).getRowObjectsJS()[0].n as bigint,
    );
    await warehouse.io.write(path, { file: localPath });
    const deleteFile: DeleteFile = {
      content: d.content,
      filePath: path,
      fileFormat: 'PARQUET',
      partition: d.partition,
      recordCount: count,
      fileSizeInBytes: BigInt(await warehouse.io.size(path)),
      columnSizes: new Map(),
      valueCounts: new Map(),
      nullValueCounts: new Map(),
      lowerBounds: new Map(),
      upperBounds: new Map(),
      ...(d.content === 2 ? { equalityIds: [tradeId.id] } : {}),
    };
    entries.push({ status: 1, snapshotId, sequenceNumber: null, fileSequenceNumber: null, dataFile: deleteFile });
  }
  const dir = metadataDirectory(table.metadata);
  const manifestPath = `${dir}/${manifestFileName(tag, 0)}`;
  const bytes = writeManifest(entries, { schema, spec, snapshotId });
  await warehouse.io.createExclusive(manifestPath, bytes);
  const manifest = summarizeManifest(entries, { schema, spec, manifestPath, manifestLength: BigInt(bytes.byteLength), snapshotId });
  assert.equal(manifest.content, 1);
  const parent = currentSnapshot(table.metadata)!;
  const sequenceNumber = table.metadata['last-sequence-number'] + 1n;
  const listPath = `${dir}/${manifestListFileName(snapshotId, tag)}`;
  await warehouse.io.createExclusive(
    listPath,
    writeManifestList([manifest, ...(await readSnapshotManifests(warehouse.io, parent))], {
      snapshotId,
      parentSnapshotId: parent['snapshot-id'],
      sequenceNumber,
    }),
  );
  const { metadata } = addSnapshot(appendMetadataLog(table.metadata, table.metadataLocation), {
    operation: 'delete',
    manifestList: listPath,
    snapshotId,
    addedDataFiles: 0,
    addedRecords: 0n,
    addedFilesSize: 0n,
    changedPartitionCount: new Set(deletes.map((d) => d.partition.exchange)).size,
  });
  // The delete-file totals such a writer records.
  const snap = metadata.snapshots.at(-1)!;
  const sum = (content: 1 | 2) =>
    entries.filter((e) => e.dataFile.content === content).reduce((n, e) => n + Number(e.dataFile.recordCount), 0);
  const before = (key: string) => Number(parent.summary[key] ?? 0);
  snap.summary['added-delete-files'] = String(entries.length);
  snap.summary['total-delete-files'] = String(before('total-delete-files') + entries.length);
  snap.summary['total-position-deletes'] = String(before('total-position-deletes') + sum(1));
  snap.summary['total-equality-deletes'] = String(before('total-equality-deletes') + sum(2));
  const next = nextMetadataFileLocation(table.metadata, table.metadataLocation);
  await warehouse.io.createExclusive(next, stringifyMetadata(metadata));
  await db.catalog.compareAndSetMetadataLocation(db.pool, table.ident, { expected: table.metadataLocation, next });
  return { ident: table.ident, metadataLocation: next, metadata };
}

/** An equality delete file (on trade_id) of two rows in the partition `partition`, as a writer like Flink would commit it. */
function commitEqualityDelete(table: Table, warehouse: Warehouse, partition: Record<string, string>): Promise<Table> {
  return commitDeletes(table, warehouse, `eqdel-${partition.exchange}`, [
    { content: 2, partition, rows: 'SELECT * FROM (VALUES (1::BIGINT), (2::BIGINT)) v(trade_id)' },
  ]);
}
