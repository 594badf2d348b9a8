import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAvroContainer, writeAvroContainer, avroSchemaFromStruct, avroCompatibleName } from '../../src/iceberg/avro.js';
import { toBytes } from '../../src/iceberg/conversions.js';
import {
  UNASSIGNED_SEQUENCE_NUMBER,
  inheritFromManifest,
  readManifest,
  readManifestFile,
  readManifestList,
  summarizeManifest,
  writeManifest,
  writeManifestList,
} from '../../src/iceberg/manifest.js';
import { partitionSpecFromConfig } from '../../src/iceberg/partition.js';
import { icebergSchemaFromColumns } from '../../src/mapping/clickhouse-to-iceberg.js';
import type { DataFile, ManifestEntry, ManifestFile } from '../../src/iceberg/types.js';
import { pythonSkip, runPython } from '../support/python.js';

const schema = icebergSchemaFromColumns('k2.silver_trades', [
  { name: 'timestamp', type: "DateTime64(6, 'UTC')" },
  { name: 'exchange', type: 'LowCardinality(String)' },
  { name: 'price', type: 'Decimal128(8)' },
  { name: 'trade_date', type: 'Date' },
  { name: 'qty', type: 'Int32' },
  { name: 'message_id', type: 'UUID' },
  { name: 'is_valid', type: 'Bool' },
  { name: 'trade_conditions', type: 'Array(String)' },
  { name: 'vendor_data', type: 'Map(String, String)' },
]);
const spec = partitionSpecFromConfig(schema, ['day(timestamp)', 'exchange', 'price', 'month(trade_date)', 'qty', 'message_id', 'is_valid']);

// Ids beyond 2^53 on purpose: a JS number would silently change them.
const SNAPSHOT = 6_917_529_027_641_081_857n;
const OLD_SNAPSHOT = 9_007_199_254_740_993n;

function dataFile(path: string, partition: DataFile['partition'], records: bigint): DataFile {
  return {
    content: 0,
    filePath: path,
    fileFormat: 'PARQUET',
    partition,
    recordCount: records,
    fileSizeInBytes: records * 100n + 4n,
    columnSizes: new Map([
      [1, 800n],
      [3, 12_000_000_000n],
    ]),
    valueCounts: new Map([
      [1, records],
      [3, records],
    ]),
    nullValueCounts: new Map([
      [1, 0n],
      [3, 1n],
    ]),
    nanValueCounts: new Map(),
    lowerBounds: new Map([
      [1, toBytes('timestamptz', 1_770_778_800_000_000n)],
      [2, toBytes('string', 'binance')],
    ]),
    upperBounds: new Map([
      [1, toBytes('timestamptz', 1_770_782_399_999_999n)],
      [2, toBytes('string', 'kraken')],
    ]),
    splitOffsets: [4n, 9_007_199_254_740_995n],
    sortOrderId: 0,
  };
}

const entries: ManifestEntry[] = [
  {
    status: 1,
    snapshotId: null,
    sequenceNumber: null,
    fileSequenceNumber: null,
    dataFile: dataFile(
      's3://warehouse/cold/silver_trades/data/timestamp_day=2026-02-11/exchange=binance/a.parquet',
      {
        timestamp_day: 20495,
        exchange: 'binance',
        price: '64123.12345678',
        trade_date_month: 673,
        qty: -5,
        message_id: 'f79c3e09-677c-4bbd-a479-3f349cb785e7',
        is_valid: true,
      },
      1000n,
    ),
  },
  {
    status: 1,
    snapshotId: SNAPSHOT,
    sequenceNumber: null,
    fileSequenceNumber: null,
    dataFile: dataFile(
      's3://warehouse/cold/silver_trades/data/timestamp_day=1969-12-31/exchange=null/b.parquet',
      { timestamp_day: -1, exchange: null, price: '-0.00000001', trade_date_month: null, qty: null, message_id: null, is_valid: false },
      1n,
    ),
  },
  {
    status: 0,
    snapshotId: OLD_SNAPSHOT,
    sequenceNumber: 3n,
    fileSequenceNumber: 4n,
    dataFile: dataFile(
      's3://warehouse/cold/silver_trades/data/timestamp_day=2026-02-12/exchange=kraken/c.parquet',
      {
        timestamp_day: 20496,
        exchange: 'kraken',
        price: '99999999999999999999999999999.99999999',
        trade_date_month: 700,
        qty: 2147483647,
        message_id: null,
        is_valid: null,
      },
      9_007_199_254_740_993n,
    ),
  },
];

