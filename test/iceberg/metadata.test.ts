import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_PROPERTIES,
  MetadataJsonError,
  addSchema,
  addSnapshot,
  appendMetadataLog,
  currentSchema,
  currentSnapshot,
  defaultSpec,
  expireSnapshots,
  manifestFileName,
  manifestListFileName,
  metadataFileName,
  newSnapshotId,
  newTableMetadata,
  nextMetadataFileLocation,
  parseMetadata,
  parseMetadataFileVersion,
  removeSnapshots,
  snapshotAncestry,
  stringifyMetadata,
  type SnapshotChange,
} from '../../src/iceberg/metadata.js';
import { partitionSpecFromConfig } from '../../src/iceberg/partition.js';
import { evolveSchema, icebergSchemaFromColumns } from '../../src/mapping/clickhouse-to-iceberg.js';
import type { TableMetadata } from '../../src/iceberg/types.js';
import { pythonSkip, runPython } from '../support/python.js';

const columns = [
  { name: 'exchange', type: 'LowCardinality(String)' },
  { name: 'canonical_symbol', type: 'LowCardinality(String)' },
  { name: 'window_start', type: 'DateTime64(3)' },
  { name: 'open_price', type: 'Decimal(18, 8)' },
  { name: 'volume', type: 'Decimal(38, 8)' },
  { name: 'trade_count', type: 'UInt64' },
];
const schema = icebergSchemaFromColumns('k2.ohlcv_1h', columns);
const spec = partitionSpecFromConfig(schema, ['month(window_start)', 'exchange']);
const LOCATION = 's3://warehouse/cold/gold_ohlcv_1h';
const T0 = 1_770_000_000_000;

function fresh(): TableMetadata {
  return newTableMetadata({ location: `${LOCATION}/`, schema, spec, tableUuid: '0b8e4a4e-9b0b-4b53-8d5a-6c7e8f9a0b1c', timestampMs: T0 });
}

const append = (n: number, extra: Partial<SnapshotChange> = {}): SnapshotChange => ({
  operation: 'append',
  manifestList: `${LOCATION}/metadata/snap-${n}.avro`,
  addedDataFiles: n,
  addedRecords: BigInt(n * 1000),
  addedFilesSize: BigInt(n * 4096),
  changedPartitionCount: 1,
  timestampMs: T0 + n * 1000,
  ...extra,
});

