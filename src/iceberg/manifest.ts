// Iceberg v2 manifests and manifest lists (spec "Manifests", "Manifest Lists"): their exact schemas
// with field ids, the Avro files, and the manifest-list summary of a manifest.
import { SchemaError } from '../core/errors.js';
import {
  avroCompatibleName,
  avroSchemaFromStruct,
  readAvroContainer,
  writeAvroContainer,
  type AvroCodec,
  type AvroSchema,
} from './avro.js';
import {
  bytesToUnscaled,
  bytesToUuid,
  decimalRequiredBytes,
  decimalToUnscaled,
  parseDecimalType,
  toBytes,
  unscaledToDecimal,
  unscaledToFixed,
  uuidToBytes,
} from './conversions.js';
import { partitionType, type PartitionValue } from './partition.js';
import type {
  ContentFile,
  DataFile,
  DeleteFile,
  IcebergType,
  ManifestEntry,
  ManifestFile,
  MapType,
  NestedField,
  PartitionSpec,
  PrimitiveType,
  Schema,
  StructType,
} from './types.js';

/** A manifest-list sequence number not yet known: writeManifestList replaces it with the snapshot's. */
export const UNASSIGNED_SEQUENCE_NUMBER = -1n;

// ---------------------------------------------------------------------------------------------
// Schemas (field ids from the spec tables).

const countsMap = (keyId: number, valueId: number, value: PrimitiveType): MapType => ({
  type: 'map',
  'key-id': keyId,
  key: 'int',
  'value-id': valueId,
  value,
  'value-required': true,
});

const req = (id: number, name: string, type: IcebergType): NestedField => ({ id, name, required: true, type });
const opt = (id: number, name: string, type: IcebergType): NestedField => ({ id, name, required: false, type });

/** data_file (v2) with the given partition struct as field 102. */
export function dataFileType(partition: StructType): StructType {
  return {
    type: 'struct',
    fields: [
      req(134, 'content', 'int'),
      req(100, 'file_path', 'string'),
      req(101, 'file_format', 'string'),
      req(102, 'partition', partition),
      req(103, 'record_count', 'long'),
      req(104, 'file_size_in_bytes', 'long'),
      opt(108, 'column_sizes', countsMap(117, 118, 'long')),
      opt(109, 'value_counts', countsMap(119, 120, 'long')),
      opt(110, 'null_value_counts', countsMap(121, 122, 'long')),
      opt(137, 'nan_value_counts', countsMap(138, 139, 'long')),
      opt(125, 'lower_bounds', countsMap(126, 127, 'binary')),
      opt(128, 'upper_bounds', countsMap(129, 130, 'binary')),
      opt(131, 'key_metadata', 'binary'),
      opt(132, 'split_offsets', { type: 'list', 'element-id': 133, element: 'long', 'element-required': true }),
      opt(135, 'equality_ids', { type: 'list', 'element-id': 136, element: 'int', 'element-required': true }),
      opt(140, 'sort_order_id', 'int'),
      opt(143, 'referenced_data_file', 'string'),
    ],
  };
}

/** manifest_entry (v2). */
export function manifestEntryType(partition: StructType): StructType {
  return {
    type: 'struct',
    fields: [
      req(0, 'status', 'int'),
      opt(1, 'snapshot_id', 'long'),
      opt(3, 'sequence_number', 'long'),
      opt(4, 'file_sequence_number', 'long'),
      req(2, 'data_file', dataFileType(partition)),
    ],
  };
}

/** field_summary (element 508 of manifest_file.partitions). */
export const FIELD_SUMMARY_TYPE: StructType = {
  type: 'struct',
  fields: [
    req(509, 'contains_null', 'boolean'),
    opt(518, 'contains_nan', 'boolean'),
    opt(510, 'lower_bound', 'binary'),
    opt(511, 'upper_bound', 'binary'),
  ],
};

/** manifest_file (v2). */
export const MANIFEST_FILE_TYPE: StructType = {
  type: 'struct',
  fields: [
    req(500, 'manifest_path', 'string'),
    req(501, 'manifest_length', 'long'),
    req(502, 'partition_spec_id', 'int'),
    req(517, 'content', 'int'),
    req(515, 'sequence_number', 'long'),
    req(516, 'min_sequence_number', 'long'),
    req(503, 'added_snapshot_id', 'long'),
    req(504, 'added_files_count', 'int'),
    req(505, 'existing_files_count', 'int'),
    req(506, 'deleted_files_count', 'int'),
    req(512, 'added_rows_count', 'long'),
    req(513, 'existing_rows_count', 'long'),
    req(514, 'deleted_rows_count', 'long'),
    opt(507, 'partitions', { type: 'list', 'element-id': 508, element: FIELD_SUMMARY_TYPE, 'element-required': true }),
    opt(519, 'key_metadata', 'binary'),
  ],
};

