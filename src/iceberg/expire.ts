// Snapshot expiry and metadata cleanup as a policy, and exactly which files it deletes.
//
// The policy (Iceberg's own table properties, with Java's defaults, each overridable by the caller):
//   history.expire.max-snapshot-age-ms     snapshots older than this may go              (5 days)
//   history.expire.min-snapshots-to-keep   the newest N of each branch always stay        (1)
//   write.metadata.previous-versions-max   previous metadata files the metadata log keeps (100)
// A snapshot a ref points at never goes (the current one included).
//
// What is deleted, once the new version is committed (never before: until then a reader of the old
// version may need every file):
//   - manifest lists of the removed snapshots;
//   - manifests, data files and delete files reachable from the removed snapshots that no kept snapshot
//     still reaches (data and delete files count as reached when live — ADDED or EXISTING — in a kept
//     snapshot; a file a kept snapshot only records as DELETED is needed by none of them);
//   - the previous metadata files the new version's metadata log no longer names, and every metadata
//     file in the metadata directory older than the oldest one it names (by version number: those fell
//     out of the log at earlier commits, or were staged on a version long gone — none can become current).
// Nothing else: data files, manifests and manifest lists no metadata ever named (the leftovers of runs
// that never committed) are gc's (unreferenced, older than its safety age).
import type { FileIO } from './io.js';
import { appendMetadataLog, expireSnapshots as expireSnapshotsInMetadata, metadataDirectory } from './metadata.js';
import { ManifestCache, reachableFiles } from './reader.js';
import type { Snapshot, TableMetadata } from './types.js';

export const MAX_SNAPSHOT_AGE_PROPERTY = 'history.expire.max-snapshot-age-ms';
export const MIN_SNAPSHOTS_TO_KEEP_PROPERTY = 'history.expire.min-snapshots-to-keep';
export const PREVIOUS_VERSIONS_MAX_PROPERTY = 'write.metadata.previous-versions-max';
export const DEFAULT_MAX_SNAPSHOT_AGE_MS = 5 * 86_400_000;
export const DEFAULT_MIN_SNAPSHOTS_TO_KEEP = 1;
export const DEFAULT_PREVIOUS_VERSIONS_MAX = 100;

/** A retention policy; what is left out comes from the table's properties, then Java's defaults. */
export interface ExpiryPolicy {
  maxSnapshotAgeMs?: number;
  minSnapshotsToKeep?: number;
  maxPreviousMetadataFiles?: number;
}

/** The policy applied to one table at one instant. */
export interface ExpiryRules {
  /** Snapshots older than this (ms since the epoch) may go. */
  olderThanMs: number;
  /** The newest snapshots of each branch kept whatever their age. */
  retainLast: number;
  /** Previous metadata files the log keeps (at least 1: the version the new one replaces). */
  maxPreviousMetadataFiles: number;
}