describe('new table metadata', () => {
  it('has every field the v2 spec requires, with Iceberg defaults', () => {
    const m = fresh();
    for (const k of [
      'format-version',
      'table-uuid',
      'location',
      'last-sequence-number',
      'last-updated-ms',
      'last-column-id',
      'schemas',
      'current-schema-id',
      'partition-specs',
      'default-spec-id',
      'last-partition-id',
      'sort-orders',
      'default-sort-order-id',
    ])
      assert.ok(k in m, k);
    assert.equal(m['format-version'], 2);
    assert.equal(m.location, LOCATION);
    assert.equal(m['last-sequence-number'], 0n);
    assert.equal(m['last-column-id'], 6);
    assert.equal(m['last-partition-id'], 1001);
    assert.deepEqual(m['sort-orders'], [{ 'order-id': 0, fields: [] }]);
    assert.equal(m['default-sort-order-id'], 0);
    assert.deepEqual(m.properties, { 'write.format.default': 'parquet', 'write.parquet.compression-codec': 'zstd' });
    assert.equal(m['current-snapshot-id'], null);
    assert.deepEqual(currentSchema(m), schema);
    assert.deepEqual(defaultSpec(m), spec);
    assert.equal(currentSnapshot(m), undefined);
    assert.match(
      newTableMetadata({ location: LOCATION, schema, spec })['table-uuid'],
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.equal(newTableMetadata({ location: LOCATION, schema, spec: { 'spec-id': 0, fields: [] } })['last-partition-id'], 999);
    assert.equal(
      newTableMetadata({ location: LOCATION, schema, spec, properties: { 'write.target-file-size-bytes': '1' } }).properties[
        'write.target-file-size-bytes'
      ],
      '1',
    );
    assert.equal(DEFAULT_PROPERTIES['write.format.default'], 'parquet');
  });
});

describe('snapshots', () => {
  it('get random positive 63-bit ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newSnapshotId()));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.ok(id > 0n && id < 2n ** 63n);
  });

  it('chain on main with sequence numbers, refs, the snapshot log and running totals', () => {
    const s1 = addSnapshot(
      fresh(),
      append(1, { snapshotId: 11n, properties: { 'offload.run-id': 'r1', 'offload.watermark': '2026-02-11T00:00:00.000000Z' } }),
    );
    assert.deepEqual(s1.snapshot, {
      'snapshot-id': 11n,
      'sequence-number': 1n,
      'timestamp-ms': T0 + 1000,
      'manifest-list': `${LOCATION}/metadata/snap-1.avro`,
      summary: {
        operation: 'append',
        'added-data-files': '1',
        'added-records': '1000',
        'added-files-size': '4096',
        'changed-partition-count': '1',
        'total-data-files': '1',
        'total-delete-files': '0',
        'total-records': '1000',
        'total-files-size': '4096',
        'total-position-deletes': '0',
        'total-equality-deletes': '0',
        'offload.run-id': 'r1',
        'offload.watermark': '2026-02-11T00:00:00.000000Z',
      },
      'schema-id': 0,
    });
    const s2 = addSnapshot(s1.metadata, append(2, { snapshotId: 2n ** 63n - 1n }));
    const m = s2.metadata;
    assert.equal(s2.snapshot['parent-snapshot-id'], 11n);
    assert.equal(s2.snapshot['sequence-number'], 2n);
    assert.equal(s2.snapshot.summary['total-records'], '3000');
    assert.equal(s2.snapshot.summary['total-data-files'], '3');
    assert.equal(s2.snapshot.summary['total-files-size'], String(3 * 4096));
    assert.equal(m['last-sequence-number'], 2n);
    assert.equal(m['current-snapshot-id'], 2n ** 63n - 1n);
    assert.deepEqual(m.refs, { main: { 'snapshot-id': 2n ** 63n - 1n, type: 'branch' } });
    assert.deepEqual(m['snapshot-log'], [
      { 'timestamp-ms': T0 + 1000, 'snapshot-id': 11n },
      { 'timestamp-ms': T0 + 2000, 'snapshot-id': 2n ** 63n - 1n },
    ]);
    assert.equal(m['last-updated-ms'], T0 + 2000);
    assert.deepEqual(
      snapshotAncestry(m).map((s) => s['snapshot-id']),
      [2n ** 63n - 1n, 11n],
    );
  });

  it('record what an overwrite removed', () => {
    const s1 = addSnapshot(fresh(), append(3, { snapshotId: 1n }));
    const s2 = addSnapshot(s1.metadata, {
      ...append(1, { snapshotId: 2n }),
      operation: 'overwrite',
      deletedDataFiles: 2,
      deletedRecords: 2000n,
      removedFilesSize: 8192n,
      changedPartitionCount: 2,
    });
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(s2.snapshot.summary).filter(([k]) =>
          /deleted|removed|total-(data-files|records|files-size)|operation|changed/.test(k),
        ),
      ),
      {
        operation: 'overwrite',
        'deleted-data-files': '2',
        'deleted-records': '2000',
        'removed-files-size': '8192',
        'changed-partition-count': '2',
        'total-data-files': '2',
        'total-records': '2000',
        'total-files-size': String(3 * 4096 + 4096 - 8192),
      },
    );
  });

  it('leave a total out when the parent does not carry it (another writer)', () => {
    const s1 = addSnapshot(fresh(), append(1, { snapshotId: 1n }));
    delete s1.metadata.snapshots[0].summary['total-records'];
    const s2 = addSnapshot(s1.metadata, append(1, { snapshotId: 2n }));
    assert.equal(s2.snapshot.summary['total-records'], undefined);
    assert.equal(s2.snapshot.summary['total-data-files'], '2');
  });

  it('refuse duplicate ids, standard keys as caller properties, and removals in an append', () => {
    const s1 = addSnapshot(fresh(), append(1, { snapshotId: 1n }));
    assert.throws(() => addSnapshot(s1.metadata, append(1, { snapshotId: 1n })), /already in the table/);
    assert.throws(() => addSnapshot(fresh(), append(1, { properties: { 'total-records': '5' } })), /set by Iceberg/);
    assert.throws(() => addSnapshot(fresh(), append(1, { deletedDataFiles: 1 })), /use overwrite/);
  });
});

