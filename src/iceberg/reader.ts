// The metadata reader: what a table holds, from its metadata, manifest lists and manifests alone —
// never a data scan. The TUI shows it (Iceberg rows, partitions, snapshot history), verify checks
// against it, gc asks it which files kept snapshots still reference, and the snapshot producer
// reads the current manifests through it.
import { mapLimit } from '../core/concurrency.js';
import { SchemaError } from '../core/errors.js';
import type { FileIO } from './io.js';
import { inheritFromManifest, readManifestFile, readManifestList } from './manifest.js';
import { currentSnapshot, snapshotById } from './metadata.js';
import { partitionPath, type PartitionValue } from './partition.js';
import type { DataFile, ManifestEntry, ManifestFile, PartitionSpec, Schema, Snapshot, TableMetadata } from './types.js';

/** At most this many manifests are read at once. */
const READ_CONCURRENCY = 8;

// ---------------------------------------------------------------------------------------------
// Manifests through a FileIO.

/** The manifests a snapshot's manifest list names (data and delete manifests alike). */
export async function readSnapshotManifests(io: FileIO, snapshot: Snapshot): Promise<ManifestFile[]> {
  return readManifestList(await io.read(snapshot['manifest-list']));
}

/** A manifest's entries with snapshot ids and sequence numbers filled in from its manifest-list record. */
export async function readManifestEntries(io: FileIO, manifest: ManifestFile): Promise<ManifestEntry[]> {
  if (manifest.content !== 0)
    throw new SchemaError(`${manifest.manifestPath}: delete manifests are not supported (this table has row-level deletes)`);
  const { entries } = readManifestFile(await io.read(manifest.manifestPath));
  return entries.map((e) => inheritFromManifest(e, manifest));
}

const isLive = (e: ManifestEntry): boolean => e.status !== 2;

function resolveSnapshot(metadata: TableMetadata, snapshotId?: bigint): Snapshot | undefined {
  if (snapshotId === undefined) return currentSnapshot(metadata);
  const s = snapshotById(metadata, snapshotId);
  if (!s) throw new SchemaError(`table ${metadata.location} has no snapshot ${snapshotId}`);
  return s;
}

/** A live data file of a snapshot, with where it came from. */
export interface LiveDataFile extends DataFile {
  specId: number;
  /** The snapshot that added the file. */
  addedSnapshotId: bigint;
  /** Its data sequence number. */
  sequenceNumber: bigint;
}

/** The data files a snapshot reads (ADDED and EXISTING entries of its manifests); the current snapshot by default. Empty for a table without snapshots. */
export async function readDataFiles(io: FileIO, metadata: TableMetadata, snapshotId?: bigint): Promise<LiveDataFile[]> {
  const snapshot = resolveSnapshot(metadata, snapshotId);
  if (!snapshot) return [];
  const manifests = await readSnapshotManifests(io, snapshot);
  const perManifest = await mapLimit(manifests, READ_CONCURRENCY, async (m) =>
    (await readManifestEntries(io, m)).filter(isLive).map(
      (e): LiveDataFile => ({
        ...e.dataFile,
        specId: m.partitionSpecId,
        addedSnapshotId: e.snapshotId!,
        sequenceNumber: e.sequenceNumber!,
      }),
    ),
  );
  return perManifest.flat();
}

// ---------------------------------------------------------------------------------------------
// Snapshot history and totals.

/** A snapshot as the TUI and `status` show it. */
export interface SnapshotInfo {
  snapshotId: bigint;
  parentSnapshotId: bigint | null;
  sequenceNumber: bigint;
  timestampMs: number;
  operation: string;
  /** The whole summary, operation included (standard totals and caller properties such as `offload.run-id`). */
  summary: Record<string, string>;
  manifestList: string;
  schemaId: number | null;
  isCurrent: boolean;
}

function snapshotInfo(s: Snapshot, currentId: bigint | undefined): SnapshotInfo {
  return {
    snapshotId: s['snapshot-id'],
    parentSnapshotId: s['parent-snapshot-id'] ?? null,
    sequenceNumber: s['sequence-number'],
    timestampMs: s['timestamp-ms'],
    operation: s.summary?.operation ?? 'unknown',
    summary: { ...s.summary },
    manifestList: s['manifest-list'],
    schemaId: s['schema-id'] ?? null,
    isCurrent: s['snapshot-id'] === currentId,
  };
}