// ---------------------------------------------------------------------------------------------
// Partition values ↔ Avro data.

function partitionValueToAvro(type: PrimitiveType, value: PartitionValue): unknown {
  if (value === null || value === undefined) return null;
  const dec = parseDecimalType(type);
  if (dec) {
    const unscaled = typeof value === 'bigint' ? value : decimalToUnscaled(String(value), dec.scale);
    return Buffer.from(unscaledToFixed(unscaled, decimalRequiredBytes(dec.precision)));
  }
  switch (type) {
    case 'uuid':
      return Buffer.from(uuidToBytes(String(value)));
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return typeof value === 'bigint' ? value : BigInt(value as number);
    case 'int':
    case 'date':
      return typeof value === 'bigint' ? Number(value) : value;
  }
  return value;
}

function partitionValueFromAvro(type: PrimitiveType, value: unknown): PartitionValue {
  if (value === null || value === undefined) return null;
  const dec = parseDecimalType(type);
  if (dec) return unscaledToDecimal(bytesToUnscaled(value as Buffer), dec.scale);
  if (type === 'uuid') return bytesToUuid(value as Buffer);
  return value as PartitionValue;
}

/** The Iceberg primitive type of an Avro schema (for partition fields written by any Iceberg writer). */
function primitiveFromAvro(schema: AvroSchema, named: Map<string, AvroSchema>): PrimitiveType {
  if (Array.isArray(schema)) {
    const branch = schema.find((s) => s !== 'null');
    if (branch === undefined) throw new SchemaError('partition field of Avro type null');
    return primitiveFromAvro(branch, named);
  }
  if (typeof schema === 'string') {
    const ref = named.get(schema);
    if (ref) return primitiveFromAvro(ref, named);
    const simple: Record<string, PrimitiveType> = {
      boolean: 'boolean',
      int: 'int',
      long: 'long',
      float: 'float',
      double: 'double',
      string: 'string',
      bytes: 'binary',
    };
    const t = simple[schema];
    if (!t) throw new SchemaError(`unexpected Avro type ${schema} in a manifest partition`);
    return t;
  }
  if (typeof schema.name === 'string') named.set(schema.name, schema);
  const logical = schema.logicalType;
  if (logical === 'decimal') return `decimal(${Number(schema.precision)}, ${Number(schema.scale ?? 0)})`;
  if (logical === 'date') return 'date';
  if (logical === 'time-micros') return 'time';
  if (logical === 'timestamp-micros') return schema['adjust-to-utc'] === true ? 'timestamptz' : 'timestamp';
  if (logical === 'uuid') return 'uuid';
  if (schema.type === 'fixed') return `fixed[${Number(schema.size)}]`;
  return primitiveFromAvro(schema.type as AvroSchema, named);
}

/** The partition fields (Avro name, Iceberg name, type) of a manifest, from its own Avro schema. */
function manifestPartitionFields(schema: AvroSchema): Array<{ avroName: string; name: string; type: PrimitiveType }> {
  const named = new Map<string, AvroSchema>();
  const fieldsOf = (s: AvroSchema): Array<Record<string, unknown>> => {
    if (typeof s === 'object' && !Array.isArray(s) && Array.isArray(s.fields)) return s.fields as Array<Record<string, unknown>>;
    throw new SchemaError('manifest Avro schema is not a record');
  };
  // Walk every named type first so references resolve in order of definition.
  const collect = (s: unknown): void => {
    if (Array.isArray(s)) s.forEach(collect);
    else if (s && typeof s === 'object') {
      const o = s as Record<string, unknown>;
      if (typeof o.name === 'string' && (o.type === 'fixed' || o.type === 'record')) named.set(o.name, o as AvroSchema);
      for (const v of Object.values(o)) if (typeof v === 'object') collect(v);
    }
  };
  collect(schema);
  const dataFile = fieldsOf(schema).find((f) => f.name === 'data_file');
  if (!dataFile) throw new SchemaError('manifest has no data_file field');
  const dataFileSchema = typeof dataFile.type === 'string' ? named.get(dataFile.type)! : (dataFile.type as AvroSchema);
  const partition = fieldsOf(dataFileSchema).find((f) => f.name === 'partition');
  if (!partition) throw new SchemaError('manifest data_file has no partition field');
  const partitionSchema = typeof partition.type === 'string' ? named.get(partition.type)! : (partition.type as AvroSchema);
  return fieldsOf(partitionSchema).map((f) => ({
    avroName: f.name as string,
    name: typeof f['iceberg-field-name'] === 'string' ? (f['iceberg-field-name'] as string) : (f.name as string),
    type: primitiveFromAvro(f.type as AvroSchema, named),
  }));
}