describe('metadata log and file names', () => {
  it('records the previous metadata file with its last-updated-ms, keeping the newest 100 (or the property)', () => {
    let m = fresh();
    m = appendMetadataLog(m, `${LOCATION}/metadata/00000-a.metadata.json`);
    assert.deepEqual(m['metadata-log'], [{ 'timestamp-ms': T0, 'metadata-file': `${LOCATION}/metadata/00000-a.metadata.json` }]);
    for (let i = 1; i < 150; i++) m = appendMetadataLog(m, `f${i}`);
    assert.equal(m['metadata-log'].length, 100);
    assert.equal(m['metadata-log'][99]['metadata-file'], 'f149');
    m = appendMetadataLog({ ...m, properties: { ...m.properties, 'write.metadata.previous-versions-max': '3' } }, 'g');
    assert.deepEqual(
      m['metadata-log'].map((e) => e['metadata-file']),
      ['f148', 'f149', 'g'],
    );
  });

  it('names metadata files NNNNN-<uuid>.metadata.json like Java', () => {
    assert.equal(metadataFileName(0, 'u'), '00000-u.metadata.json');
    assert.equal(metadataFileName(123456, 'u'), '123456-u.metadata.json');
    assert.match(metadataFileName(7), /^00007-[0-9a-f-]{36}\.metadata\.json$/);
    assert.equal(parseMetadataFileVersion(`${LOCATION}/metadata/00042-0b8e4a4e-9b0b-4b53-8d5a-6c7e8f9a0b1c.metadata.json`), 42);
    assert.equal(parseMetadataFileVersion('v3.metadata.json'), null);
    assert.match(nextMetadataFileLocation(fresh(), null), new RegExp(`^${LOCATION}/metadata/00000-[0-9a-f-]{36}\\.metadata\\.json$`));
    assert.match(nextMetadataFileLocation(fresh(), `${LOCATION}/metadata/00041-x.metadata.json`), /\/metadata\/00042-/);
    const custom = { ...fresh(), properties: { 'write.metadata.path': 's3://other/meta/' } };
    assert.match(nextMetadataFileLocation(custom, null), /^s3:\/\/other\/meta\/00000-/);
    assert.equal(manifestListFileName(123n, 'c'), 'snap-123-1-c.avro');
    assert.equal(manifestFileName('c', 0), 'c-m0.avro');
  });
});

describe('schema evolution in metadata', () => {
  it('adds the evolved schema as current with the next id and raises last-column-id', () => {
    const m = fresh();
    const evolved = evolveSchema(
      currentSchema(m),
      [...columns, { name: 'vwap', type: 'Decimal(38, 8)' }],
      'k2.ohlcv_1h',
      m['last-column-id'],
    );
    const { metadata, schemaId } = addSchema(m, evolved.schema, T0 + 5);
    assert.equal(schemaId, 1);
    assert.equal(metadata['current-schema-id'], 1);
    assert.equal(metadata['last-column-id'], 7);
    assert.deepEqual(
      metadata.schemas.map((s) => s['schema-id']),
      [0, 1],
    );
    assert.deepEqual(currentSchema(metadata).fields.at(-1), { id: 7, name: 'vwap', required: false, type: 'decimal(38, 8)' });
    // Snapshots record the schema they were written with.
    assert.equal(addSnapshot(metadata, append(1)).snapshot['schema-id'], 1);
    // Going back to an identical schema reuses its id instead of adding a copy.
    const back = addSchema(metadata, schema);
    assert.equal(back.schemaId, 0);
    assert.equal(back.metadata.schemas.length, 2);
  });
});

