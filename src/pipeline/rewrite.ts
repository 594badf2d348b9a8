// Compaction's rewrite step: the planned small files of one partition read by DuckDB (position deletes
// applied), written again as files of the target size, checked to hold exactly the rows read (count and
// checksum), and uploaded under names carrying the run id (iceberg/compaction.ts). Fault point
// `compact-after-upload`: the new files are in the table location, no metadata names them yet.
import { join } from 'node:path';
import { rewritePartition, type RewrittenPartition } from '../iceberg/compaction.js';
import type { PartitionCompaction } from '../iceberg/compaction-plan.js';
import type { FileIO } from '../iceberg/io.js';
import type { DuckDBSession } from '../iceberg/parquet.js';
import type { Table } from '../iceberg/table.js';
import { faultPoint } from './faults.js';

export interface RewriteStepOptions {
  tableName: string;
  runId: string;
  targetFileSizeBytes: number;
  /** The run's scratch directory (copies of the files read, the files written). */
  workDir: string;
}

/** Rewrites and uploads one partition's planned files; commits nothing. */
export async function rewriteStep(
  io: FileIO,
  duck: DuckDBSession,
  table: Table,
  job: PartitionCompaction,
  o: RewriteStepOptions,
): Promise<RewrittenPartition> {
  const rewritten = await rewritePartition(io, duck.connection, table, job, {
    targetFileSizeBytes: o.targetFileSizeBytes,
    scratchDir: join(o.workDir, 'rewrite'),
    fileNamePrefix: `${o.runId}-compact`,
  });
  faultPoint('compact-after-upload', o.tableName);
  return rewritten;
}