describe('Avro schemas with Iceberg field ids', () => {
  it('put a field-id on every record field and an element-id on every array', () => {
    const manifest = writeManifest(entries, { schema, spec, snapshotId: SNAPSHOT });
    const list = writeManifestList([], { snapshotId: SNAPSHOT, parentSnapshotId: null, sequenceNumber: 1n });
    for (const bytes of [manifest, list]) {
      const { schema: avroSchema } = readAvroContainer(bytes);
      let fields = 0;
      const visit = (s: unknown): void => {
        if (Array.isArray(s)) {
          for (const x of s) visit(x);
          return;
        }
        if (!s || typeof s !== 'object') return;
        const o = s as Record<string, unknown>;
        if (o.type === 'record') {
          for (const f of o.fields as Array<Record<string, unknown>>) {
            assert.equal(typeof f['field-id'], 'number', `field ${String(f.name)} of ${String(o.name)} has no field-id`);
            fields++;
            visit(f.type);
          }
        } else if (o.type === 'array') {
          if (o.logicalType !== 'map') assert.equal(typeof o['element-id'], 'number', 'array without element-id');
          visit(o.items);
        }
      };
      visit(avroSchema);
      assert.ok(fields > 10);
    }
  });

  it('name records like the Java writer: manifest_entry, r2, r102, k117_v118, manifest_file, r508', () => {
    const text = JSON.stringify(readAvroContainer(writeManifest(entries, { schema, spec, snapshotId: SNAPSHOT })).schema);
    for (const name of ['"manifest_entry"', '"r2"', '"r102"', '"k117_v118"', '"k126_v127"', '"k129_v130"'])
      assert.ok(text.includes(`"name":${name}`), name);
    const listText = JSON.stringify(
      readAvroContainer(writeManifestList([], { snapshotId: 1n, parentSnapshotId: null, sequenceNumber: 1n })).schema,
    );
    for (const name of ['"manifest_file"', '"r508"']) assert.ok(listText.includes(`"name":${name}`), name);
  });

  it('write decimals as fixed of the precision size and partition ids from the spec', () => {
    const s = readAvroContainer(writeManifest([], { schema, spec })).schema as Record<string, unknown>;
    const text = JSON.stringify(s);
    assert.ok(text.includes('{"type":"fixed","name":"decimal_38_8","size":16,"logicalType":"decimal","precision":38,"scale":8}'), text);
    assert.ok(text.includes('"name":"timestamp_day","type":["null",{"type":"int","logicalType":"date"}],"default":null,"field-id":1000'));
    assert.ok(text.includes('{"type":"fixed","name":"uuid_fixed","size":16,"logicalType":"uuid"}'));
  });

  it('escape names Avro does not allow, keeping the Iceberg name', () => {
    assert.equal(avroCompatibleName('9lives'), '_9lives');
    assert.equal(avroCompatibleName('a-b c'), 'a_x2Db_x20c');
    const s = avroSchemaFromStruct({ type: 'struct', fields: [{ id: 1, name: 'a-b', required: true, type: 'int' }] }, 'x');
    assert.deepEqual(s.fields, [{ name: 'a_x2Db', type: 'int', 'field-id': 1, 'iceberg-field-name': 'a-b' }]);
  });

  it('round-trips 64-bit longs exactly as bigint, uncompressed or deflated', () => {
    const sch = {
      type: 'record',
      name: 'r',
      fields: [
        { name: 'n', type: 'long' },
        { name: 'o', type: ['null', 'long'], default: null },
      ],
    };
    const values = [
      { n: -(2n ** 63n), o: 2n ** 63n - 1n },
      { n: 9_007_199_254_740_993n, o: null },
    ];
    for (const codec of ['null', 'deflate'] as const) {
      const read = readAvroContainer(writeAvroContainer(sch, values, { codec, metadata: { k: 'v' } }));
      assert.deepEqual(
        read.records.map((r) => ({ ...(r as object) })),
        values,
      );
      assert.equal(read.metadata['avro.codec'], codec);
      assert.equal(read.metadata.k, 'v');
    }
    assert.throws(() => writeAvroContainer(sch, [{ n: 1, o: null }]), 'JS numbers are refused for longs');
  });

  it('rejects files that are not Avro containers', () => {
    assert.throws(() => readAvroContainer(Uint8Array.of(1, 2, 3, 4, 5)), /bad magic/);
    const good = writeManifest(entries, { schema, spec, snapshotId: SNAPSHOT });
    assert.throws(() => readAvroContainer(good.slice(0, good.length - 3)), /truncated|sync/);
  });
});

