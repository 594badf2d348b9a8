// The metadata reader: what a table holds, from its metadata, manifest lists and manifests alone —
// never a data scan. The TUI shows it (Iceberg rows, partitions, snapshot history), verify checks
// against it, gc asks it which files kept snapshots still reference, and the snapshot producer
// reads the current manifests through it. Tables other engines write may carry delete manifests
// (merge-on-read deletes, format v2): their delete files are read, kept and counted apart from the
// data files, never mistaken for data.
import { mapLimit } from '../core/concurrency.js';
import { SchemaError } from '../core/errors.js';
import type { FileIO } from './io.js';
import { inheritFromManifest, readManifestFile, readManifestList } from './manifest.js';
import { currentSnapshot, snapshotById } from './metadata.js';
import { partitionPath, type PartitionValue } from './partition.js';
import type {
  ContentFile,
  DataFile,
  DeleteFile,
  ManifestEntry,
  ManifestFile,
  PartitionSpec,
  Schema,
  Snapshot,
  SnapshotSummary,
  TableMetadata,
} from './types.js';

/** At most this many manifests are read at once. */
const READ_CONCURRENCY = 8;

// ---------------------------------------------------------------------------------------------
// Manifests through a FileIO.

/** The manifests a snapshot's manifest list names (data and delete manifests alike). */
export async function readSnapshotManifests(io: FileIO, snapshot: Snapshot): Promise<ManifestFile[]> {
  return readManifestList(await io.read(snapshot['manifest-list']));
}

/**
 * A manifest's entries with snapshot ids and sequence numbers filled in from its manifest-list record:
 * data files from a data manifest, delete files from a delete manifest.
 */
export async function readManifestEntries(io: FileIO, manifest: ManifestFile): Promise<Array<ManifestEntry<ContentFile>>> {
  const { entries, content } = readManifestFile(await io.read(manifest.manifestPath));
  const listed = manifest.content === 1 ? 'deletes' : 'data';
  if (content !== listed)
    throw new SchemaError(`${manifest.manifestPath}: the manifest list says it holds ${listed} but the manifest holds ${content}`);
  return entries.map((e) => inheritFromManifest(e, manifest));
}

export const isDataEntry = (e: ManifestEntry<ContentFile>): e is ManifestEntry<DataFile> => e.dataFile.content === 0;
export const isDeleteEntry = (e: ManifestEntry<ContentFile>): e is ManifestEntry<DeleteFile> => e.dataFile.content !== 0;

const isLive = (e: ManifestEntry<ContentFile>): boolean => e.status !== 2;

function resolveSnapshot(metadata: TableMetadata, snapshotId?: bigint): Snapshot | undefined {
  if (snapshotId === undefined) return currentSnapshot(metadata);
  const s = snapshotById(metadata, snapshotId);
  if (!s) throw new SchemaError(`table ${metadata.location} has no snapshot ${snapshotId}`);
  return s;
}

/** Where a live file of a snapshot came from. */
interface LiveFileOrigin {
  specId: number;
  /** The snapshot that added the file. */
  addedSnapshotId: bigint;
  /** Its data sequence number: a delete file applies to data files of a lower one (position deletes: lower or equal). */
  sequenceNumber: bigint;
}

/** A live data file of a snapshot, with where it came from. */
export interface LiveDataFile extends DataFile, LiveFileOrigin {}

/** A live delete file of a snapshot (written by another engine), with where it came from. */
export interface LiveDeleteFile extends DeleteFile, LiveFileOrigin {}

/** What a snapshot reads: its data files, and the delete files that remove rows from them. */
export interface SnapshotFiles {
  dataFiles: LiveDataFile[];
  deleteFiles: LiveDeleteFile[];
}

/** The files a snapshot reads (ADDED and EXISTING entries of its manifests), data and delete files apart; the current snapshot by default. Empty for a table without snapshots. */
export async function readSnapshotFiles(io: FileIO, metadata: TableMetadata, snapshotId?: bigint): Promise<SnapshotFiles> {
  const snapshot = resolveSnapshot(metadata, snapshotId);
  if (!snapshot) return { dataFiles: [], deleteFiles: [] };
  const manifests = await readSnapshotManifests(io, snapshot);
  const perManifest = await mapLimit(manifests, READ_CONCURRENCY, async (m) =>
    (await readManifestEntries(io, m))
      .filter(isLive)
      .map((e) => ({ ...e.dataFile, specId: m.partitionSpecId, addedSnapshotId: e.snapshotId!, sequenceNumber: e.sequenceNumber! })),
  );
  const all = perManifest.flat();
  return {
    dataFiles: all.filter((f): f is LiveDataFile => f.content === 0),
    deleteFiles: all.filter((f): f is LiveDeleteFile => f.content !== 0),
  };
}