function propertyNumber(metadata: TableMetadata, key: string): number | undefined {
  const v = metadata.properties[key];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** The rules of `policy` for `metadata` at `nowMs`: the caller's values, else the table's properties, else the defaults. */
export function resolveExpiryPolicy(metadata: TableMetadata, policy: ExpiryPolicy = {}, nowMs = Date.now()): ExpiryRules {
  const maxAge = policy.maxSnapshotAgeMs ?? propertyNumber(metadata, MAX_SNAPSHOT_AGE_PROPERTY) ?? DEFAULT_MAX_SNAPSHOT_AGE_MS;
  return {
    olderThanMs: nowMs - maxAge,
    retainLast: policy.minSnapshotsToKeep ?? propertyNumber(metadata, MIN_SNAPSHOTS_TO_KEEP_PROPERTY) ?? DEFAULT_MIN_SNAPSHOTS_TO_KEEP,
    maxPreviousMetadataFiles:
      policy.maxPreviousMetadataFiles ?? propertyNumber(metadata, PREVIOUS_VERSIONS_MAX_PROPERTY) ?? DEFAULT_PREVIOUS_VERSIONS_MAX,
  };
}

/** The files an expiry deletes, by kind, each list sorted. */
export interface ExpiryDeletes {
  manifestLists: string[];
  manifests: string[];
  dataFiles: string[];
  deleteFiles: string[];
  metadataFiles: string[];
}

export interface ExpiryPlan {
  /** The next version's metadata: snapshots removed, metadata log trimmed (its log already names the base). */
  metadata: TableMetadata;
  expired: Snapshot[];
  deletes: ExpiryDeletes;
  /** False when there is nothing to remove: no new version is needed. */
  changes: boolean;
}

/** Every path of `d`, sorted. */
export function expiryDeleteList(d: ExpiryDeletes): string[] {
  return [...d.manifestLists, ...d.manifests, ...d.dataFiles, ...d.deleteFiles, ...d.metadataFiles].sort();
}

/** The files only `expired` snapshots reference, given the snapshots that remain (`kept`), by kind. */
export async function unreferencedAfterExpiry(
  io: FileIO,
  expired: readonly Snapshot[],
  kept: readonly Snapshot[],
): Promise<Omit<ExpiryDeletes, 'metadataFiles'>> {
  const cache = new ManifestCache(io);
  const keep = await reachableFiles(io, kept, { cache });
  const gone = await reachableFiles(io, expired, { cache, liveDataFilesOnly: false });
  const only = (g: Set<string>, k: Set<string>) => [...g].filter((f) => !k.has(f)).sort();
  return {
    manifestLists: only(gone.manifestLists, keep.manifestLists),
    manifests: only(gone.manifests, keep.manifests),
    dataFiles: only(gone.dataFiles, keep.dataFiles),
    deleteFiles: only(gone.deleteFiles, keep.deleteFiles),
  };
}

/** The version number of a metadata file: `00012-<uuid>.metadata.json` (ours, Java's) or `v12.metadata.json` (other writers'). */
function metadataVersion(location: string): number | null {
  const m = /\/(?:(\d+)-[^/]*|v(\d+))\.metadata\.json(?:\.gz)?$/.exec(location);
  return m ? Number(m[1] ?? m[2]) : null;
}

/** Metadata files in the directory older than every one the log names (none when a logged name has no version). */
async function metadataFilesBefore(io: FileIO, metadata: TableMetadata, logged: readonly string[]): Promise<string[]> {
  const versions = logged.map(metadataVersion);
  if (versions.some((v) => v === null)) return [];
  const oldest = Math.min(...(versions as number[]));
  const listed = await io.list(`${metadataDirectory(metadata)}/`);
  return listed
    .map((f) => f.uri)
    .filter((uri) => {
      const v = metadataVersion(uri);
      return v !== null && v < oldest && !logged.includes(uri);
    });
}

/**
 * What expiring `base` with `rules` does: the next version's metadata and exactly the files deleted once
 * it is committed. Reads manifests and lists the metadata directory; writes nothing.
 */
export async function planExpiry(
  io: FileIO,
  base: { metadata: TableMetadata; metadataLocation: string },
  rules: ExpiryRules,
  nowMs = Date.now(),
): Promise<ExpiryPlan> {
  const logged = appendMetadataLog(base.metadata, base.metadataLocation);
  const keepLog = Math.max(1, rules.maxPreviousMetadataFiles);
  const trimmed: TableMetadata = {
    ...logged,
    'metadata-log': logged['metadata-log'].slice(Math.max(0, logged['metadata-log'].length - keepLog)),
  };
  const { metadata, expired } = expireSnapshotsInMetadata(trimmed, {
    olderThanMs: rules.olderThanMs,
    minSnapshotsToKeep: rules.retainLast,
    timestampMs: nowMs,
  });
  const stillLogged = new Set(metadata['metadata-log'].map((e) => e['metadata-file']));
  const droppedNow = [...base.metadata['metadata-log'].map((e) => e['metadata-file']), base.metadataLocation].filter(
    (f) => !stillLogged.has(f),
  );
  const droppedBefore = await metadataFilesBefore(io, base.metadata, [...stillLogged]);
  const metadataFiles = [...new Set([...droppedNow, ...droppedBefore])].sort();
  const files =
    expired.length > 0
      ? await unreferencedAfterExpiry(io, expired, metadata.snapshots)
      : { manifestLists: [], manifests: [], dataFiles: [], deleteFiles: [] };
  return { metadata, expired, deletes: { ...files, metadataFiles }, changes: expired.length > 0 || metadataFiles.length > 0 };
}