/** Every snapshot still in the metadata, oldest first (by sequence number). */
export function snapshotHistory(metadata: TableMetadata): SnapshotInfo[] {
  const currentId = currentSnapshot(metadata)?.['snapshot-id'];
  return [...metadata.snapshots]
    .sort((a, b) =>
      a['sequence-number'] < b['sequence-number']
        ? -1
        : a['sequence-number'] > b['sequence-number']
          ? 1
          : a['timestamp-ms'] - b['timestamp-ms'],
    )
    .map((s) => snapshotInfo(s, currentId));
}

function summaryCount(summary: Record<string, string> | undefined, key: string): bigint | null {
  const v = summary?.[key];
  return v !== undefined && /^\d+$/.test(v) ? BigInt(v) : null;
}

export interface TableTotals {
  records: bigint;
  dataFiles: bigint;
  filesSizeBytes: bigint;
  /** 'summary' when the snapshot summary carried the totals; 'manifests' when they had to be counted from the manifest list. */
  source: 'summary' | 'manifests' | 'empty';
}

/**
 * A snapshot's record, file and byte totals from its summary (`total-records` …), as written by us,
 * Java and pyiceberg. A summary without them (some other writers) is completed from the manifest list
 * and, for the size, the manifests — still no data file is opened.
 */
export async function readTotals(io: FileIO, metadata: TableMetadata, snapshotId?: bigint): Promise<TableTotals> {
  const snapshot = resolveSnapshot(metadata, snapshotId);
  if (!snapshot) return { records: 0n, dataFiles: 0n, filesSizeBytes: 0n, source: 'empty' };
  const records = summaryCount(snapshot.summary, 'total-records');
  const dataFiles = summaryCount(snapshot.summary, 'total-data-files');
  const size = summaryCount(snapshot.summary, 'total-files-size');
  if (records !== null && dataFiles !== null && size !== null) return { records, dataFiles, filesSizeBytes: size, source: 'summary' };
  const files = await readDataFiles(io, metadata, snapshot['snapshot-id']);
  return {
    records: files.reduce((s, f) => s + f.recordCount, 0n),
    dataFiles: BigInt(files.length),
    filesSizeBytes: files.reduce((s, f) => s + f.fileSizeInBytes, 0n),
    source: 'manifests',
  };
}

// ---------------------------------------------------------------------------------------------
// Partitions.

export interface PartitionStats {
  specId: number;
  /** The partition tuple by partition field name (Iceberg's representation: days, months, µs …). */
  partition: Record<string, PartitionValue>;
  /** Hive-style path of the partition, e.g. `ts_day=2026-02-11` ('' when unpartitioned). */
  path: string;
  recordCount: bigint;
  fileCount: number;
  fileSizeBytes: bigint;
}

/** A stable text key for a partition tuple of a spec (bigints and strings kept distinct). */
export function partitionKey(specId: number, partition: Record<string, PartitionValue>): string {
  const parts = Object.keys(partition)
    .sort()
    .map((k) => {
      const v = partition[k];
      return [k, typeof v === 'bigint' ? `${v}n` : v];
    });
  return `${specId}:${JSON.stringify(parts)}`;
}

function specById(metadata: TableMetadata, specId: number): PartitionSpec {
  const spec = metadata['partition-specs'].find((s) => s['spec-id'] === specId);
  if (!spec) throw new SchemaError(`table ${metadata.location}: partition spec ${specId} is not in its metadata`);
  return spec;
}

function schemaFor(metadata: TableMetadata, schemaId: number | undefined): Schema {
  const id = schemaId ?? metadata['current-schema-id'];
  return (
    metadata.schemas.find((s) => s['schema-id'] === id) ?? metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id'])!
  );
}

/** Record, file and byte counts per partition of a snapshot (the current one by default), from its manifests; sorted by path. */
export async function readPartitionStats(io: FileIO, metadata: TableMetadata, snapshotId?: bigint): Promise<PartitionStats[]> {
  const snapshot = resolveSnapshot(metadata, snapshotId);
  if (!snapshot) return [];
  const schema = schemaFor(metadata, snapshot['schema-id']);
  const byKey = new Map<string, PartitionStats>();
  for (const f of await readDataFiles(io, metadata, snapshot['snapshot-id'])) {
    const key = partitionKey(f.specId, f.partition);
    let stats = byKey.get(key);
    if (!stats) {
      stats = {
        specId: f.specId,
        partition: { ...f.partition },
        path: partitionPath(specById(metadata, f.specId), schema, f.partition),
        recordCount: 0n,
        fileCount: 0,
        fileSizeBytes: 0n,
      };
      byKey.set(key, stats);
    }
    stats.recordCount += f.recordCount;
    stats.fileCount += 1;
    stats.fileSizeBytes += f.fileSizeInBytes;
  }
  return [...byKey.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.specId - b.specId));
}