describe('snapshot expiry', () => {
  function history(): TableMetadata {
    let m = fresh();
    for (let n = 1; n <= 5; n++) m = addSnapshot(m, append(n, { snapshotId: BigInt(n) })).metadata;
    return m;
  }

  it('removes snapshots older than the cutoff, keeping the current one and min-snapshots-to-keep', () => {
    const { metadata, expired } = expireSnapshots(history(), { olderThanMs: T0 + 3500, timestampMs: T0 + 9000 });
    assert.deepEqual(
      expired.map((s) => s['snapshot-id']),
      [1n, 2n, 3n],
    );
    assert.deepEqual(
      metadata.snapshots.map((s) => s['snapshot-id']),
      [4n, 5n],
    );
    assert.deepEqual(
      metadata['snapshot-log'].map((e) => e['snapshot-id']),
      [4n, 5n],
    );
    assert.equal(metadata['current-snapshot-id'], 5n);
    assert.equal(metadata['last-updated-ms'], T0 + 9000);

    const all = expireSnapshots(history(), { olderThanMs: T0 + 99_999 });
    assert.deepEqual(
      all.metadata.snapshots.map((s) => s['snapshot-id']),
      [5n],
      'the current snapshot always stays',
    );
    const keep3 = expireSnapshots(history(), { olderThanMs: T0 + 99_999, minSnapshotsToKeep: 3 });
    assert.deepEqual(
      keep3.metadata.snapshots.map((s) => s['snapshot-id']),
      [3n, 4n, 5n],
    );
    const none = expireSnapshots(history(), { olderThanMs: T0 });
    assert.equal(none.expired.length, 0);
  });

  it('keeps tagged snapshots and drops refs to removed ones; never removes the current snapshot', () => {
    const m = history();
    m.refs.audit = { 'snapshot-id': 2n, type: 'tag' };
    const { metadata } = expireSnapshots(m, { olderThanMs: T0 + 99_999 });
    assert.deepEqual(
      metadata.snapshots.map((s) => s['snapshot-id']),
      [2n, 5n],
    );
    const removed = removeSnapshots(m, [2n]);
    assert.deepEqual(Object.keys(removed.refs), ['main']);
    assert.deepEqual(
      removed['snapshot-log'].map((e) => e['snapshot-id']),
      [3n, 4n, 5n],
    );
    assert.throws(() => removeSnapshots(m, [5n]), /current snapshot/);
  });
});

