// Which files compaction rewrites: per partition, its small data files bin-packed into groups of about
// the target size, each group to become one file (more only when the rows compress worse than before).
// Pure: it sees the snapshot's live files and the policy, nothing else.
//
// Delete files (other engines' merge-on-read deletes) shape the plan: a partition with position deletes
// is rewritten whole, the deletes applied, and its position delete files removed in the same commit (so
// no delete can lose the rows it deleted); a partition that equality deletes may reach, or any
// partition while delete files of another partition spec exist, is skipped with the reason.
import { partitionKey, type LiveDataFile, type LiveDeleteFile, type SnapshotFiles } from './reader.js';
import type { PartitionValue } from './partition.js';

export interface CompactionPolicy {
  /** The size compaction writes files at (the table's target file size). */
  targetFileSizeBytes: number;
  /** A data file is small below this fraction of the target (default 0.75, as Iceberg's Java rewrite). */
  smallFileRatio?: number;
  /** A partition is compacted once it has at least this many small files (default 5). */
  minFiles?: number;
  /** A partition with at least this many position delete files is rewritten whatever its file sizes (default: never for that reason alone). */
  deleteFileThreshold?: number;
}

/** Files rewritten together into about one target-size file. */
export interface CompactionGroup {
  files: LiveDataFile[];
  bytes: bigint;
  records: bigint;
}

export interface PartitionCompaction {
  specId: number;
  partition: Record<string, PartitionValue>;
  /** partitionKey of the partition. */
  key: string;
  groups: CompactionGroup[];
  /** Position delete files applied by the rewrite and removed with the files they delete from. */
  deleteFiles: LiveDeleteFile[];
  /** Data files of the partition before, and how many of them were small. */
  fileCount: number;
  smallFileCount: number;
}

export interface SkippedCompaction {
  specId: number;
  partition: Record<string, PartitionValue>;
  key: string;
  reason: string;
}

export interface CompactionPlan {
  partitions: PartitionCompaction[];
  skipped: SkippedCompaction[];
}

export const DEFAULT_SMALL_FILE_RATIO = 0.75;
export const DEFAULT_MIN_FILES = 5;

/**
 * First-fit decreasing: files (largest first) go into the first group they fit in under `capacity`
 * bytes, else into a new group. A file at or above the capacity is a group of its own.
 */
export function binPack(files: readonly LiveDataFile[], capacity: bigint): CompactionGroup[] {
  const groups: CompactionGroup[] = [];
  const sorted = [...files].sort((a, b) =>
    b.fileSizeInBytes > a.fileSizeInBytes ? 1 : b.fileSizeInBytes < a.fileSizeInBytes ? -1 : a.filePath < b.filePath ? -1 : 1,
  );
  for (const f of sorted) {
    const group = groups.find((g) => g.bytes + f.fileSizeInBytes <= capacity);
    if (group) {
      group.files.push(f);
      group.bytes += f.fileSizeInBytes;
      group.records += f.recordCount;
    } else groups.push({ files: [f], bytes: f.fileSizeInBytes, records: f.recordCount });
  }
  return groups;
}

/** The compaction of every partition of the default spec that the policy selects; `specId` is the table's default spec. */
export function planCompaction(files: SnapshotFiles, specId: number, policy: CompactionPolicy): CompactionPlan {
  const ratio = policy.smallFileRatio ?? DEFAULT_SMALL_FILE_RATIO;
  const minFiles = policy.minFiles ?? DEFAULT_MIN_FILES;
  if (!(policy.targetFileSizeBytes > 0)) throw new RangeError(`target file size must be positive (got ${policy.targetFileSizeBytes})`);
  if (!(ratio > 0 && ratio <= 1)) throw new RangeError(`small file ratio must be in (0, 1] (got ${ratio})`);
  if (!(Number.isInteger(minFiles) && minFiles >= 2)) throw new RangeError(`min files must be a whole number ≥ 2 (got ${minFiles})`);
  const target = BigInt(Math.trunc(policy.targetFileSizeBytes));
  const smallBelow = BigInt(Math.trunc(policy.targetFileSizeBytes * ratio));

  const byPartition = new Map<
    string,
    { specId: number; partition: Record<string, PartitionValue>; data: LiveDataFile[]; deletes: LiveDeleteFile[] }
  >();
  const entry = (f: LiveDataFile | LiveDeleteFile) => {
    const key = partitionKey(f.specId, f.partition);
    const known = byPartition.get(key);
    if (known) return known;
    const p = { specId: f.specId, partition: f.partition, data: [], deletes: [] };
    byPartition.set(key, p);
    return p;
  };
  for (const f of files.dataFiles) entry(f).data.push(f);
  for (const f of files.deleteFiles) entry(f).deletes.push(f);
  const foreignSpecDeletes = files.deleteFiles.some((f) => f.specId !== specId);

  const plan: CompactionPlan = { partitions: [], skipped: [] };
  for (const [key, p] of [...byPartition].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (p.data.length === 0) continue;
    const small = p.data.filter((f) => f.fileSizeInBytes < smallBelow);
    const positionDeletes = p.deletes.filter((f) => f.content === 1);
    const bySize = small.length >= minFiles;
    const byDeletes = policy.deleteFileThreshold !== undefined && positionDeletes.length >= policy.deleteFileThreshold;
    if (!bySize && !byDeletes) continue;
    const skip = (reason: string) => plan.skipped.push({ specId: p.specId, partition: p.partition, key, reason });
    if (p.specId !== specId) skip(`written with partition spec ${p.specId}, not the table's current spec ${specId}`);
    else if (p.deletes.some((f) => f.content === 2)) skip('equality deletes apply to it (compaction applies position deletes only)');
    else if (foreignSpecDeletes) skip('the table has delete files of another partition spec, which may apply to any partition');
    else {
      // With position deletes, every data file of the partition is rewritten: a delete file may point into any of them.
      const groups = positionDeletes.length > 0 ? binPack(p.data, target) : binPack(small, target).filter((g) => g.files.length > 1);
      if (groups.length === 0) continue;
      plan.partitions.push({
        specId: p.specId,
        partition: p.partition,
        key,
        groups,
        deleteFiles: positionDeletes,
        fileCount: p.data.length,
        smallFileCount: small.length,
      });
    }
  }
  return plan;
}