// ---------------------------------------------------------------------------------------------
// Manifests.

const mapToAvro = <V>(m: Map<number, V> | undefined, value: (v: V) => unknown): unknown =>
  m === undefined ? null : [...m.entries()].sort((a, b) => a[0] - b[0]).map(([key, v]) => ({ key, value: value(v) }));

const mapFromAvro = <V>(a: unknown, value: (v: unknown) => V): Map<number, V> =>
  new Map(((a as Array<{ key: number; value: unknown }> | null) ?? []).map((kv) => [kv.key, value(kv.value)]));

const bytesOf = (b: unknown): Uint8Array => Uint8Array.from(b as Buffer);

export interface ManifestWriteOptions {
  /** The table schema the manifest is written with. */
  schema: Schema;
  /** The partition spec of every data file in it. */
  spec: PartitionSpec;
  /** Written into ADDED entries whose snapshotId is null (the snapshot being committed). */
  snapshotId?: bigint;
  codec?: AvroCodec;
}

function entryDatum(entry: ManifestEntry<ContentFile>, partition: StructType, opts: ManifestWriteOptions): unknown {
  const f = entry.dataFile;
  if (entry.status !== 1 && (entry.sequenceNumber === null || entry.fileSequenceNumber === null))
    throw new SchemaError(`manifest entry for ${f.filePath}: EXISTING and DELETED entries must carry their sequence numbers`);
  const partitionRecord: Record<string, unknown> = {};
  for (const pf of partition.fields)
    partitionRecord[avroCompatibleName(pf.name)] = partitionValueToAvro(pf.type as PrimitiveType, f.partition[pf.name] ?? null);
  const extra = Object.keys(f.partition).filter((k) => !partition.fields.some((pf) => pf.name === k));
  if (extra.length > 0)
    throw new SchemaError(`data file ${f.filePath} has partition values ${extra.join(', ')} that are not in spec ${opts.spec['spec-id']}`);
  return {
    status: entry.status,
    snapshot_id: entry.snapshotId ?? (entry.status === 1 ? (opts.snapshotId ?? null) : null),
    sequence_number: entry.sequenceNumber,
    file_sequence_number: entry.fileSequenceNumber,
    data_file: {
      content: f.content,
      file_path: f.filePath,
      file_format: f.fileFormat,
      partition: partitionRecord,
      record_count: f.recordCount,
      file_size_in_bytes: f.fileSizeInBytes,
      column_sizes: mapToAvro(f.columnSizes, (v) => v),
      value_counts: mapToAvro(f.valueCounts, (v) => v),
      null_value_counts: mapToAvro(f.nullValueCounts, (v) => v),
      nan_value_counts: mapToAvro(f.nanValueCounts, (v) => v),
      lower_bounds: mapToAvro(f.lowerBounds, (v) => Buffer.from(v)),
      upper_bounds: mapToAvro(f.upperBounds, (v) => Buffer.from(v)),
      key_metadata: null,
      split_offsets: f.splitOffsets ?? null,
      equality_ids: f.content === 2 ? (f.equalityIds ?? null) : null,
      sort_order_id: f.sortOrderId ?? null,
      referenced_data_file: f.content === 1 ? (f.referencedDataFile ?? null) : null,
    },
  };
}

/** 'deletes' when the entries are delete files, 'data' otherwise; a manifest never mixes both (spec). */
function manifestContent(entries: ReadonlyArray<ManifestEntry<ContentFile>>): 'data' | 'deletes' {
  const deletes = entries.filter((e) => e.dataFile.content !== 0).length;
  if (deletes > 0 && deletes < entries.length) throw new SchemaError('a manifest holds either data files or delete files, not both');
  return deletes > 0 ? 'deletes' : 'data';
}

/**
 * Writes a v2 manifest (Avro, deflate) with the header metadata the spec requires: a data manifest, or a
 * delete manifest when the entries are delete files (we only ever rewrite those of other writers).
 */