describe('metadata JSON', () => {
  function committed(): TableMetadata {
    let m = appendMetadataLog(fresh(), `${LOCATION}/metadata/00000-a.metadata.json`);
    m = addSnapshot(m, append(1, { snapshotId: 9_007_199_254_740_993n })).metadata;
    m = addSnapshot(m, append(2, { snapshotId: 2n ** 63n - 1n, properties: { 'offload.run-id': 'run-2' } })).metadata;
    return m;
  }

  it('writes 64-bit ids as exact JSON integers and reads them back as bigint', () => {
    const m = committed();
    const text = stringifyMetadata(m);
    assert.ok(text.includes('"current-snapshot-id":9223372036854775807'), 'bare integer, not a string or a rounded double');
    assert.ok(text.includes('"snapshot-id":9007199254740993'));
    assert.ok(text.includes('"parent-snapshot-id":9007199254740993'));
    assert.ok(text.includes('"last-sequence-number":2'));
    assert.ok(!/"\d{16,}"/.test(text.replace(/"(added|total)-[a-z-]+":"\d+"/g, '')), 'no ids written as strings');
    assert.deepEqual(parseMetadata(text), m);
  });

  it('writes -1 for "no current snapshot" (Java v2) and reads -1 or null as none', () => {
    const text = stringifyMetadata(fresh());
    assert.ok(text.includes('"current-snapshot-id":-1'));
    assert.deepEqual(parseMetadata(text), fresh());
    assert.equal(parseMetadata(text.replace('"current-snapshot-id":-1', '"current-snapshot-id":null'))['current-snapshot-id'], null);
  });

  it('derives refs.main from current-snapshot-id when refs is absent', () => {
    const m = committed();
    const text = stringifyMetadata({ ...m, refs: undefined as unknown as TableMetadata['refs'] });
    assert.deepEqual(parseMetadata(text).refs, { main: { 'snapshot-id': 2n ** 63n - 1n, type: 'branch' } });
  });

  it('keeps any integer a double cannot hold, and reads escapes and floats', () => {
    const text = stringifyMetadata({ ...fresh(), properties: { 'a"\\\n': 'ü' } }).replace(
      '"statistics":[]',
      '"statistics":[{"snapshot-id":12345678901234567890,"x":1.5e3,"y":-0.25}]',
    );
    const m = parseMetadata(text);
    assert.deepEqual(m.statistics, [{ 'snapshot-id': 12345678901234567890n, x: 1500, y: -0.25 }]);
    assert.deepEqual(m.properties, { 'a"\\\n': 'ü' });
  });

  it('names the file and the problem when it cannot be read', () => {
    const where = 's3://w/t/metadata/00001-x.metadata.json';
    assert.throws(
      () => parseMetadata('{"format-version":2', where),
      (e: unknown) => e instanceof MetadataJsonError && e.message.startsWith(`${where}: invalid JSON`),
    );
    assert.throws(
      () => parseMetadata(stringifyMetadata(fresh()).replace('"format-version":2', '"format-version":3'), where),
      /format-version 3 is not supported/,
    );
    const noUuid = stringifyMetadata(fresh()).replace(/"table-uuid":"[^"]*",/, '');
    assert.throws(() => parseMetadata(noUuid, where), /required field "table-uuid" is missing/);
    assert.throws(() => parseMetadata('[1] x', where), /invalid JSON/);
  });

  it('pyiceberg parses what we write, and we parse what pyiceberg writes', { skip: pythonSkip }, () => {
    const m = committed();
    const script = `
import sys, json
from pyiceberg.table.metadata import TableMetadataUtil, new_table_metadata
from pyiceberg.schema import Schema
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
inp = json.load(sys.stdin)
md = TableMetadataUtil.parse_raw(inp['ours'])
cur = md.current_snapshot()
theirs = new_table_metadata(Schema.model_validate(inp['schema']), PartitionSpec.model_validate(inp['spec']), UNSORTED_SORT_ORDER, 's3://w/t', {'k': 'v'})
print(json.dumps({
  'format_version': md.format_version, 'uuid': str(md.table_uuid), 'location': md.location,
  'current_snapshot_id': str(md.current_snapshot_id), 'parent': str(cur.parent_snapshot_id), 'sequence_number': cur.sequence_number,
  'summary': {k: v for k, v in cur.summary.additional_properties.items()}, 'operation': cur.summary.operation.value,
  'snapshot_ids': [str(s.snapshot_id) for s in md.snapshots], 'refs': {k: str(r.snapshot_id) for k, r in md.refs.items()},
  'schema': json.loads(md.schema().model_dump_json()), 'spec': json.loads(md.spec().model_dump_json()),
  'last_column_id': md.last_column_id, 'last_partition_id': md.last_partition_id, 'metadata_log': [e.metadata_file for e in md.metadata_log],
  'snapshot_log': [str(e.snapshot_id) for e in md.snapshot_log], 'properties': md.properties,
  'pyiceberg_written': theirs.model_dump_json(),
}))
`;
    const out = runPython<Record<string, unknown>>(script, { ours: stringifyMetadata(m), schema, spec });
    assert.equal(out.format_version, 2);
    assert.equal(out.uuid, m['table-uuid']);
    assert.equal(out.location, LOCATION);
    assert.equal(out.current_snapshot_id, String(2n ** 63n - 1n));
    assert.equal(out.parent, '9007199254740993');
    assert.equal(out.sequence_number, 2);
    assert.equal(out.operation, 'append');
    assert.equal((out.summary as Record<string, string>)['total-records'], '3000');
    assert.equal((out.summary as Record<string, string>)['offload.run-id'], 'run-2');
    assert.deepEqual(out.snapshot_ids, ['9007199254740993', String(2n ** 63n - 1n)]);
    assert.deepEqual(out.refs, { main: String(2n ** 63n - 1n) });
    assert.deepEqual(out.schema, { ...schema, 'identifier-field-ids': [] }); // pyiceberg spells out the empty list
    assert.deepEqual(out.spec, spec);
    assert.equal(out.last_column_id, 6);
    assert.equal(out.last_partition_id, 1001);
    assert.deepEqual(out.metadata_log, [`${LOCATION}/metadata/00000-a.metadata.json`]);
    assert.deepEqual(out.snapshot_log, ['9007199254740993', String(2n ** 63n - 1n)]);
    assert.deepEqual(out.properties, m.properties);

    const theirs = parseMetadata(out.pyiceberg_written as string, 'pyiceberg new_table_metadata');
    assert.equal(theirs['format-version'], 2);
    assert.equal(theirs.location, 's3://w/t');
    assert.equal(theirs['current-snapshot-id'], null);
    assert.equal(theirs['last-sequence-number'], 0n);
    assert.equal(currentSchema(theirs).fields.length, schema.fields.length);
    assert.deepEqual(
      defaultSpec(theirs).fields.map((f) => [f.name, f.transform]),
      [
        ['window_start_month', 'month'],
        ['exchange', 'identity'],
      ],
    );
    const next = addSnapshot(theirs, append(1, { snapshotId: 5n }));
    assert.equal(next.snapshot['sequence-number'], 1n);
  });
});
