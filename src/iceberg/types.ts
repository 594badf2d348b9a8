// The Iceberg table-format model, in the JSON shapes of the spec (format/spec.md, "Appendix C: JSON
// serialization"), so metadata files serialize without translation. Shared by every src/iceberg module.

export type PrimitiveType =
  | 'boolean'
  | 'int'
  | 'long'
  | 'float'
  | 'double'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'string'
  | 'uuid'
  | 'binary'
  | `decimal(${number}, ${number})`
  | `fixed[${number}]`;

export interface ListType {
  type: 'list';
  'element-id': number;
  element: IcebergType;
  'element-required': boolean;
}

export interface MapType {
  type: 'map';
  'key-id': number;
  key: IcebergType;
  'value-id': number;
  value: IcebergType;
  'value-required': boolean;
}

export interface StructType {
  type: 'struct';
  fields: NestedField[];
}

export type IcebergType = PrimitiveType | ListType | MapType | StructType;

export interface NestedField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergType;
  doc?: string;
}

export interface Schema {
  type: 'struct';
  'schema-id': number;
  'identifier-field-ids'?: number[];
  fields: NestedField[];
}

export type Transform = 'identity' | 'year' | 'month' | 'day' | 'hour' | 'void' | `bucket[${number}]` | `truncate[${number}]`;

export interface PartitionField {
  'source-id': number;
  'field-id': number; // partition field ids start at 1000
  name: string;
  transform: Transform;
}

export interface PartitionSpec {
  'spec-id': number;
  fields: PartitionField[];
}

export interface SortOrder {
  'order-id': number;
  fields: Array<{ transform: Transform; 'source-id': number; direction: 'asc' | 'desc'; 'null-order': 'nulls-first' | 'nulls-last' }>;
}

export interface SnapshotSummary {
  operation: 'append' | 'replace' | 'overwrite' | 'delete';
  [key: string]: string;
}

export interface Snapshot {
  'snapshot-id': bigint;
  'parent-snapshot-id'?: bigint;
  'sequence-number': bigint;
  'timestamp-ms': number;
  'manifest-list': string;
  summary: SnapshotSummary;
  'schema-id': number;
}

export interface SnapshotRef {
  'snapshot-id': bigint;
  type: 'branch' | 'tag';
  'max-ref-age-ms'?: number;
  'max-snapshot-age-ms'?: number;
  'min-snapshots-to-keep'?: number;
}

/** Table metadata, format version 2. 64-bit ids are bigint in memory and JSON numbers on disk. */
export interface TableMetadata {
  'format-version': 2;
  'table-uuid': string;
  location: string;
  'last-sequence-number': bigint;
  'last-updated-ms': number;
  'last-column-id': number;
  schemas: Schema[];
  'current-schema-id': number;
  'partition-specs': PartitionSpec[];
  'default-spec-id': number;
  'last-partition-id': number;
  properties: Record<string, string>;
  'current-snapshot-id'?: bigint | null;
  snapshots: Snapshot[];
  'snapshot-log': Array<{ 'timestamp-ms': number; 'snapshot-id': bigint }>;
  'metadata-log': Array<{ 'timestamp-ms': number; 'metadata-file': string }>;
  'sort-orders': SortOrder[];
  'default-sort-order-id': number;
  refs: Record<string, SnapshotRef>;
  statistics?: unknown[];
  'partition-statistics'?: unknown[];
}

/** A table's name in the catalog: `namespace.table` (one-level namespaces here, like the seed's `cold`). */
export interface TableIdentifier {
  namespace: string;
  name: string;
}

export function formatIdentifier(id: TableIdentifier): string {
  return `${id.namespace}.${id.name}`;
}

export function parseIdentifier(text: string): TableIdentifier {
  const i = text.lastIndexOf('.');
  if (i <= 0 || i === text.length - 1) throw new Error(`"${text}" is not a table identifier (expected namespace.table)`);
  return { namespace: text.slice(0, i), name: text.slice(i + 1) };
}

/** A data file as the manifest records it (spec: "Manifests" → data_file). Bounds use the single-value binary encoding. */
export interface DataFile {
  content: 0; // data (1/2 are delete files: DeleteFile)
  filePath: string;
  fileFormat: 'PARQUET';
  /** Partition tuple by partition field name, in Iceberg's partition value representation (e.g. day → days since epoch). */
  partition: Record<string, number | bigint | string | boolean | null>;
  recordCount: bigint;
  fileSizeInBytes: bigint;
  columnSizes: Map<number, bigint>;
  valueCounts: Map<number, bigint>;
  nullValueCounts: Map<number, bigint>;
  nanValueCounts?: Map<number, bigint>;
  lowerBounds: Map<number, Uint8Array>;
  upperBounds: Map<number, Uint8Array>;
  splitOffsets?: bigint[];
  sortOrderId?: number | null;
}

/**
 * A delete file (format v2) as a manifest records it: position deletes (content 1: rows of data files by
 * file path and row position) or equality deletes (content 2: rows whose `equalityIds` columns equal a
 * delete row's). Other engines write them (merge-on-read deletes); the offload reads them, never writes new ones.
 */
export interface DeleteFile extends Omit<DataFile, 'content' | 'fileFormat'> {
  content: 1 | 2;
  /** PARQUET, AVRO or ORC as the manifest names it (upper case). */
  fileFormat: string;
  /** Equality deletes: the field ids the delete rows hold. */
  equalityIds?: number[];
  /** Position deletes that all point into one data file (optional in v2). */
  referencedDataFile?: string;
}

/** What a manifest entry describes: a data file or a delete file. */
export type ContentFile = DataFile | DeleteFile;

export type ManifestEntryStatus = 0 | 1 | 2; // EXISTING, ADDED, DELETED

/** A manifest entry; data manifests hold DataFile entries, delete manifests DeleteFile entries. */
export interface ManifestEntry<F extends ContentFile = DataFile> {
  status: ManifestEntryStatus;
  snapshotId: bigint | null;
  sequenceNumber: bigint | null;
  fileSequenceNumber: bigint | null;
  dataFile: F;
}

/** A manifest as the manifest list records it (spec: "Manifest Lists" → manifest_file). */
export interface ManifestFile {
  manifestPath: string;
  manifestLength: bigint;
  partitionSpecId: number;
  /** 0 data manifest, 1 delete manifest. */
  content: 0 | 1;
  sequenceNumber: bigint;
  minSequenceNumber: bigint;
  addedSnapshotId: bigint;
  addedFilesCount: number;
  existingFilesCount: number;
  deletedFilesCount: number;
  addedRowsCount: bigint;
  existingRowsCount: bigint;
  deletedRowsCount: bigint;
  partitions?: Array<{ containsNull: boolean; containsNan?: boolean; lowerBound?: Uint8Array | null; upperBound?: Uint8Array | null }>;
}

/** A table at one version: the metadata file the catalog pointed at when it was loaded, and its content. */
export interface Table {
  ident: TableIdentifier;
  metadataLocation: string;
  metadata: TableMetadata;
}

/** What every change adding data files has (see snapshot-producer.ts). */
export interface DataChangeBase {
  /** The new snapshot's id; it stays the same on every attempt (the manifest's entries carry it). */
  snapshotId: bigint;
  commitUuid: string;
  /** The partition spec the data files were written with (the table's default spec when staged). */
  specId: number;
  dataFiles: DataFile[];
  summaryProperties: Record<string, string>;
}