describe('manifests', () => {
  it('carry the header metadata the spec requires', () => {
    const { metadata } = readAvroContainer(writeManifest(entries, { schema, spec, snapshotId: SNAPSHOT }));
    assert.deepEqual(JSON.parse(metadata.schema), schema);
    assert.equal(metadata['schema-id'], '0');
    assert.deepEqual(JSON.parse(metadata['partition-spec']), spec.fields);
    assert.equal(metadata['partition-spec-id'], '0');
    assert.equal(metadata['format-version'], '2');
    assert.equal(metadata.content, 'data');
    assert.equal(metadata['avro.codec'], 'deflate');
  });

  it('round-trip every field; ADDED entries get the writer snapshot id, sequence numbers stay null', () => {
    const read = readManifestFile(writeManifest(entries, { schema, spec, snapshotId: SNAPSHOT }));
    assert.deepEqual(read.schema, schema);
    assert.deepEqual(read.spec, spec);
    assert.deepEqual(read.entries, [{ ...entries[0], snapshotId: SNAPSHOT }, entries[1], entries[2]]);
  });

  it('round-trip an unpartitioned manifest', () => {
    const unpartitioned = { 'spec-id': 0, fields: [] };
    const e: ManifestEntry = { ...entries[0], snapshotId: SNAPSHOT, dataFile: { ...entries[0].dataFile, partition: {} } };
    assert.deepEqual(readManifest(writeManifest([e], { schema, spec: unpartitioned })), [e]);
  });

  it('refuse EXISTING entries without sequence numbers and partition values outside the spec', () => {
    assert.throws(() => writeManifest([{ ...entries[2], sequenceNumber: null }], { schema, spec }), /must carry their sequence numbers/);
    assert.throws(
      () =>
        writeManifest([{ ...entries[0], dataFile: { ...entries[0].dataFile, partition: { ...entries[0].dataFile.partition, nope: 1 } } }], {
          schema,
          spec,
        }),
      /partition values nope/,
    );
  });

  it('inherit snapshot id and sequence numbers from the manifest list for ADDED entries only', () => {
    const mf = { addedSnapshotId: SNAPSHOT, sequenceNumber: 7n } as ManifestFile;
    assert.deepEqual(inheritFromManifest(entries[0], mf), {
      ...entries[0],
      snapshotId: SNAPSHOT,
      sequenceNumber: 7n,
      fileSequenceNumber: 7n,
    });
    assert.deepEqual(inheritFromManifest(entries[2], mf), entries[2]);
  });
});

