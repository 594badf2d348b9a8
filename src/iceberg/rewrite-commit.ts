// The `replace` snapshot of compaction: data files of one partition are removed and new files holding
// exactly the same rows are added (the position delete files whose deletes the new files already
// applied are removed with them). It is staged and committed like an append — create-only files, the
// catalog's compare-and-set — and on a lost compare-and-set it is built again on the newer version only
// while that is still safe: every removed file is still live there, and no delete file that could apply
// to the removed rows appeared since the rewrite read them. Otherwise the rewrite is abandoned
// (RewriteConflict): the rows it read are no longer the table's rows.
import { mapLimit } from '../core/concurrency.js';
import { ExitCode, OffloadError } from '../core/errors.js';
import type { FileIO } from './io.js';
import { countFiles, removeFromManifests, type FileCounts } from './manifest-rewrite.js';
import { isDeleteEntry, partitionKey, readManifestEntries } from './reader.js';
import type { DataChangeBase, Table } from './types.js';
import type { ContentFile, ManifestFile } from './types.js';
import { formatIdentifier } from './types.js';

/** Compaction's change: `dataFiles` (added) hold exactly the live rows of `removedFiles`. */
export interface RewriteChange extends DataChangeBase {
  kind: 'rewrite';
  /** The manifest adding the new files, written on the first attempt and reused by every later one. */
  addedManifest: ManifestFile;
  /** The data files the new ones replace, and the position delete files the new ones already applied. */
  removedFiles: ContentFile[];
  /** The sequence number of the version the rows were read at: a delete file newer than it aborts the commit. */
  startingSequenceNumber: bigint;
  /** Summary properties copied from the parent snapshot of each attempt (they describe rows the rewrite keeps). */
  carrySummaryKeys?: string[];
}

/** The rewrite cannot be committed on the table's current version: a removed file is gone, or new deletes may apply to its rows. */
export class RewriteConflict extends OffloadError {
  override readonly exitCode: number = ExitCode.conflict;
}

export interface RewrittenManifests {
  manifests: ManifestFile[];
  removed: FileCounts;
  /** Partition keys (spec id + tuple) the rewrite touches. */
  partitions: Set<string>;
}

/**
 * The manifests of the rewrite on `base`: those holding removed files written again with them DELETED.
 * Throws RewriteConflict when `base` no longer holds every removed file live, or holds a delete file
 * newer than the rewrite's starting version in a touched partition (or of another partition spec, which
 * may apply anywhere).
 */
export async function rewriteManifests(
  base: Table,
  io: FileIO,
  parentManifests: readonly ManifestFile[],
  change: RewriteChange,
  written: string[],
): Promise<RewrittenManifests> {
  const name = formatIdentifier(base.ident);
  const partitions = new Set(change.removedFiles.map((f) => partitionKey(change.specId, f.partition)));
  await refuseNewDeletes(name, io, parentManifests, change, partitions);
  const removedPaths = new Set(change.removedFiles.map((f) => f.filePath));
  const { manifests, removed } = await removeFromManifests(base.metadata, io, parentManifests, {
    snapshotId: change.snapshotId,
    mayHold: (m) => m.partitionSpecId === change.specId,
    isRemoved: (e) => removedPaths.has(e.dataFile.filePath),
    written,
  });
  if (removed.length !== removedPaths.size) {
    const found = new Set(removed.map((e) => e.dataFile.filePath));
    const gone = [...removedPaths].filter((p) => !found.has(p));
    throw new RewriteConflict(
      `${name}: ${gone.length} of the ${removedPaths.size} files the rewrite replaces are no longer in the table (e.g. ${gone[0]}); another writer changed the partition, compact it again`,
    );
  }
  return { manifests, removed: countFiles(removed.map((e) => e.dataFile)), partitions };
}

async function refuseNewDeletes(
  name: string,
  io: FileIO,
  parentManifests: readonly ManifestFile[],
  change: RewriteChange,
  partitions: Set<string>,
): Promise<void> {
  // A manifest added at or before the starting version holds no delete file newer than it.
  const newer = parentManifests.filter((m) => m.content === 1 && m.sequenceNumber > change.startingSequenceNumber);
  const perManifest = await mapLimit(newer, 8, (m) => readManifestEntries(io, m));
  newer.forEach((m, i) => {
    for (const e of perManifest[i].filter(isDeleteEntry)) {
      if (e.status === 2 || e.sequenceNumber === null || e.sequenceNumber <= change.startingSequenceNumber) continue;
      // A delete file of another partition spec may apply to any partition.
      if (m.partitionSpecId !== change.specId || partitions.has(partitionKey(change.specId, e.dataFile.partition)))
        throw new RewriteConflict(
          `${name}: delete file ${e.dataFile.filePath} was added after the rewrite read its rows and may delete some of them; compact the partition again`,
        );
    }
  });
}