// ---------------------------------------------------------------------------------------------
// Overview: everything the TUI's details screen needs, in one call.

export interface TableOverview {
  location: string;
  tableUuid: string;
  formatVersion: number;
  schema: Schema;
  spec: PartitionSpec;
  currentSnapshot: SnapshotInfo | null;
  totals: TableTotals;
  partitions: PartitionStats[];
  snapshots: SnapshotInfo[];
}

/** The table as its metadata describes it: current snapshot, totals, per-partition counts, snapshot history. */
export async function readTableOverview(io: FileIO, metadata: TableMetadata): Promise<TableOverview> {
  const history = snapshotHistory(metadata);
  const [totals, partitions] = await Promise.all([readTotals(io, metadata), readPartitionStats(io, metadata)]);
  return {
    location: metadata.location,
    tableUuid: metadata['table-uuid'],
    formatVersion: metadata['format-version'],
    schema: schemaFor(metadata, metadata['current-schema-id']),
    spec: specById(metadata, metadata['default-spec-id']),
    currentSnapshot: history.find((s) => s.isCurrent) ?? null,
    totals,
    partitions,
    snapshots: history,
  };
}

// ---------------------------------------------------------------------------------------------
// Reachability: the files kept snapshots need (gc keeps them; expiry deletes the rest).

export interface ReferencedFiles {
  /** The current metadata file and the previous ones its metadata-log still names. */
  metadataFiles: string[];
  manifestLists: string[];
  manifests: string[];
  /** Data files live (ADDED or EXISTING) in at least one kept snapshot. */
  dataFiles: string[];
}

/** Reads each manifest once, however many snapshots share it (for walks over several snapshots). */
export class ManifestCache {
  private readonly entries = new Map<string, Promise<ManifestEntry[]>>();
  constructor(private readonly io: FileIO) {}
  read(manifest: ManifestFile): Promise<ManifestEntry[]> {
    let p = this.entries.get(manifest.manifestPath);
    if (!p) {
      p = readManifestEntries(this.io, manifest);
      this.entries.set(manifest.manifestPath, p);
    }
    return p;
  }
}

export interface ReachableFiles {
  manifestLists: Set<string>;
  manifests: Set<string>;
  dataFiles: Set<string>;
}

/**
 * Manifest lists, manifests and data files reachable from the given snapshots. Data files are those
 * live (ADDED or EXISTING) in them unless `liveDataFilesOnly` is false, when DELETED entries count too.
 */
export async function reachableFiles(
  io: FileIO,
  snapshots: readonly Snapshot[],
  options: { liveDataFilesOnly?: boolean; cache?: ManifestCache } = {},
): Promise<ReachableFiles> {
  const liveOnly = options.liveDataFilesOnly ?? true;
  const cache = options.cache ?? new ManifestCache(io);
  const lists = await mapLimit(snapshots, READ_CONCURRENCY, (s) => readSnapshotManifests(io, s));
  const manifests = new Map<string, ManifestFile>();
  for (const list of lists) for (const m of list) if (!manifests.has(m.manifestPath)) manifests.set(m.manifestPath, m);
  const entries = await mapLimit([...manifests.values()], READ_CONCURRENCY, (m) => cache.read(m));
  const dataFiles = new Set<string>();
  for (const list of entries) for (const e of list) if (!liveOnly || isLive(e)) dataFiles.add(e.dataFile.filePath);
  return { manifestLists: new Set(snapshots.map((s) => s['manifest-list'])), manifests: new Set(manifests.keys()), dataFiles };
}

/** Every file the table's kept snapshots reference, plus its metadata files. `metadataLocation` is the current metadata file. */
export async function readReferencedFiles(io: FileIO, metadata: TableMetadata, metadataLocation: string): Promise<ReferencedFiles> {
  const reach = await reachableFiles(io, metadata.snapshots);
  const metadataFiles = new Set([metadataLocation, ...metadata['metadata-log'].map((e) => e['metadata-file'])]);
  const sorted = (s: Set<string>): string[] => [...s].sort();
  return {
    metadataFiles: sorted(metadataFiles),
    manifestLists: sorted(reach.manifestLists),
    manifests: sorted(reach.manifests),
    dataFiles: sorted(reach.dataFiles),
  };
}
