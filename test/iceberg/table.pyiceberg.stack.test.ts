// Tables written by src/iceberg read back identically in independent readers: pyiceberg (+ pyarrow)
// loads them through the same JDBC catalog in PostgreSQL and the same storage and scans them; DuckDB
// reads the Parquet files pyiceberg plans from our manifests. Interop both ways (pyiceberg appends
// between our commits), replace-partitions, schema evolution and snapshot expiry are each checked by
// pyiceberg. Everything runs on S3 (the local stack's S3 server) and on file://.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CATALOG_NAME } from '../../src/iceberg/catalog.js';
import { currentSchema } from '../../src/iceberg/metadata.js';
import { readDataFiles, readPartitionStats, readReferencedFiles, readTotals, snapshotHistory } from '../../src/iceberg/reader.js';
import {
  commitStaged,
  createTable,
  expireSnapshots,
  loadTable,
  stageAddColumns,
  stageAppend,
  stageReplacePartitions,
  type Table,
} from '../../src/iceberg/table.js';
import type { TableIdentifier } from '../../src/iceberg/types.js';
import {
  canonicalRows,
  EDGE_TRADES_SQL,
  openCatalog,
  openDuck,
  openWarehouse,
  pyiceberg,
  pyicebergSkip,
  schemaJson,
  sortRows,
  tradesSchema,
  tradesSpec,
  tradesSql,
  writeRows,
  type CanonicalRow,
  type CatalogDatabase,
  type PyicebergContext,
  type PyRead,
  type StorageKind,
  type Warehouse,
} from '../support/iceberg-tables.js';
import type { DuckDBSession } from '../../src/iceberg/parquet.js';

const skip = pyicebergSkip;