export function writeManifest(entries: ReadonlyArray<ManifestEntry<ContentFile>>, opts: ManifestWriteOptions): Uint8Array {
  const partition = partitionType(opts.spec, opts.schema);
  const avroSchema = avroSchemaFromStruct(manifestEntryType(partition), 'manifest_entry');
  return writeAvroContainer(
    avroSchema,
    entries.map((e) => entryDatum(e, partition, opts)),
    {
      codec: opts.codec ?? 'deflate',
      metadata: {
        schema: JSON.stringify(opts.schema),
        'schema-id': String(opts.schema['schema-id']),
        'partition-spec': JSON.stringify(opts.spec.fields),
        'partition-spec-id': String(opts.spec['spec-id']),
        'format-version': '2',
        content: manifestContent(entries),
      },
    },
  );
}

export interface ManifestContents {
  /** Data files in a data manifest, delete files in a delete manifest. */
  entries: Array<ManifestEntry<ContentFile>>;
  content: 'data' | 'deletes';
  /** Header metadata: the table schema and partition spec the manifest was written with. */
  schema?: Schema;
  spec?: PartitionSpec;
  formatVersion: number;
  metadata: Record<string, string>;
}

/** Reads a manifest written by us or any Iceberg v2 writer. Sequence numbers stay null where the file has none (see inheritFromManifest). */
export function readManifestFile(bytes: Uint8Array): ManifestContents {
  const { schema: avroSchema, metadata, records } = readAvroContainer(bytes);
  const formatVersion = Number(metadata['format-version'] ?? '1');
  if (formatVersion !== 2)
    throw new SchemaError(`manifest format-version ${metadata['format-version'] ?? '(none)'} is not supported (only 2)`);
  // The header's `content` is required by the spec, yet some writers (ClickHouse's) leave it out: then the entries tell.
  const declared = metadata.content;
  if (declared !== undefined && declared !== 'data' && declared !== 'deletes')
    throw new SchemaError(`manifest content "${declared}" is not supported (only data and deletes)`);
  const content =
    declared ?? (records.some((r) => ((r as { data_file: { content: number } }).data_file.content ?? 0) !== 0) ? 'deletes' : 'data');
  const partitionFields = manifestPartitionFields(avroSchema);
  const entries = records.map((raw): ManifestEntry<ContentFile> => {
    const r = raw as Record<string, unknown>;
    const d = r.data_file as Record<string, unknown>;
    const p = d.partition as Record<string, unknown>;
    const fileContent = d.content as number;
    const format = String(d.file_format).toUpperCase();
    if ((content === 'data') !== (fileContent === 0) || ![0, 1, 2].includes(fileContent))
      throw new SchemaError(`${String(d.file_path)}: content ${fileContent} in a ${content} manifest`);
    if (fileContent === 0 && format !== 'PARQUET')
      throw new SchemaError(`${String(d.file_path)}: file format ${format} is not supported (only PARQUET)`);
    const partition: DataFile['partition'] = {};
    for (const pf of partitionFields) partition[pf.name] = partitionValueFromAvro(pf.type, p[pf.avroName]);
    const common = {
      filePath: d.file_path as string,
      partition,
      recordCount: d.record_count as bigint,
      fileSizeInBytes: d.file_size_in_bytes as bigint,
      columnSizes: mapFromAvro(d.column_sizes, (v) => v as bigint),
      valueCounts: mapFromAvro(d.value_counts, (v) => v as bigint),
      nullValueCounts: mapFromAvro(d.null_value_counts, (v) => v as bigint),
      lowerBounds: mapFromAvro(d.lower_bounds, bytesOf),
      upperBounds: mapFromAvro(d.upper_bounds, bytesOf),
    };
    let dataFile: ContentFile;
    if (fileContent === 0) dataFile = { content: 0, fileFormat: 'PARQUET', ...common } satisfies DataFile;
    else {
      const deleteFile: DeleteFile = { content: fileContent as 1 | 2, fileFormat: format, ...common };
      if (d.equality_ids != null) deleteFile.equalityIds = [...(d.equality_ids as number[])];
      if (d.referenced_data_file != null) deleteFile.referencedDataFile = d.referenced_data_file as string;
      dataFile = deleteFile;
    }
    if (d.nan_value_counts != null) dataFile.nanValueCounts = mapFromAvro(d.nan_value_counts, (v) => v as bigint);
    if (d.split_offsets != null) dataFile.splitOffsets = [...(d.split_offsets as bigint[])];
    if (d.sort_order_id != null) dataFile.sortOrderId = d.sort_order_id as number;
    return {
      status: r.status as ManifestEntry<ContentFile>['status'],
      snapshotId: (r.snapshot_id as bigint | null) ?? null,
      sequenceNumber: (r.sequence_number as bigint | null | undefined) ?? null,
      fileSequenceNumber: (r.file_sequence_number as bigint | null | undefined) ?? null,
      dataFile,
    };
  });
  return {
    entries,
    content,
    schema: metadata.schema ? (JSON.parse(metadata.schema) as Schema) : undefined,
    spec: metadata['partition-spec']
      ? { 'spec-id': Number(metadata['partition-spec-id'] ?? 0), fields: JSON.parse(metadata['partition-spec']) as PartitionSpec['fields'] }
      : undefined,
    formatVersion,
    metadata,
  };
}

