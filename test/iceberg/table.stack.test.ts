// Table operations on the real stack (PostgreSQL catalog, the stack's S3): create, staged appends committed in
// the caller's own transaction, restage after a lost compare-and-set without rewriting data, replace
// partitions, schema changes, snapshot expiry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CommitConflict } from '../../src/core/errors.js';
import { withTransaction } from '../../src/state/pool.js';
import { CatalogError } from '../../src/iceberg/catalog.js';
import { readManifestList } from '../../src/iceberg/manifest.js';
import type { DuckDBSession } from '../../src/iceberg/parquet.js';
import { readDataFiles, readTotals, snapshotHistory } from '../../src/iceberg/reader.js';
import {
  commitStaged,
  commitWithRetry,
  createTable,
  dataLocation,
  discardStaged,
  expireSnapshots,
  loadTable,
  restage,
  stageAddColumns,
  stageAppend,
  stageReplacePartitions,
  stageSchemaChange,
  MetadataMissing,
  StagedAlreadyCommitted,
  type Table,
} from '../../src/iceberg/table.js';
import type { TableIdentifier } from '../../src/iceberg/types.js';
import { SchemaError } from '../../src/core/errors.js';
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
  db = await openCatalog('table');
  warehouse = await openWarehouse('s3');
  duck = await openDuck();
  await db.pool.query(`CREATE TABLE test_watermarks (table_name text PRIMARY KEY, upper bigint NOT NULL)`);
});
after(async () => {
  duck?.close();
  await warehouse?.close();
  await db?.close();
});

let tableCounter = 0;
async function newTable(partitioning?: string[]): Promise<Table> {
  const schema = tradesSchema();
  const ident: TableIdentifier = { namespace: 'cold', name: `trades_${++tableCounter}` };
  return createTable(db.catalog, warehouse.io, ident, { schema, spec: tradesSpec(schema, partitioning), warehouse: warehouse.url });
}

async function dataFilesOf(table: Table, relation: string, prefix: string) {
  return writeRows(duck, table, warehouse.io, relation, { prefix });
}

async function append(table: Table, relation: string, prefix: string): Promise<Table> {
  const files = await dataFilesOf(table, relation, prefix);
  return commitStaged(
    db.pool,
    db.catalog,
    await stageAppend(table, warehouse.io, files, { summaryProperties: { 'offload.run-id': prefix } }),
  );
}

async function objectsUnder(prefix: string): Promise<string[]> {
  return (await warehouse.io.list(prefix)).map((f) => f.uri).sort();
}

describe('createTable and loadTable', () => {
  test('writes version 0 of the metadata once, registers it, and refuses a second create (or loads it when asked)', async () => {
    const schema = tradesSchema();
    const ident = { namespace: 'cold', name: 'created' };
    const table = await createTable(db.catalog, warehouse.io, ident, {
      schema,
      spec: tradesSpec(schema),
      warehouse: warehouse.url,
      properties: { owner: 'offload' },
    });
    assert.match(table.metadataLocation, new RegExp(`^${warehouse.url}/cold/created/metadata/00000-[0-9a-f-]{36}\\.metadata\\.json$`));
    assert.equal(table.metadata.location, `${warehouse.url}/cold/created`);
    assert.equal(table.metadata['current-snapshot-id'], null);
    assert.equal(table.metadata.properties.owner, 'offload');
    assert.deepEqual((await db.catalog.loadTable(ident))?.metadataLocation, table.metadataLocation);
    assert.deepEqual(await loadTable(db.catalog, warehouse.io, ident), table);

    await assert.rejects(
      createTable(db.catalog, warehouse.io, ident, { schema, warehouse: warehouse.url }),
      (err: unknown) => err instanceof CatalogError && err.reason === 'table-exists' && /cold\.created already exists/.test(err.message),
    );
    const again = await createTable(db.catalog, warehouse.io, ident, { schema, warehouse: warehouse.url, ifExists: 'load' });
    assert.equal(again.metadataLocation, table.metadataLocation);
    assert.deepEqual(await objectsUnder(`${warehouse.url}/cold/created/`), [table.metadataLocation], 'no stray metadata file');
  });

  test('concurrent creates of one table: one registers it, the others load it', async () => {
    const schema = tradesSchema();
    const ident = { namespace: 'cold', name: 'raced' };
    const tables = await Promise.all(
      Array.from({ length: 4 }, () => createTable(db.catalog, warehouse.io, ident, { schema, warehouse: warehouse.url, ifExists: 'load' })),
    );
    assert.equal(new Set(tables.map((t) => t.metadataLocation)).size, 1);
    assert.deepEqual(
      await objectsUnder(`${warehouse.url}/cold/raced/`),
      [tables[0].metadataLocation],
      'the losers removed their metadata files',
    );
  });

  test('a metadata file the catalog names and the store lost: the table, the file and what to check, in one line', async () => {
    const table = await newTable();
    await warehouse.io.delete(table.metadataLocation);
    await assert.rejects(loadTable(db.catalog, warehouse.io, table.ident), (err: unknown) => {
      assert.ok(err instanceof MetadataMissing, String(err));
      assert.equal(
        err.message,
        `Iceberg table ${table.ident.namespace}.${table.ident.name}: its metadata file ${table.metadataLocation} does not exist, ` +
          'though the catalog names it — were the warehouse objects deleted, or do OFFLOAD_WAREHOUSE and AWS_ENDPOINT_URL_S3 name ' +
          'another store than the one it was written to?',
      );
      return true;
    });
  });

  test('loading a table that does not exist names it', async () => {
    await assert.rejects(
      loadTable(db.catalog, warehouse.io, { namespace: 'cold', name: 'missing' }),
      (err: unknown) => err instanceof CatalogError && err.reason === 'no-such-table' && /cold\.missing does not exist/.test(err.message),
    );
  });
});