/** The data files a snapshot reads; the current snapshot by default. Delete files are not among them (see readSnapshotFiles). */
export async function readDataFiles(io: FileIO, metadata: TableMetadata, snapshotId?: bigint): Promise<LiveDataFile[]> {
  return (await readSnapshotFiles(io, metadata, snapshotId)).dataFiles;
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
// Live rows: what a reader of the snapshot gets once delete files are applied.

/** The rows of a snapshot once its delete files apply, from the summary or the manifests. */
export interface LiveRows {
  /** Records of the data files minus position deletes: what readers get when `exact`. */
  rows: bigint;
  /**
   * False ("≈") when equality deletes exist (which rows they remove only a scan tells), or when a position
   * delete file points at a data file the snapshot no longer reads (its deletes then remove nothing).
   */
  exact: boolean;
  /** Records of the data files (the summary's total-records). */
  records: bigint;
  deleteFiles: bigint;
  /** Rows the position delete files list (total-position-deletes). */
  positionDeletes: bigint;
  /** Rows the equality delete files hold (total-equality-deletes). */
  equalityDeletes: bigint;
}

/**
 * Live rows from a snapshot summary alone (`total-records − total-position-deletes`), as `status` shows
 * them; null when the summary has no total-records (then count from the manifests: readLiveRows). A
 * summary without the delete totals gives total-records, marked inexact. Dangling position deletes cannot
 * be seen from a summary: only readLiveRows marks them.
 */
export function liveRowsFromSummary(summary: SnapshotSummary | Record<string, string> | undefined): LiveRows | null {
  const records = summaryCount(summary, 'total-records');
  if (records === null) return null;
  const deleteFiles = summaryCount(summary, 'total-delete-files');
  const noDeletes = deleteFiles === 0n ? 0n : null;
  const positionDeletes = summaryCount(summary, 'total-position-deletes') ?? noDeletes;
  const equalityDeletes = summaryCount(summary, 'total-equality-deletes') ?? noDeletes;
  return {
    rows: records - (positionDeletes ?? 0n),
    exact: positionDeletes !== null && equalityDeletes === 0n,
    records,
    deleteFiles: deleteFiles ?? 0n,
    positionDeletes: positionDeletes ?? 0n,
    equalityDeletes: equalityDeletes ?? 0n,
  };
}

/** Position delete files name the data file they delete from in this column (spec "Position Delete Files"). */
export const DELETE_FILE_PATH_FIELD_ID = 2147483546;
/** …and the row position in that file in this one. */
export const DELETE_POS_FIELD_ID = 2147483545;

/** The one data file a position delete file points into, when its manifest entry tells (referenced_data_file, or equal file_path bounds). */
export function positionDeleteTarget(f: DeleteFile): string | null {
  if (f.content !== 1) return null;
  if (f.referencedDataFile) return f.referencedDataFile;
  const lower = f.lowerBounds.get(DELETE_FILE_PATH_FIELD_ID);
  const upper = f.upperBounds.get(DELETE_FILE_PATH_FIELD_ID);
  if (!lower || !upper || Buffer.compare(Buffer.from(lower), Buffer.from(upper)) !== 0) return null;
  return Buffer.from(lower).toString('utf8');
}

/** Live rows counted from the snapshot's files (exactness checked against dangling position deletes too). */
export function liveRowsOf(files: SnapshotFiles): LiveRows {
  const sum = (fs: ReadonlyArray<ContentFile>): bigint => fs.reduce((s, f) => s + f.recordCount, 0n);
  const positionFiles = files.deleteFiles.filter((f) => f.content === 1);
  const equalityDeletes = sum(files.deleteFiles.filter((f) => f.content === 2));
  const positionDeletes = sum(positionFiles);
  const liveData = new Map(files.dataFiles.map((f) => [f.filePath, f.sequenceNumber]));
  const dangling = positionFiles.some((f) => {
    const target = positionDeleteTarget(f);
    if (target === null) return false;
    const seq = liveData.get(target);
    return seq === undefined || seq > f.sequenceNumber;
  });
  const records = sum(files.dataFiles);
  return {
    rows: records - positionDeletes,
    exact: equalityDeletes === 0n && !dangling,
    records,
    deleteFiles: BigInt(files.deleteFiles.length),
    positionDeletes,
    equalityDeletes,
  };
}

/** Live rows of a snapshot (the current one by default), from its manifests. */
export async function readLiveRows(io: FileIO, metadata: TableMetadata, snapshotId?: bigint): Promise<LiveRows> {
  return liveRowsOf(await readSnapshotFiles(io, metadata, snapshotId));
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
  /** Data files smaller than the reader's `smallBelowBytes` (0 when it gave none): what compaction would rewrite. */
  smallFileCount: number;
  /** Delete files in the partition (written by other engines), and the rows they hold by kind. */
  deleteFileCount: number;
  positionDeletes: bigint;
  equalityDeletes: bigint;
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
  return partitionStatsOf(metadata, snapshot, await readSnapshotFiles(io, metadata, snapshot['snapshot-id']), 0);
}

function partitionStatsOf(metadata: TableMetadata, snapshot: Snapshot, files: SnapshotFiles, smallBelowBytes: number): PartitionStats[] {
  const schema = schemaFor(metadata, snapshot['schema-id']);
  const byKey = new Map<string, PartitionStats>();
  const statsOf = (f: LiveDataFile | LiveDeleteFile): PartitionStats => {
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
        smallFileCount: 0,
        deleteFileCount: 0,
        positionDeletes: 0n,
        equalityDeletes: 0n,
      };
      byKey.set(key, stats);
    }
    return stats;
  };
  for (const f of files.dataFiles) {
    const stats = statsOf(f);
    stats.recordCount += f.recordCount;
    stats.fileCount += 1;
    stats.fileSizeBytes += f.fileSizeInBytes;
    if (Number(f.fileSizeInBytes) < smallBelowBytes) stats.smallFileCount += 1;
  }
  for (const f of files.deleteFiles) {
    const stats = statsOf(f);
    stats.deleteFileCount += 1;
    if (f.content === 1) stats.positionDeletes += f.recordCount;
    else stats.equalityDeletes += f.recordCount;
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
  /** Rows once delete files apply (equal to totals.records for a table without delete files). */
  liveRows: LiveRows;
  partitions: PartitionStats[];
  snapshots: SnapshotInfo[];
}