describe('manifest lists', () => {
  const manifestBytes = writeManifest(entries, { schema, spec, snapshotId: SNAPSHOT });
  const summary = summarizeManifest(entries, {
    schema,
    spec,
    manifestPath: 's3://warehouse/cold/silver_trades/metadata/m0.avro',
    manifestLength: BigInt(manifestBytes.length),
    snapshotId: SNAPSHOT,
  });

  it('summarize a manifest: counts by status, rows, min sequence number, partition bounds', () => {
    assert.equal(summary.addedFilesCount, 2);
    assert.equal(summary.existingFilesCount, 1);
    assert.equal(summary.deletedFilesCount, 0);
    assert.equal(summary.addedRowsCount, 1001n);
    assert.equal(summary.existingRowsCount, 9_007_199_254_740_993n);
    assert.equal(summary.deletedRowsCount, 0n);
    assert.equal(summary.sequenceNumber, UNASSIGNED_SEQUENCE_NUMBER);
    assert.equal(summary.minSequenceNumber, UNASSIGNED_SEQUENCE_NUMBER); // ADDED entries inherit the new sequence number
    assert.equal(summary.partitionSpecId, 0);
    assert.deepEqual(summary.partitions, [
      { containsNull: false, containsNan: false, lowerBound: toBytes('date', -1), upperBound: toBytes('date', 20496) },
      { containsNull: true, containsNan: false, lowerBound: toBytes('string', 'binance'), upperBound: toBytes('string', 'kraken') },
      {
        containsNull: false,
        containsNan: false,
        lowerBound: toBytes('decimal(38, 8)', '-0.00000001'),
        upperBound: toBytes('decimal(38, 8)', '99999999999999999999999999999.99999999'),
      },
      { containsNull: true, containsNan: false, lowerBound: toBytes('int', 673), upperBound: toBytes('int', 700) },
      { containsNull: true, containsNan: false, lowerBound: toBytes('int', -5), upperBound: toBytes('int', 2147483647) },
      {
        containsNull: true,
        containsNan: false,
        lowerBound: toBytes('uuid', 'f79c3e09-677c-4bbd-a479-3f349cb785e7'),
        upperBound: toBytes('uuid', 'f79c3e09-677c-4bbd-a479-3f349cb785e7'),
      },
      { containsNull: true, containsNan: false, lowerBound: toBytes('boolean', false), upperBound: toBytes('boolean', true) },
    ]);
    const onlyExisting = summarizeManifest([entries[2]], {
      schema,
      spec,
      manifestPath: 'x',
      manifestLength: 1n,
      snapshotId: SNAPSHOT,
      sequenceNumber: 9n,
    });
    assert.equal(onlyExisting.minSequenceNumber, 3n);
  });

  it('round-trip, assigning the snapshot sequence number to manifests it adds, and carry the header metadata', () => {
    const old: ManifestFile = {
      ...summary,
      manifestPath: 's3://w/old.avro',
      addedSnapshotId: OLD_SNAPSHOT,
      sequenceNumber: 3n,
      minSequenceNumber: 2n,
    };
    delete old.partitions;
    const bytes = writeManifestList([summary, old], { snapshotId: SNAPSHOT, parentSnapshotId: OLD_SNAPSHOT, sequenceNumber: 5n });
    assert.deepEqual(readManifestList(bytes), [{ ...summary, sequenceNumber: 5n, minSequenceNumber: 5n }, old]);
    const { metadata } = readAvroContainer(bytes);
    assert.equal(metadata['snapshot-id'], String(SNAPSHOT));
    assert.equal(metadata['parent-snapshot-id'], String(OLD_SNAPSHOT));
    assert.equal(metadata['sequence-number'], '5');
    assert.equal(metadata['format-version'], '2');
    const first = readAvroContainer(writeManifestList([summary], { snapshotId: SNAPSHOT, parentSnapshotId: null, sequenceNumber: 1n }));
    assert.equal(first.metadata['parent-snapshot-id'], 'null');
  });

  it('refuse an unassigned sequence number on a manifest from another snapshot', () => {
    assert.throws(
      () =>
        writeManifestList([{ ...summary, addedSnapshotId: OLD_SNAPSHOT }], {
          snapshotId: SNAPSHOT,
          parentSnapshotId: null,
          sequenceNumber: 1n,
        }),
      /has no sequence number/,
    );
  });
});