describe('staged appends', () => {
  test('staging writes the next version and leaves the catalog alone; the caller commits it with its watermark in one transaction', async () => {
    const table = await newTable();
    const files = await dataFilesOf(table, tradesSql(1, 300), 'run-a');
    const staged = await stageAppend(table, warehouse.io, files, {
      summaryProperties: { 'offload.run-id': 'run-a', 'offload.watermark': '2026-02-12T23:59:59Z' },
    });
    assert.equal(staged.base, table.metadataLocation);
    assert.match(staged.next, /\/metadata\/00001-[0-9a-f-]{36}\.metadata\.json$/);
    assert.equal((await db.catalog.loadTable(table.ident))?.metadataLocation, table.metadataLocation, 'the catalog did not move');
    assert.ok(await warehouse.io.exists(staged.next));

    const snapshot = staged.metadata.snapshots[0];
    assert.equal(snapshot['snapshot-id'], staged.snapshotId);
    assert.equal(snapshot['sequence-number'], 1n);
    assert.deepEqual(snapshot.summary, {
      operation: 'append',
      'added-data-files': String(files.length),
      'added-records': '300',
      'added-files-size': String(files.reduce((s, f) => s + f.fileSizeInBytes, 0n)),
      'changed-partition-count': String(files.length), // one file per partition here
      'total-data-files': String(files.length),
      'total-delete-files': '0',
      'total-records': '300',
      'total-files-size': String(files.reduce((s, f) => s + f.fileSizeInBytes, 0n)),
      'total-position-deletes': '0',
      'total-equality-deletes': '0',
      'offload.run-id': 'run-a',
      'offload.watermark': '2026-02-12T23:59:59Z',
    });

    // A transaction that fails after the compare-and-set moves neither the pointer nor the watermark.
    await assert.rejects(
      withTransaction(db.pool, async (tx) => {
        await db.catalog.compareAndSetMetadataLocation(tx, staged.ident, { expected: staged.base, next: staged.next });
        await tx.query(`INSERT INTO test_watermarks VALUES ('a', 300)`);
        throw new Error('killed before COMMIT');
      }),
      /killed before COMMIT/,
    );
    assert.equal((await db.catalog.loadTable(table.ident))?.metadataLocation, table.metadataLocation);
    assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM test_watermarks WHERE table_name = 'a'`)).rows[0].n, 0);

    await withTransaction(db.pool, async (tx) => {
      await db.catalog.compareAndSetMetadataLocation(tx, staged.ident, { expected: staged.base, next: staged.next });
      await tx.query(`INSERT INTO test_watermarks VALUES ('a', 300)`);
    });
    const loaded = await loadTable(db.catalog, warehouse.io, table.ident);
    assert.equal(loaded.metadataLocation, staged.next);
    assert.deepEqual(loaded.metadata, staged.metadata);
    assert.equal((await db.pool.query(`SELECT upper::int FROM test_watermarks WHERE table_name = 'a'`)).rows[0].upper, 300);
  });

  test('a fast append adds one manifest and carries the previous ones; ids, parents and sequence numbers chain', async () => {
    let table = await newTable();
    table = await append(table, tradesSql(1, 200), 'one');
    table = await append(table, tradesSql(201, 100), 'two');
    table = await append(table, tradesSql(301, 50), 'three');
    const history = snapshotHistory(table.metadata);
    assert.deepEqual(
      history.map((s) => [s.sequenceNumber, s.summary['offload.run-id'], s.summary['added-records'], s.summary['total-records']]),
      [
        [1n, 'one', '200', '200'],
        [2n, 'two', '100', '300'],
        [3n, 'three', '50', '350'],
      ],
    );
    assert.equal(history[1].parentSnapshotId, history[0].snapshotId);
    assert.equal(history[2].parentSnapshotId, history[1].snapshotId);
    assert.ok(history[2].isCurrent);
    const manifests = readManifestList(await warehouse.io.read(history[2].manifestList));
    assert.deepEqual(
      manifests.map((m) => [m.addedSnapshotId, m.sequenceNumber, m.addedRowsCount]),
      [
        [history[2].snapshotId, 3n, 50n],
        [history[1].snapshotId, 2n, 100n],
        [history[0].snapshotId, 1n, 200n],
      ],
      'the new manifest first, then the parent’s, untouched',
    );
    assert.equal(table.metadata['metadata-log'].length, 3);
    assert.deepEqual(await readTotals(warehouse.io, table.metadata), {
      records: 350n,
      dataFiles: BigInt((await readDataFiles(warehouse.io, table.metadata)).length),
      filesSizeBytes: (await readDataFiles(warehouse.io, table.metadata)).reduce((s, f) => s + f.fileSizeInBytes, 0n),
      source: 'summary',
    });
  });

  test('refuses nothing to append, a file given twice, and partition values that do not fit the spec', async () => {
    const table = await newTable();
    const files = await dataFilesOf(table, tradesSql(1, 20), 'bad');
    await assert.rejects(
      stageAppend(table, warehouse.io, []),
      (e: unknown) => e instanceof SchemaError && /nothing to commit/.test(e.message),
    );
    await assert.rejects(stageAppend(table, warehouse.io, [files[0], files[0]]), /is given twice/);
    await assert.rejects(
      stageAppend(table, warehouse.io, [{ ...files[0], partition: { exchange: 'binance' } }]),
      /has partition fields \(exchange\) but the table's partition spec has \(exchange, exchange_timestamp_day\)/,
    );
    await assert.rejects(stageAppend(table, warehouse.io, files, { summaryProperties: { 'total-records': '1' } }), /set by Iceberg/);
    assert.deepEqual(
      await objectsUnder(`${table.metadata.location}/metadata/`),
      [table.metadataLocation],
      'a refused staging leaves no file behind',
    );
  });
});

describe('restage after a lost compare-and-set', () => {
  test('builds on the winner’s version with the same data files and manifest: nothing is written again under data/', async () => {
    let table = await newTable();
    table = await append(table, tradesSql(1, 100), 'first');
    const winnerFiles = await dataFilesOf(table, tradesSql(1_001, 70), 'winner');
    const loserFiles = await dataFilesOf(table, tradesSql(2_001, 40), 'loser');
    const winner = await stageAppend(table, warehouse.io, winnerFiles, { summaryProperties: { 'offload.run-id': 'winner' } });
    const loser = await stageAppend(table, warehouse.io, loserFiles, { summaryProperties: { 'offload.run-id': 'loser' } });
    assert.equal(loser.base, winner.base);
    await commitStaged(db.pool, db.catalog, winner);

    const conflict = await commitStaged(db.pool, db.catalog, loser).then(
      () => assert.fail('the loser committed'),
      (err: unknown) => err,
    );
    assert.ok(conflict instanceof CommitConflict);
    assert.equal(conflict.expected, loser.base);
    assert.equal(conflict.actual, winner.next);

    const dataBefore = await objectsUnder(`${dataLocation(table)}/`);
    const metadataBefore = await objectsUnder(`${table.metadata.location}/metadata/`);
    const again = await restage(db.catalog, warehouse.io, loser);
    assert.deepEqual(await objectsUnder(`${dataLocation(table)}/`), dataBefore, 'no data file written or removed');
    assert.equal(again.base, winner.next);
    assert.equal(again.attempt, 2);
    assert.equal(again.snapshotId, loser.snapshotId, 'the snapshot keeps its id');
    assert.ok(again.change.kind === 'append' && loser.change.kind === 'append');
    assert.deepEqual(
      again.change.dataFiles.map((f) => f.filePath),
      loserFiles.map((f) => f.filePath),
      'the same data file paths',
    );
    assert.equal(again.change.addedManifest.manifestPath, loser.change.addedManifest.manifestPath, 'the same manifest');
    const metadataAfter = await objectsUnder(`${table.metadata.location}/metadata/`);
    for (const f of loser.attemptFiles) assert.ok(!metadataAfter.includes(f), `superseded ${f} removed`);
    assert.deepEqual(
      metadataAfter.filter((f) => !metadataBefore.includes(f)).sort(),
      [...again.attemptFiles].sort(),
      'only a new manifest list and metadata file',
    );

    table = await commitStaged(db.pool, db.catalog, again);
    assert.deepEqual(
      snapshotHistory(table.metadata).map((s) => [s.summary['offload.run-id'], s.sequenceNumber, s.summary['total-records']]),
      [
        ['first', 1n, '100'],
        ['winner', 2n, '170'],
        ['loser', 3n, '210'],
      ],
    );
    const files = await readDataFiles(warehouse.io, table.metadata);
    assert.deepEqual(
      files
        .filter((f) => f.addedSnapshotId === loser.snapshotId)
        .map((f) => [f.filePath, f.sequenceNumber])
        .sort(),
      loserFiles.map((f) => [f.filePath, 3n]).sort(),
      'the reused manifest’s entries inherit the new sequence number',
    );
    assert.equal(
      files.reduce((s, f) => s + f.recordCount, 0n),
      210n,
    );
  });

  test('an ambiguous commit that went through is not built again', async () => {
    const table = await newTable();
    const staged = await stageAppend(table, warehouse.io, await dataFilesOf(table, tradesSql(1, 10), 'once'));
    await commitStaged(db.pool, db.catalog, staged);
    await assert.rejects(
      restage(db.catalog, warehouse.io, staged),
      (e: unknown) => e instanceof StagedAlreadyCommitted && /already committed/.test(e.message),
    );
    // … also when another writer has committed on top of it since.
    const later = await append(await loadTable(db.catalog, warehouse.io, table.ident), tradesSql(11, 5), 'later');
    assert.equal(later.metadata.snapshots.length, 2);
    await assert.rejects(restage(db.catalog, warehouse.io, staged), StagedAlreadyCommitted);
  });

  test('five writers staging on one version all land exactly once with commitWithRetry', async () => {
    const table = await newTable(['exchange']);
    const batches = await Promise.all(Array.from({ length: 5 }, (_, i) => dataFilesOf(table, tradesSql(1 + i * 1000, 30 + i), `w${i}`)));
    const staged = await Promise.all(
      batches.map((files, i) => stageAppend(table, warehouse.io, files, { summaryProperties: { 'offload.run-id': `w${i}` } })),
    );
    await Promise.all(staged.map((s) => commitWithRetry(db.pool, db.catalog, warehouse.io, s, { maxAttempts: 6 })));
    const final = await loadTable(db.catalog, warehouse.io, table.ident);
    const history = snapshotHistory(final.metadata);
    assert.equal(history.length, 5);
    assert.deepEqual(
      history.map((s) => s.sequenceNumber),
      [1n, 2n, 3n, 4n, 5n],
    );
    assert.deepEqual(history.map((s) => s.summary['offload.run-id']).sort(), ['w0', 'w1', 'w2', 'w3', 'w4']);
    assert.equal(history[4].summary['total-records'], String(30 + 31 + 32 + 33 + 34));
    const files = await readDataFiles(warehouse.io, final.metadata);
    assert.deepEqual(
      files.map((f) => f.filePath).sort(),
      batches
        .flat()
        .map((f) => f.filePath)
        .sort(),
      'every data file once',
    );
  });

  test('a restaged replace-partitions also replaces what a concurrent append put in its partitions', async () => {
    let table = await newTable(['exchange']);
    table = await append(table, tradesSql(1, 90), 'base'); // binance, kraken, coinbase: 30 each
    const replacement = await dataFilesOf(table, tradesSql(5_001, 12, { exchanges: ['kraken'] }), 'fix');
    const staged = await stageReplacePartitions(table, warehouse.io, replacement, { summaryProperties: { 'offload.run-id': 'fix' } });
    // Meanwhile another writer appends to kraken and binance.
    await append(table, tradesSql(9_001, 20, { exchanges: ['kraken', 'binance'] }), 'concurrent');
    await assert.rejects(commitStaged(db.pool, db.catalog, staged), CommitConflict);
    table = await commitStaged(db.pool, db.catalog, await restage(db.catalog, warehouse.io, staged));
    const current = snapshotHistory(table.metadata).at(-1)!;
    assert.equal(current.operation, 'overwrite');
    assert.equal(current.summary['deleted-records'], '40', 'kraken’s 30 first rows and the 10 appended concurrently');
    assert.equal(current.summary['total-records'], String(90 + 20 - 40 + 12));
    const byExchange = new Map<string, bigint>();
    for (const f of await readDataFiles(warehouse.io, table.metadata))
      byExchange.set(String(f.partition.exchange), (byExchange.get(String(f.partition.exchange)) ?? 0n) + f.recordCount);
    assert.deepEqual(Object.fromEntries(byExchange), { binance: 40n, coinbase: 30n, kraken: 12n });
  });

  test('a caller that gives up discards what it staged', async () => {
    const table = await newTable();
    const files = await dataFilesOf(table, tradesSql(1, 10), 'given-up');
    const staged = await stageAppend(table, warehouse.io, files);
    await discardStaged(warehouse.io, staged, { dataFiles: true });
    assert.deepEqual(await objectsUnder(`${table.metadata.location}/`), [table.metadataLocation]);
  });
});

describe('replace partitions and schema changes', () => {
  test('replacing the partitions of an unpartitioned table replaces all of its data', async () => {
    let table = await newTable([]);
    table = await append(table, tradesSql(1, 50), 'a');
    table = await append(table, tradesSql(51, 50), 'b');
    const files = await dataFilesOf(table, tradesSql(1_001, 7), 'all-new');
    table = await commitStaged(db.pool, db.catalog, await stageReplacePartitions(table, warehouse.io, files));
    const s = snapshotHistory(table.metadata).at(-1)!;
    assert.deepEqual(
      [
        s.operation,
        s.summary['deleted-data-files'],
        s.summary['deleted-records'],
        s.summary['added-records'],
        s.summary['total-records'],
        s.summary['total-data-files'],
      ],
      ['overwrite', '2', '100', '7', '7', '1'],
    );
    assert.deepEqual(
      (await readDataFiles(warehouse.io, table.metadata)).map((f) => f.filePath),
      files.map((f) => f.filePath),
    );
  });

  test('added columns get ids above last-column-id, are optional, and cannot reuse a name', async () => {
    let table = await newTable();
    const last = table.metadata['last-column-id'];
    const staged = await stageAddColumns(table, warehouse.io, [
      { name: 'note', type: 'string', doc: 'free text' },
      { name: 'attrs', type: { type: 'map', 'key-id': 1, key: 'string', 'value-id': 2, value: 'long', 'value-required': false } },
    ]);
    assert.equal(staged.snapshotId, null);
    table = await commitStaged(db.pool, db.catalog, staged);
    const schema = table.metadata.schemas.find((s) => s['schema-id'] === table.metadata['current-schema-id'])!;
    assert.equal(schema['schema-id'], 1);
    assert.deepEqual(schema.fields.slice(-2), [
      { id: last + 1, name: 'note', required: false, type: 'string', doc: 'free text' },
      {
        id: last + 2,
        name: 'attrs',
        required: false,
        type: { type: 'map', 'key-id': last + 3, key: 'string', 'value-id': last + 4, value: 'long', 'value-required': false },
      },
    ]);
    assert.equal(table.metadata['last-column-id'], last + 4);
    assert.deepEqual(table.metadata.schemas[0].fields, tradesSchema().fields, 'schema 0 is kept as it was');
    await assert.rejects(stageAddColumns(table, warehouse.io, [{ name: 'price', type: 'long' }]), /column "price" already exists/);
    await assert.rejects(stageSchemaChange(table, warehouse.io, { makeOptional: ['nope'] }), /cannot make "nope" optional: no such column/);

    const relaxed = await commitStaged(db.pool, db.catalog, await stageSchemaChange(table, warehouse.io, { makeOptional: ['price'] }));
    assert.equal(relaxed.metadata['current-schema-id'], 2);
    assert.equal(relaxed.metadata.schemas[2].fields.find((f) => f.name === 'price')!.required, false);
  });

  test('a restaged schema change takes ids above the winner’s columns', async () => {
    const table = await newTable();
    const a = await stageAddColumns(table, warehouse.io, [{ name: 'a', type: 'int' }]);
    const b = await stageAddColumns(table, warehouse.io, [{ name: 'b', type: 'int' }]);
    await commitStaged(db.pool, db.catalog, a);
    await assert.rejects(commitStaged(db.pool, db.catalog, b), CommitConflict);
    const final = await commitStaged(db.pool, db.catalog, await restage(db.catalog, warehouse.io, b));
    const fields = final.metadata.schemas.at(-1)!.fields.slice(-2);
    const last = table.metadata['last-column-id'];
    assert.deepEqual(
      fields.map((f) => [f.name, f.id]),
      [
        ['a', last + 1],
        ['b', last + 2],
      ],
    );
  });
});

describe('expireSnapshots', () => {
  test('by age: snapshots older than the cut go, the current one always stays', async () => {
    let table = await newTable(['exchange']);
    table = await append(table, tradesSql(1, 30), 'old-1');
    table = await append(table, tradesSql(31, 30), 'old-2');
    await new Promise((r) => setTimeout(r, 20));
    const cut = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    table = await append(table, tradesSql(61, 30), 'new-1');

    const result = await expireSnapshots(db.pool, db.catalog, warehouse.io, table.ident, { olderThanMs: cut });
    assert.deepEqual(result.expired.length, 2);
    assert.deepEqual(
      snapshotHistory(result.table.metadata).map((s) => s.summary['offload.run-id']),
      ['new-1'],
    );
    // Appends only: every data file is still live in the current snapshot; only the two manifest lists go.
    assert.equal(result.deletedFiles.length, 2);
    assert.ok(result.deletedFiles.every((f) => /\/snap-\d+-\d+-[0-9a-f-]+\.avro$/.test(f)));
    assert.equal((await readTotals(warehouse.io, result.table.metadata)).records, 90n);
    assert.equal(
      (await readDataFiles(warehouse.io, result.table.metadata)).reduce((s, f) => s + f.recordCount, 0n),
      90n,
    );

    // Everything is already younger than the cut now: nothing to do, nothing committed.
    const again = await expireSnapshots(db.pool, db.catalog, warehouse.io, table.ident, { olderThanMs: cut });
    assert.deepEqual(again.expired, []);
    assert.equal(again.table.metadataLocation, result.table.metadataLocation);
  });

  test('retainLast keeps the newest N; the current snapshot can never be expired', async () => {
    let table = await newTable(['exchange']);
    for (let i = 0; i < 4; i++) table = await append(table, tradesSql(1 + i * 10, 10), `r${i}`);
    const result = await expireSnapshots(db.pool, db.catalog, warehouse.io, table.ident, { retainLast: 1, deleteFiles: false });
    assert.equal(result.expired.length, 3);
    assert.deepEqual(result.deletedFiles, []);
    assert.deepEqual(
      snapshotHistory(result.table.metadata).map((s) => [s.summary['offload.run-id'], s.isCurrent]),
      [['r3', true]],
    );
    await assert.rejects(expireSnapshots(db.pool, db.catalog, warehouse.io, table.ident, {}), /give retainLast, olderThanMs or both/);
    await assert.rejects(
      expireSnapshots(db.pool, db.catalog, warehouse.io, table.ident, { retainLast: 0 }),
      /retainLast must be a whole number ≥ 1/,
    );
  });
});
