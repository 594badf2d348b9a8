// Removing files from a table version: the manifests that hold them are written again with those
// entries DELETED (by the new snapshot) and their other live entries EXISTING; every other manifest is
// carried as it is. Replace-partitions and compaction (a `replace` snapshot) both build on it, for data
// and delete manifests alike, so delete files other engines wrote go or stay with the rows they apply to.
import { randomUUID } from 'node:crypto';
import { mapLimit } from '../core/concurrency.js';
import { SchemaError } from '../core/errors.js';
import type { FileIO } from './io.js';
import { summarizeManifest, UNASSIGNED_SEQUENCE_NUMBER, writeManifest } from './manifest.js';
import { currentSchema, manifestFileName, metadataDirectory } from './metadata.js';
import { readManifestEntries } from './reader.js';
import type { ContentFile, ManifestEntry, ManifestFile, TableMetadata } from './types.js';

export interface ManifestRemoval {
  /** The snapshot that removes the entries (written into them). */
  snapshotId: bigint;
  /** Manifests that may hold removed entries (others are carried unread), e.g. those of one partition spec. */
  mayHold: (m: ManifestFile) => boolean;
  /** Whether a live entry of such a manifest is removed. */
  isRemoved: (e: ManifestEntry<ContentFile>) => boolean;
  /** Paths this call writes are pushed here (so a failed staging can delete them). */
  written: string[];
}

export interface RemovalResult {
  /** The manifests of the new version: carried and rewritten. */
  manifests: ManifestFile[];
  /** The live entries removed, as they were before (sequence numbers included). */
  removed: Array<ManifestEntry<ContentFile>>;
}

const hasLiveFiles = (m: ManifestFile): boolean => m.addedFilesCount > 0 || m.existingFilesCount > 0;

/**
 * The manifests of `parentManifests` with the entries `removal.isRemoved` picks marked DELETED. Manifests
 * without live files are dropped, entries already DELETED too (as Java does); a rewritten manifest keeps
 * its content (data or deletes) and partition spec, and takes the new snapshot's sequence number.
 */
export async function removeFromManifests(
  metadata: TableMetadata,
  io: FileIO,
  parentManifests: readonly ManifestFile[],
  removal: ManifestRemoval,
): Promise<RemovalResult> {
  const live = parentManifests.filter(hasLiveFiles);
  const candidates = live.filter(removal.mayHold);
  const read = await mapLimit(candidates, 8, (m) => readManifestEntries(io, m));
  const entriesByPath = new Map(candidates.map((m, i) => [m.manifestPath, read[i]]));

  const schema = currentSchema(metadata);
  const directory = metadataDirectory(metadata);
  const rewriteUuid = randomUUID();
  const manifests: ManifestFile[] = [];
  const removed: Array<ManifestEntry<ContentFile>> = [];
  let n = 0;
  for (const m of live) {
    const entries = entriesByPath.get(m.manifestPath);
    const isRemoved = (e: ManifestEntry<ContentFile>): boolean => e.status !== 2 && removal.isRemoved(e);
    if (!entries?.some(isRemoved)) {
      manifests.push(m);
      continue;
    }
    const spec = metadata['partition-specs'].find((s) => s['spec-id'] === m.partitionSpecId);
    if (!spec) throw new SchemaError(`${m.manifestPath}: partition spec ${m.partitionSpecId} is not in the table's metadata`);
    const rewritten: Array<ManifestEntry<ContentFile>> = [];
    for (const e of entries) {
      if (e.status === 2) continue;
      if (isRemoved(e)) {
        rewritten.push({ ...e, status: 2, snapshotId: removal.snapshotId });
        removed.push(e);
      } else rewritten.push({ ...e, status: 0 });
    }
    const path = `${directory}/${manifestFileName(rewriteUuid, n++)}`;
    const bytes = writeManifest(rewritten, { schema, spec, snapshotId: removal.snapshotId });
    await io.createExclusive(path, bytes);
    removal.written.push(path);
    manifests.push(
      summarizeManifest(rewritten, {
        schema,
        spec,
        manifestPath: path,
        manifestLength: BigInt(bytes.byteLength),
        snapshotId: removal.snapshotId,
        sequenceNumber: UNASSIGNED_SEQUENCE_NUMBER,
      }),
    );
  }
  return { manifests, removed };
}

/** Files, rows and bytes of a set of added or removed files, delete files counted apart, as snapshot summaries give them. */
export interface FileCounts {
  dataFiles: number;
  records: bigint;
  /** Data and delete files (Java's removed-files-size counts both). */
  bytes: bigint;
  deleteFiles: number;
  positionDeletes: bigint;
  equalityDeletes: bigint;
}

export function countFiles(files: ReadonlyArray<ContentFile>): FileCounts {
  const out: FileCounts = { dataFiles: 0, records: 0n, bytes: 0n, deleteFiles: 0, positionDeletes: 0n, equalityDeletes: 0n };
  for (const f of files) {
    out.bytes += f.fileSizeInBytes;
    if (f.content === 0) {
      out.dataFiles++;
      out.records += f.recordCount;
    } else {
      out.deleteFiles++;
      if (f.content === 1) out.positionDeletes += f.recordCount;
      else out.equalityDeletes += f.recordCount;
    }
  }
  return out;
}