describe('independent readers (fastavro, pyiceberg)', { skip: pythonSkip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'iceberg-manifest-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const hex = (b: Uint8Array | null | undefined): string | null => (b ? Buffer.from(b).toString('hex') : null);
  const mapJson = <V>(m: Map<number, V> | undefined, f: (v: V) => unknown): unknown =>
    m === undefined ? null : [...m].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, f(v)]);

  function writeFiles(): { manifestPath: string; listPath: string; summary: ManifestFile } {
    const manifestPath = join(dir, 'manifest-0.avro');
    const listPath = join(dir, 'snap-1.avro');
    const manifest = writeManifest(entries, { schema, spec, snapshotId: SNAPSHOT });
    writeFileSync(manifestPath, manifest);
    const summary = summarizeManifest(entries, {
      schema,
      spec,
      manifestPath,
      manifestLength: BigInt(manifest.length),
      snapshotId: SNAPSHOT,
      sequenceNumber: 5n,
    });
    writeFileSync(listPath, writeManifestList([summary], { snapshotId: SNAPSHOT, parentSnapshotId: OLD_SNAPSHOT, sequenceNumber: 5n }));
    return { manifestPath, listPath, summary };
  }

  it('fastavro reads every field of the manifest and the manifest list as we wrote them', () => {
    const { manifestPath, listPath, summary } = writeFiles();
    const script = `
import sys, json, fastavro, datetime, decimal, uuid
def enc(v):
    if isinstance(v, bytes): return v.hex()
    if isinstance(v, bool): return v
    if isinstance(v, int): return str(v)
    if isinstance(v, datetime.date): return (v - datetime.date(1970, 1, 1)).days
    if isinstance(v, decimal.Decimal): return str(v)
    if isinstance(v, uuid.UUID): return str(v)
    if isinstance(v, dict): return {k: enc(x) for k, x in v.items()}
    if isinstance(v, list): return [enc(x) for x in v]
    return v
paths = json.load(sys.stdin)
out = {}
for name, path in paths.items():
    with open(path, 'rb') as fh:
        r = fastavro.reader(fh)
        out[name] = {'meta': {k: v for k, v in r.metadata.items() if k != 'avro.schema'}, 'codec': r.codec, 'records': [enc(x) for x in r]}
print(json.dumps(out))
`;
    type Read = { meta: Record<string, string>; codec: string; records: Array<Record<string, unknown>> };
    const theirs = runPython<{ manifest: Read; list: Read }>(script, { manifest: manifestPath, list: listPath });

    assert.equal(theirs.manifest.codec, 'deflate');
    assert.deepEqual(theirs.manifest.meta, {
      schema: JSON.stringify(schema),
      'schema-id': '0',
      'partition-spec': JSON.stringify(spec.fields),
      'partition-spec-id': '0',
      'format-version': '2',
      content: 'data',
      'avro.codec': 'deflate',
    });
    const expectedEntries = entries.map((e) => {
      const f = e.dataFile;
      const p = f.partition;
      return {
        status: String(e.status),
        snapshot_id: String(e.snapshotId ?? SNAPSHOT),
        sequence_number: e.sequenceNumber === null ? null : String(e.sequenceNumber),
        file_sequence_number: e.fileSequenceNumber === null ? null : String(e.fileSequenceNumber),
        data_file: {
          content: '0',
          file_path: f.filePath,
          file_format: 'PARQUET',
          partition: {
            timestamp_day: p.timestamp_day, // fastavro turns logical dates into dates; enc() turns them back into days
            exchange: p.exchange,
            price: p.price === '-0.00000001' ? '-1E-8' : p.price,
            trade_date_month: p.trade_date_month === null ? null : String(p.trade_date_month),
            qty: p.qty === null ? null : String(p.qty),
            message_id: p.message_id === null ? null : String(p.message_id).replace(/-/g, ''), // fastavro leaves fixed uuids as bytes
            is_valid: p.is_valid,
          },
          record_count: String(f.recordCount),
          file_size_in_bytes: String(f.fileSizeInBytes),
          column_sizes: (mapJson(f.columnSizes, String) as Array<[number, string]>).map(([k, v]) => ({ key: String(k), value: v })),
          value_counts: (mapJson(f.valueCounts, String) as Array<[number, string]>).map(([k, v]) => ({ key: String(k), value: v })),
          null_value_counts: (mapJson(f.nullValueCounts, String) as Array<[number, string]>).map(([k, v]) => ({
            key: String(k),
            value: v,
          })),
          nan_value_counts: [],
          lower_bounds: (mapJson(f.lowerBounds, hex) as Array<[number, string]>).map(([k, v]) => ({ key: String(k), value: v })),
          upper_bounds: (mapJson(f.upperBounds, hex) as Array<[number, string]>).map(([k, v]) => ({ key: String(k), value: v })),
          key_metadata: null,
          split_offsets: f.splitOffsets!.map(String),
          equality_ids: null,
          sort_order_id: '0',
          referenced_data_file: null,
        },
      };
    });
    assert.deepEqual(theirs.manifest.records, expectedEntries);

    assert.deepEqual(theirs.list.meta, {
      'snapshot-id': String(SNAPSHOT),
      'parent-snapshot-id': String(OLD_SNAPSHOT),
      'sequence-number': '5',
      'format-version': '2',
      'avro.codec': 'deflate',
    });
    assert.deepEqual(theirs.list.records, [
      {
        manifest_path: manifestPath,
        manifest_length: String(summary.manifestLength),
        partition_spec_id: '0',
        content: '0',
        sequence_number: '5',
        min_sequence_number: '3',
        added_snapshot_id: String(SNAPSHOT),
        added_files_count: '2',
        existing_files_count: '1',
        deleted_files_count: '0',
        added_rows_count: '1001',
        existing_rows_count: String(9_007_199_254_740_993n),
        deleted_rows_count: '0',
        partitions: summary.partitions!.map((p) => ({
          contains_null: p.containsNull,
          contains_nan: p.containsNan,
          lower_bound: hex(p.lowerBound),
          upper_bound: hex(p.upperBound),
        })),
        key_metadata: null,
      },
    ]);
  });

  it('pyiceberg reads the manifest list and its manifest, inheriting sequence numbers', () => {
    const { listPath } = writeFiles();
    const script = `
import sys, json
from pyiceberg.manifest import read_manifest_list
from pyiceberg.io.pyarrow import PyArrowFileIO
io = PyArrowFileIO()
out = []
for mf in read_manifest_list(io.new_input(json.load(sys.stdin))):
    entries = []
    for e in mf.fetch_manifest_entry(io, discard_deleted=False):
        f = e.data_file
        entries.append({'status': int(e.status), 'snapshot_id': str(e.snapshot_id), 'sequence_number': str(e.sequence_number),
            'file_sequence_number': str(e.file_sequence_number), 'file_path': f.file_path, 'format': str(f.file_format.name),
            'partition': [str(v) if v is not None else None for v in f.partition], 'record_count': str(f.record_count),
            'file_size': str(f.file_size_in_bytes), 'column_sizes': {str(k): str(v) for k, v in f.column_sizes.items()},
            'lower_bounds': {str(k): v.hex() for k, v in f.lower_bounds.items()}, 'split_offsets': [str(x) for x in f.split_offsets],
            'sort_order_id': f.sort_order_id})
    out.append({'path': mf.manifest_path, 'spec_id': mf.partition_spec_id, 'sequence_number': str(mf.sequence_number),
        'added_snapshot_id': str(mf.added_snapshot_id), 'added_files': mf.added_files_count, 'existing_files': mf.existing_files_count,
        'added_rows': str(mf.added_rows_count), 'partitions': [[p.contains_null, p.contains_nan, p.lower_bound.hex() if p.lower_bound else None] for p in mf.partitions],
        'entries': entries})
print(json.dumps(out))
`;
    type Entry = {
      status: number;
      snapshot_id: string;
      sequence_number: string;
      file_sequence_number: string;
      file_path: string;
      format: string;
      partition: Array<string | null>;
      record_count: string;
      file_size: string;
      column_sizes: Record<string, string>;
      lower_bounds: Record<string, string>;
      split_offsets: string[];
      sort_order_id: number;
    };
    const [theirs] = runPython<
      Array<{
        path: string;
        spec_id: number;
        sequence_number: string;
        added_snapshot_id: string;
        added_files: number;
        existing_files: number;
        added_rows: string;
        partitions: unknown[];
        entries: Entry[];
      }>
    >(script, listPath);
    assert.equal(theirs.spec_id, 0);
    assert.equal(theirs.sequence_number, '5');
    assert.equal(theirs.added_snapshot_id, String(SNAPSHOT));
    assert.equal(theirs.added_files, 2);
    assert.equal(theirs.existing_files, 1);
    assert.equal(theirs.added_rows, '1001');
    assert.equal(theirs.partitions.length, spec.fields.length);
    assert.deepEqual(
      theirs.entries.map((e) => [e.status, e.snapshot_id, e.sequence_number, e.file_sequence_number]),
      [
        [1, String(SNAPSHOT), '5', '5'],
        [1, String(SNAPSHOT), '5', '5'],
        [0, String(OLD_SNAPSHOT), '3', '4'],
      ],
    );
    theirs.entries.forEach((e, i) => {
      const f = entries[i].dataFile;
      assert.equal(e.file_path, f.filePath);
      assert.equal(e.format, 'PARQUET');
      assert.equal(e.record_count, String(f.recordCount));
      assert.equal(e.file_size, String(f.fileSizeInBytes));
      assert.deepEqual(e.column_sizes, { 1: '800', 3: '12000000000' });
      assert.deepEqual(e.lower_bounds, Object.fromEntries([...f.lowerBounds].map(([k, v]) => [String(k), hex(v)])));
      assert.deepEqual(e.split_offsets, f.splitOffsets!.map(String));
      assert.equal(e.sort_order_id, 0);
    });
    assert.deepEqual(theirs.entries[0].partition, [
      '20495',
      'binance',
      '64123.12345678',
      '673',
      '-5',
      'f79c3e09-677c-4bbd-a479-3f349cb785e7',
      'True',
    ]);
    assert.deepEqual(theirs.entries[1].partition, ['-1', null, '-1E-8', null, null, null, 'False']);
  });

  it('we read a manifest and manifest list written by pyiceberg', () => {
    const manifestPath = join(dir, 'py-manifest.avro');
    const listPath = join(dir, 'py-list.avro');
    const script = `
import sys, json, uuid
from decimal import Decimal
from pyiceberg.schema import Schema
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.typedef import Record
from pyiceberg.manifest import write_manifest, write_manifest_list, ManifestEntry, ManifestEntryStatus, DataFile, DataFileContent, FileFormat
from pyiceberg.io.pyarrow import PyArrowFileIO
inp = json.load(sys.stdin)
io = PyArrowFileIO()
schema = Schema.model_validate(inp['schema'])
spec = PartitionSpec.model_validate(inp['spec'])
df = DataFile.from_args(content=DataFileContent.DATA, file_path='s3://w/t/data/x.parquet', file_format=FileFormat.PARQUET,
    partition=Record(20495, 'binance', Decimal('1.50000000'), 673, 7, uuid.UUID('f79c3e09-677c-4bbd-a479-3f349cb785e7'), True),
    record_count=42, file_size_in_bytes=4242, column_sizes={1: 10}, value_counts={1: 42}, null_value_counts={1: 0},
    nan_value_counts={}, lower_bounds={2: b'binance'}, upper_bounds={2: b'kraken'}, split_offsets=[4], sort_order_id=0)
df.spec_id = 0
with write_manifest(2, spec, schema, io.new_output(inp['manifest']), int(inp['snapshot']), 'deflate') as w:
    w.add(ManifestEntry.from_args(status=ManifestEntryStatus.ADDED, snapshot_id=int(inp['snapshot']), data_file=df))
mf = w.to_manifest_file()
with write_manifest_list(2, io.new_output(inp['list']), int(inp['snapshot']), None, 8, 'deflate') as lw:
    lw.add_manifests([mf])
print(json.dumps(True))
`;
    runPython(script, { schema, spec, manifest: manifestPath, list: listPath, snapshot: String(SNAPSHOT) });
    const [mf] = readManifestList(readFileSync(listPath));
    assert.equal(mf.manifestPath, manifestPath);
    assert.equal(mf.addedSnapshotId, SNAPSHOT);
    assert.equal(mf.sequenceNumber, 8n);
    assert.equal(mf.addedFilesCount, 1);
    assert.equal(mf.addedRowsCount, 42n);
    assert.equal(mf.partitions?.length, spec.fields.length);
    assert.deepEqual(mf.partitions?.[1].lowerBound, toBytes('string', 'binance'));
    const [entry] = readManifest(readFileSync(manifestPath)).map((e) => inheritFromManifest(e, mf));
    assert.equal(entry.status, 1);
    assert.equal(entry.snapshotId, SNAPSHOT);
    assert.equal(entry.sequenceNumber, 8n);
    assert.deepEqual(entry.dataFile.partition, {
      timestamp_day: 20495,
      exchange: 'binance',
      price: '1.50000000',
      trade_date_month: 673,
      qty: 7,
      message_id: 'f79c3e09-677c-4bbd-a479-3f349cb785e7',
      is_valid: true,
    });
    assert.equal(entry.dataFile.recordCount, 42n);
    assert.deepEqual(entry.dataFile.columnSizes, new Map([[1, 10n]]));
    assert.deepEqual(entry.dataFile.upperBounds, new Map([[2, toBytes('string', 'kraken')]]));
    assert.deepEqual(entry.dataFile.splitOffsets, [4n]);
  });
});