export function readManifest(bytes: Uint8Array): Array<ManifestEntry<ContentFile>> {
  return readManifestFile(bytes).entries;
}

/** Fills what a manifest entry leaves null from its manifest-list record (spec "Sequence Number Inheritance"). */
export function inheritFromManifest<F extends ContentFile>(entry: ManifestEntry<F>, manifest: ManifestFile): ManifestEntry<F> {
  const added = entry.status === 1;
  return {
    ...entry,
    snapshotId: entry.snapshotId ?? manifest.addedSnapshotId,
    sequenceNumber: entry.sequenceNumber ?? (added ? manifest.sequenceNumber : null),
    fileSequenceNumber: entry.fileSequenceNumber ?? (added ? manifest.sequenceNumber : null),
  };
}

// ---------------------------------------------------------------------------------------------
// The manifest-list record of a manifest: counts, and per-partition-field summaries.

function compareValues(type: PrimitiveType, a: PartitionValue, b: PartitionValue): number {
  const dec = parseDecimalType(type);
  if (dec) {
    const x = decimalToUnscaled(String(a), dec.scale);
    const y = decimalToUnscaled(String(b), dec.scale);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')); // code point order
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = a as number | bigint;
  const y = b as number | bigint;
  return x === y ? 0 : x < y ? -1 : 1;
}

export interface ManifestSummaryOptions {
  schema: Schema;
  spec: PartitionSpec;
  manifestPath: string;
  manifestLength: bigint;
  /** The snapshot that adds this manifest. */
  snapshotId: bigint;
  /** The snapshot's sequence number; UNASSIGNED_SEQUENCE_NUMBER lets writeManifestList fill it in. */
  sequenceNumber?: bigint;
}

/** The manifest_file record for a manifest holding `entries` (a delete manifest when they are delete files). */
export function summarizeManifest(entries: ReadonlyArray<ManifestEntry<ContentFile>>, opts: ManifestSummaryOptions): ManifestFile {
  const partition = partitionType(opts.spec, opts.schema);
  const seq = opts.sequenceNumber ?? UNASSIGNED_SEQUENCE_NUMBER;
  const count = (status: number): number => entries.filter((e) => e.status === status).length;
  const rows = (status: number): bigint => entries.filter((e) => e.status === status).reduce((s, e) => s + e.dataFile.recordCount, 0n);
  const live = entries.filter((e) => e.status !== 2);
  const liveSeqs = live.map((e) => e.sequenceNumber ?? seq);
  const minSequenceNumber = liveSeqs.length > 0 && liveSeqs.every((s) => s >= 0n) ? liveSeqs.reduce((a, b) => (b < a ? b : a)) : seq;

  const partitions = partition.fields.map((pf) => {
    const type = pf.type as PrimitiveType;
    const values = entries.map((e) => e.dataFile.partition[pf.name] ?? null);
    const isNan = (v: PartitionValue): boolean => typeof v === 'number' && Number.isNaN(v) && (type === 'float' || type === 'double');
    const present = values.filter((v) => v !== null && !isNan(v));
    let lower: PartitionValue = null;
    let upper: PartitionValue = null;
    for (const v of present) {
      if (lower === null || compareValues(type, v, lower) < 0) lower = v;
      if (upper === null || compareValues(type, v, upper) > 0) upper = v;
    }
    return {
      containsNull: values.some((v) => v === null),
      containsNan: values.some(isNan),
      lowerBound: lower === null ? null : toBytes(type, lower),
      upperBound: upper === null ? null : toBytes(type, upper),
    };
  });

  return {
    manifestPath: opts.manifestPath,
    manifestLength: opts.manifestLength,
    partitionSpecId: opts.spec['spec-id'],
    content: manifestContent(entries) === 'deletes' ? 1 : 0,
    sequenceNumber: seq,
    minSequenceNumber,
    addedSnapshotId: opts.snapshotId,
    addedFilesCount: count(1),
    existingFilesCount: count(0),
    deletedFilesCount: count(2),
    addedRowsCount: rows(1),
    existingRowsCount: rows(0),
    deletedRowsCount: rows(2),
    partitions,
  };
}

// ---------------------------------------------------------------------------------------------
// Manifest lists.

export interface ManifestListWriteOptions {
  snapshotId: bigint;
  parentSnapshotId: bigint | null;
  sequenceNumber: bigint;
  codec?: AvroCodec;
}

/** Writes a v2 manifest list; manifests added by this snapshot with an unassigned sequence number get the snapshot's. */
export function writeManifestList(files: ManifestFile[], opts: ManifestListWriteOptions): Uint8Array {
  const records = files.map((m) => {
    const assign = (n: bigint): bigint => {
      if (n >= 0n) return n;
      if (m.addedSnapshotId !== opts.snapshotId)
        throw new SchemaError(`manifest ${m.manifestPath} from snapshot ${m.addedSnapshotId} has no sequence number`);
      return opts.sequenceNumber;
    };
    return {
      manifest_path: m.manifestPath,
      manifest_length: m.manifestLength,
      partition_spec_id: m.partitionSpecId,
      content: m.content,
      sequence_number: assign(m.sequenceNumber),
      min_sequence_number: assign(m.minSequenceNumber),
      added_snapshot_id: m.addedSnapshotId,
      added_files_count: m.addedFilesCount,
      existing_files_count: m.existingFilesCount,
      deleted_files_count: m.deletedFilesCount,
      added_rows_count: m.addedRowsCount,
      existing_rows_count: m.existingRowsCount,
      deleted_rows_count: m.deletedRowsCount,
      partitions:
        m.partitions?.map((p) => ({
          contains_null: p.containsNull,
          contains_nan: p.containsNan ?? null,
          lower_bound: p.lowerBound ? Buffer.from(p.lowerBound) : null,
          upper_bound: p.upperBound ? Buffer.from(p.upperBound) : null,
        })) ?? null,
      key_metadata: null,
    };
  });
  return writeAvroContainer(avroSchemaFromStruct(MANIFEST_FILE_TYPE, 'manifest_file'), records, {
    codec: opts.codec ?? 'deflate',
    metadata: {
      'snapshot-id': String(opts.snapshotId),
      'parent-snapshot-id': opts.parentSnapshotId === null ? 'null' : String(opts.parentSnapshotId),
      'sequence-number': String(opts.sequenceNumber),
      'format-version': '2',
    },
  });
}

export function readManifestList(bytes: Uint8Array): ManifestFile[] {
  const { metadata, records } = readAvroContainer(bytes);
  if (metadata['format-version'] !== '2')
    throw new SchemaError(`manifest list format-version ${metadata['format-version'] ?? '(none)'} is not supported (only 2)`);
  return records.map((raw): ManifestFile => {
    const r = raw as Record<string, unknown>;
    const m: ManifestFile = {
      manifestPath: r.manifest_path as string,
      manifestLength: r.manifest_length as bigint,
      partitionSpecId: r.partition_spec_id as number,
      content: r.content as 0 | 1,
      sequenceNumber: r.sequence_number as bigint,
      minSequenceNumber: r.min_sequence_number as bigint,
      addedSnapshotId: r.added_snapshot_id as bigint,
      addedFilesCount: r.added_files_count as number,
      existingFilesCount: r.existing_files_count as number,
      deletedFilesCount: r.deleted_files_count as number,
      addedRowsCount: r.added_rows_count as bigint,
      existingRowsCount: r.existing_rows_count as bigint,
      deletedRowsCount: r.deleted_rows_count as bigint,
    };
    if (r.partitions != null)
      m.partitions = (r.partitions as Array<Record<string, unknown>>).map((p) => {
        const s: NonNullable<ManifestFile['partitions']>[number] = {
          containsNull: p.contains_null as boolean,
          lowerBound: p.lower_bound == null ? null : bytesOf(p.lower_bound),
          upperBound: p.upper_bound == null ? null : bytesOf(p.upper_bound),
        };
        if (p.contains_nan != null) s.containsNan = p.contains_nan as boolean;
        return s;
      });
    return m;
  });
}