for (const kind of ['s3', 'file'] as StorageKind[]) {
  describe(`Iceberg tables on ${kind === 's3' ? 'S3 (local stack)' : 'file://'} read by pyiceberg and DuckDB`, { skip }, () => {
    let db: CatalogDatabase;
    let warehouse: Warehouse;
    let duck: DuckDBSession;
    let ctx: PyicebergContext;

    before(async () => {
      db = await openCatalog(`interop_${kind}`);
      warehouse = await openWarehouse(kind);
      duck = await openDuck();
      ctx = { catalogUrl: db.url, catalogName: DEFAULT_CATALOG_NAME, warehouse };
    });
    after(async () => {
      duck?.close();
      await warehouse?.close();
      await db?.close();
    });

    const ident = (name: string): TableIdentifier => ({ namespace: 'cold', name });

    async function newTradesTable(name: string, partitioning?: string[]): Promise<Table> {
      const schema = tradesSchema();
      return createTable(db.catalog, warehouse.io, ident(name), {
        schema,
        spec: tradesSpec(schema, partitioning),
        warehouse: warehouse.url,
        properties: { 'offload.source': 'k2.trades' },
      });
    }

    async function append(table: Table, relation: string, runId: string): Promise<Table> {
      const files = await writeRows(duck, table, warehouse.io, relation, { prefix: runId });
      const staged = await stageAppend(table, warehouse.io, files, { summaryProperties: { 'offload.run-id': runId } });
      return commitStaged(db.pool, db.catalog, staged);
    }

    async function expected(table: Table, ...relations: string[]): Promise<CanonicalRow[]> {
      const schema = currentSchema(table.metadata);
      const all = await Promise.all(relations.map((r) => canonicalRows(duck, schema, r)));
      return sortRows(all.flat());
    }

    test('rows, schema, partitions and summaries agree exactly with what was written', async () => {
      let table = await newTradesTable('trades');
      table = await append(table, EDGE_TRADES_SQL, 'run-1');
      table = await append(table, tradesSql(1, 1500), 'run-2');
      const want = await expected(table, EDGE_TRADES_SQL, tradesSql(1, 1500));
      assert.equal(want.length, 1504);

      const py = await pyiceberg<PyRead>(ctx, ['read', 'cold.trades', '--duckdb']);
      assert.equal(py.metadata_location, table.metadataLocation);
      assert.equal(py.format_version, 2);
      assert.equal(py.row_count, 1504);
      assert.deepEqual(py.schema, schemaJson(currentSchema(table.metadata)), 'names, types, field ids, required/optional');
      assert.deepEqual(
        py.spec.map((f) => [f.name, f.transform, f.source_id, f.field_id]),
        [
          ['exchange_timestamp_day', 'day', 4, 1000],
          ['exchange', 'identity', 2, 1001],
        ],
      );
      assert.deepEqual(sortRows(py.rows), want, 'pyiceberg reads every value as written');
      assert.deepEqual(sortRows(py.duckdb_rows!), want, 'DuckDB reads the data files of our manifests the same');

      // The files pyiceberg plans are exactly our current data files, with the same partition values.
      const ours = await readDataFiles(warehouse.io, table.metadata);
      assert.deepEqual(
        py.files.map((f) => [f.path, f.record_count, f.file_size_in_bytes, f.partition]).sort(),
        ours
          .map((f) => [
            f.filePath,
            Number(f.recordCount),
            Number(f.fileSizeInBytes),
            { exchange_timestamp_day: String(f.partition.exchange_timestamp_day), exchange: f.partition.exchange },
          ])
          .sort(),
      );
      // 3 days × 3 exchanges from the generator, plus the edge rows' 1969-12-31/coinbase, 2026-02-11/binance+kraken (already there), 2026-02-12/kraken.
      const partitions = await readPartitionStats(warehouse.io, table.metadata);
      assert.deepEqual(
        py.partitions.map((p) => [p.partition.exchange_timestamp_day, p.partition.exchange, p.record_count, p.file_count]).sort(),
        partitions
          .map((p) => [String(p.partition.exchange_timestamp_day), p.partition.exchange, Number(p.recordCount), p.fileCount])
          .sort(),
      );
      assert.equal(
        partitions.reduce((s, p) => s + p.recordCount, 0n),
        1504n,
      );
      assert.ok(partitions.some((p) => p.path === 'exchange_timestamp_day=1969-12-31/exchange=coinbase' && p.recordCount === 1n));

      // Snapshots as pyiceberg sees them: two appends, our summaries with the standard totals and our properties.
      assert.deepEqual(
        py.snapshots.map((s) => [
          s.operation,
          s.summary['offload.run-id'],
          s.summary['added-records'],
          s.summary['total-records'],
          s.summary['total-data-files'],
        ]),
        [
          ['append', 'run-1', '4', '4', String(snapshotHistory(table.metadata)[0].summary['total-data-files'])],
          ['append', 'run-2', '1500', '1504', String(ours.length)],
        ],
      );
      assert.equal(py.current_snapshot_id, String(table.metadata['current-snapshot-id']));
      assert.equal((await readTotals(warehouse.io, table.metadata)).records, 1504n);
      assert.equal(py.properties['offload.source'], 'k2.trades');
    });

    test('pyiceberg appends to a table we created, we append again, pyiceberg reads all three commits', async () => {
      // Identity partitions: pyiceberg 0.12 writes time-transformed partitions only with its optional Rust extension.
      let table = await newTradesTable('interop', ['exchange']);
      table = await append(table, tradesSql(1, 300), 'ours-1');

      // pyiceberg's own append, from rows in the canonical form (it converts them to Arrow itself).
      const theirs = await expected(table, tradesSql(10_001, 200));
      const appended = await pyiceberg<{ metadata_location: string; snapshot_id: string }>(ctx, ['append', 'cold.interop'], theirs);
      table = await loadTable(db.catalog, warehouse.io, table.ident);
      assert.equal(table.metadataLocation, appended.metadata_location, 'pyiceberg committed through the same catalog pointer');

      table = await append(table, `SELECT * FROM (${tradesSql(20_001, 100)}) UNION ALL SELECT * FROM (${EDGE_TRADES_SQL})`, 'ours-2');
      const history = snapshotHistory(table.metadata);
      assert.deepEqual(
        history.map((s) => s.operation),
        ['append', 'append', 'append'],
      );
      assert.equal(history[1].snapshotId.toString(), appended.snapshot_id);
      assert.equal(history[2].parentSnapshotId, history[1].snapshotId, 'our append builds on pyiceberg’s');
      assert.equal(history[2].summary['total-records'], '604', 'totals carried on from pyiceberg’s summary');

      const ids = history.map((s) => s.snapshotId.toString());
      const py = await pyiceberg<PyRead>(ctx, ['read', 'cold.interop', ...ids.flatMap((id) => ['--snapshot', id])]);
      const first = await expected(table, tradesSql(1, 300));
      const last = await expected(table, tradesSql(20_001, 100), EDGE_TRADES_SQL);
      assert.deepEqual(sortRows(py.snapshot_rows![ids[0]]), first);
      assert.deepEqual(sortRows(py.snapshot_rows![ids[1]]), sortRows([...first, ...theirs]));
      assert.deepEqual(sortRows(py.snapshot_rows![ids[2]]), sortRows([...first, ...theirs, ...last]));
      assert.equal(py.row_count, 604);
      assert.equal((await readTotals(warehouse.io, table.metadata)).records, 604n);
      const files = await readDataFiles(warehouse.io, table.metadata);
      assert.equal(
        files.filter((f) => f.addedSnapshotId === history[1].snapshotId).reduce((s, f) => s + f.recordCount, 0n),
        200n,
        'our reader sees pyiceberg’s data files',
      );
    });

    test('replace partitions: pyiceberg reads the touched partition replaced and the others untouched', async () => {
      let table = await newTradesTable('replace');
      table = await append(table, tradesSql(1, 600), 'day-all'); // 3 days × 3 exchanges
      table = await append(table, tradesSql(5_001, 90, { days: [1] }), 'day-1-more'); // more on 2026-02-11
      const before = table;
      const beforeFiles = await readDataFiles(warehouse.io, table.metadata);

      // New rows for 2026-02-11 on binance only: that partition's files are replaced, nothing else.
      const replacement = tradesSql(50_001, 40, { days: [1], exchanges: ['binance'] });
      const files = await writeRows(duck, table, warehouse.io, replacement, { prefix: 'fix-1' });
      const staged = await stageReplacePartitions(table, warehouse.io, files, { summaryProperties: { 'offload.run-id': 'fix-1' } });
      table = await commitStaged(db.pool, db.catalog, staged);

      const touched = (day: unknown, exchange: unknown): boolean => Number(day) === 20495 && exchange === 'binance'; // 2026-02-11
      const replaced = beforeFiles.filter((f) => touched(f.partition.exchange_timestamp_day, f.partition.exchange));
      assert.ok(replaced.length >= 2, 'both earlier appends wrote into the replaced partition');
      const all = await expected(table, tradesSql(1, 600), tradesSql(5_001, 90, { days: [1] }));
      const kept = all.filter((r) => !(String(r.exchange_timestamp).startsWith('2026-02-11') && r.exchange === 'binance'));
      const want = sortRows([...kept, ...(await expected(table, replacement))]);

      const py = await pyiceberg<PyRead>(ctx, [
        'read',
        'cold.replace',
        '--duckdb',
        '--snapshot',
        String(before.metadata['current-snapshot-id']),
      ]);
      assert.deepEqual(sortRows(py.rows), want);
      assert.deepEqual(sortRows(py.duckdb_rows!), want);
      assert.deepEqual(
        sortRows(py.snapshot_rows![String(before.metadata['current-snapshot-id'])]),
        all,
        'the previous snapshot still reads the old rows',
      );

      const snapshot = py.snapshots[py.snapshots.length - 1];
      const removedRows = replaced.reduce((s, f) => s + Number(f.recordCount), 0);
      const removedBytes = replaced.reduce((s, f) => s + Number(f.fileSizeInBytes), 0);
      assert.equal(snapshot.operation, 'overwrite');
      assert.equal(snapshot.summary['replace-partitions'], 'true');
      assert.equal(snapshot.summary['added-data-files'], String(files.length));
      assert.equal(snapshot.summary['added-records'], '40');
      assert.equal(snapshot.summary['deleted-data-files'], String(replaced.length));
      assert.equal(snapshot.summary['deleted-records'], String(removedRows));
      assert.equal(snapshot.summary['removed-files-size'], String(removedBytes));
      assert.equal(snapshot.summary['changed-partition-count'], '1');
      assert.equal(snapshot.summary['total-records'], String(690 - removedRows + 40));
      assert.equal(py.row_count, 690 - removedRows + 40);

      // The current snapshot's manifests record the replaced files as DELETED by it, the rest as EXISTING.
      const deletedEntries = py.entries.filter((e) => e.status === 2);
      assert.deepEqual(deletedEntries.map((e) => e.path).sort(), replaced.map((f) => f.filePath).sort());
      assert.ok(deletedEntries.every((e) => e.snapshot_id === snapshot.snapshot_id));
      assert.equal(py.entries.filter((e) => e.status === 1).length, files.length);
      assert.equal(py.entries.filter((e) => e.status === 0).length, beforeFiles.length - replaced.length);
    });

    test('schema evolution: an added column has a new id, is optional, and reads as null in old files', async () => {
      let table = await newTradesTable('evolve', ['day(exchange_timestamp)']);
      table = await append(table, tradesSql(1, 120), 'before');
      const lastColumnId = table.metadata['last-column-id'];
      const staged = await stageAddColumns(table, warehouse.io, [
        { name: 'venue_note', type: 'string' },
        { name: 'fills', type: { type: 'list', 'element-id': 0, element: 'decimal(18, 8)', 'element-required': false } },
      ]);
      table = await commitStaged(db.pool, db.catalog, staged);
      assert.equal(table.metadata['current-schema-id'], 1);
      assert.equal(table.metadata['last-column-id'], lastColumnId + 3);

      const newRows = `SELECT *, 'note ' || trade_id AS venue_note, [CAST(trade_id AS DECIMAL(18, 8)) / 8, NULL] AS fills FROM (${tradesSql(1_001, 60)})`;
      table = await append(table, newRows, 'after');

      const py = await pyiceberg<PyRead>(ctx, ['read', 'cold.evolve', '--duckdb']);
      assert.equal(py.schema_id, 1);
      assert.deepEqual(py.schema, schemaJson(currentSchema(table.metadata)));
      const added = (py.schema as Array<{ id: number; name: string; required: boolean; type: unknown }>).slice(-2);
      assert.deepEqual(added, [
        { id: lastColumnId + 1, name: 'venue_note', required: false, type: 'string' },
        {
          id: lastColumnId + 2,
          name: 'fills',
          required: false,
          type: { type: 'list', 'element-id': lastColumnId + 3, element: 'decimal(18, 8)', 'element-required': false },
        },
      ]);
      assert.deepEqual(
        py.schemas.map((s) => s.schema_id),
        [0, 1],
      );
      assert.deepEqual(
        py.snapshots.map((s) => s.schema_id),
        [0, 1],
        'each snapshot records the schema it was written with',
      );
      const old = (await expected({ ...table, metadata: { ...table.metadata, 'current-schema-id': 0 } }, tradesSql(1, 120))).map((r) => ({
        ...r,
        venue_note: null,
        fills: null,
      }));
      const want = sortRows([...old, ...(await expected(table, newRows))]);
      assert.equal(want.filter((r) => r.venue_note === null).length, 120);
      assert.deepEqual(sortRows(py.rows), want);
      assert.deepEqual(sortRows(py.duckdb_rows!), want, 'DuckDB: old files lack the column, read as null');
    });

    test('snapshot expiry: pyiceberg sees only the kept snapshots, each still readable, and the expired files are gone', async () => {
      let table = await newTradesTable('expire', ['day(exchange_timestamp)']);
      for (let i = 0; i < 3; i++) table = await append(table, tradesSql(1 + i * 100, 100), `append-${i}`);
      // Replace 2026-02-10: the files the first three appends wrote there are needed only by the old snapshots.
      const replacement = tradesSql(9_001, 30, { days: [0] });
      const replacementFiles = await writeRows(duck, table, warehouse.io, replacement, { prefix: 'fix' });
      table = await commitStaged(db.pool, db.catalog, await stageReplacePartitions(table, warehouse.io, replacementFiles));
      table = await append(table, tradesSql(20_001, 50, { days: [2] }), 'append-last');
      assert.equal(table.metadata.snapshots.length, 5);
      const before = await readReferencedFiles(warehouse.io, table.metadata, table.metadataLocation);
      const currentFiles = (await readDataFiles(warehouse.io, table.metadata)).map((f) => f.filePath);

      const result = await expireSnapshots(db.pool, db.catalog, warehouse.io, table.ident, { retainLast: 2 });
      table = result.table;
      assert.equal(result.expired.length, 3);
      assert.equal(table.metadata.snapshots.length, 2);

      const after = await readReferencedFiles(warehouse.io, table.metadata, table.metadataLocation);
      const gone = [...before.manifestLists, ...before.manifests, ...before.dataFiles].filter(
        (f) => !after.manifestLists.includes(f) && !after.manifests.includes(f) && !after.dataFiles.includes(f),
      );
      assert.deepEqual([...result.deletedFiles].sort(), gone.sort(), 'exactly the files only expired snapshots referenced');
      assert.ok(
        result.deletedFiles.some((f) => f.includes('/data/')),
        'the replaced data files went with the snapshots that read them',
      );
      for (const f of result.deletedFiles) assert.equal(await warehouse.io.exists(f), false, `${f} deleted`);
      for (const f of [...after.manifestLists, ...after.manifests, ...after.dataFiles])
        assert.equal(await warehouse.io.exists(f), true, `${f} kept`);
      for (const f of currentFiles) assert.ok(!result.deletedFiles.includes(f), 'nothing the current snapshot reads is deleted');

      const py = await pyiceberg<PyRead>(ctx, ['read', 'cold.expire', '--history']);
      assert.deepEqual(
        py.snapshots.map((s) => s.snapshot_id),
        table.metadata.snapshots.map((s) => String(s['snapshot-id'])),
      );
      assert.deepEqual(
        py.history!.map((h) => [h.snapshot_id, String(h.row_count)]),
        table.metadata.snapshots.map((s) => [String(s['snapshot-id']), s.summary['total-records']]),
        'every kept snapshot reads its total-records',
      );
      const want = sortRows(
        (await expected(table, tradesSql(1, 300), tradesSql(20_001, 50, { days: [2] }), replacement)).filter(
          (r) => !String(r.exchange_timestamp).startsWith('2026-02-10') || Number(r.trade_id) > 9_000,
        ),
      );
      assert.deepEqual(sortRows(py.rows), want);
    });
  });
}