/**
 * The table as its metadata describes it: current snapshot, totals, live rows, per-partition counts, snapshot
 * history. Data files below `smallBelowBytes` count as small in each partition's stats.
 */
export async function readTableOverview(
  io: FileIO,
  metadata: TableMetadata,
  options: { smallBelowBytes?: number } = {},
): Promise<TableOverview> {
  const history = snapshotHistory(metadata);
  const snapshot = currentSnapshot(metadata);
  const [totals, files] = await Promise.all([readTotals(io, metadata), readSnapshotFiles(io, metadata)]);
  return {
    location: metadata.location,
    tableUuid: metadata['table-uuid'],
    formatVersion: metadata['format-version'],
    schema: schemaFor(metadata, metadata['current-schema-id']),
    spec: specById(metadata, metadata['default-spec-id']),
    currentSnapshot: history.find((s) => s.isCurrent) ?? null,
    totals,
    liveRows: liveRowsOf(files),
    partitions: snapshot ? partitionStatsOf(metadata, snapshot, files, options.smallBelowBytes ?? 0) : [],
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
  /** Delete files (other engines' merge-on-read deletes) live in at least one kept snapshot. */
  deleteFiles: string[];
}

/** Reads each manifest once, however many snapshots share it (for walks over several snapshots). */
export class ManifestCache {
  private readonly entries = new Map<string, Promise<Array<ManifestEntry<ContentFile>>>>();
  constructor(private readonly io: FileIO) {}
  read(manifest: ManifestFile): Promise<Array<ManifestEntry<ContentFile>>> {
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
  /** Data and delete manifests. */
  manifests: Set<string>;
  dataFiles: Set<string>;
  deleteFiles: Set<string>;
}

/**
 * Manifest lists, manifests, data files and delete files reachable from the given snapshots. Data and
 * delete files are those live (ADDED or EXISTING) in them unless `liveDataFilesOnly` is false, when
 * DELETED entries count too.
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
  const deleteFiles = new Set<string>();
  for (const list of entries)
    for (const e of list) if (!liveOnly || isLive(e)) (e.dataFile.content === 0 ? dataFiles : deleteFiles).add(e.dataFile.filePath);
  return { manifestLists: new Set(snapshots.map((s) => s['manifest-list'])), manifests: new Set(manifests.keys()), dataFiles, deleteFiles };
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
    deleteFiles: sorted(reach.deleteFiles),
  };
}
