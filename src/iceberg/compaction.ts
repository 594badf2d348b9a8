// Compaction of one partition: the rows of the planned files (position deletes applied) are read by
// DuckDB from local copies, written again as Parquet files of the target size in the same partition,
// checked to hold exactly the same multiset of rows (row count and checksum, src/iceberg/checksum.ts),
// uploaded under new names, and swapped in by one `replace` snapshot (stageRewrite) through the
// catalog's compare-and-set. Nothing is deleted: the replaced files stay for the snapshots that read
// them, until snapshot expiry. What is uploaded but never committed is an orphan for gc.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { mapLimit } from '../core/concurrency.js';
import { CommitConflict, OffloadError } from '../core/errors.js';
import type { CatalogConnection, PointerCatalog } from './catalog.js';
import { checksumQuerySql } from './checksum.js';
import type { PartitionCompaction } from './compaction-plan.js';
import type { FileIO } from './io.js';
import { currentSchema, defaultSpec } from './metadata.js';
import { writeDataFiles } from './parquet.js';
import { partitionKey } from './reader.js';
import { readParquetByFieldIdSql, scanLiveRows } from './scan.js';
import { commitWithRetry, dataLocation, discardStaged, RewriteConflict, stageRewrite, type StagedCommit, type Table } from './table.js';
import type { DataFile } from './types.js';
import { formatIdentifier } from './types.js';

/** The rewrite's output does not hold the rows it read: nothing was committed. */
export class CompactionMismatch extends OffloadError {}

export interface RewriteOptions {
  targetFileSizeBytes: number;
  /** Local directory for copies and new files (default: a fresh one under the OS temp dir, removed after). */
  scratchDir?: string;
  /** New files are named `<prefix>-NNNNN.parquet` (default `compact-<random>`). */
  fileNamePrefix?: string;
}

export interface RewrittenPartition {
  /** The new data files, uploaded under the table's data location. */
  dataFiles: DataFile[];
  /** What was read: data file records minus the rows position deletes removed. */
  rows: bigint;
  checksum: bigint;
  bytesRead: number;
}

/**
 * Reads the partition's planned files (its position deletes applied), writes the rows as new data files
 * in the same partition, checks that count and checksum of the new files equal those of the rows read,
 * and uploads them. Commits nothing. Throws CompactionMismatch when the check fails (new files removed).
 */
export async function rewritePartition(
  io: FileIO,
  connection: DuckDBConnection,
  table: Table,
  job: PartitionCompaction,
  options: RewriteOptions,
): Promise<RewrittenPartition> {
  const name = formatIdentifier(table.ident);
  const schema = currentSchema(table.metadata);
  const spec = defaultSpec(table.metadata);
  const scratch = options.scratchDir ?? (await mkdtemp(join(tmpdir(), 'offload-compact-')));
  const tag = randomBytes(6).toString('hex');
  const rowsTable = `__compact_rows_${tag}`;
  const prefix = options.fileNamePrefix ?? `compact-${tag}`;
  const uploaded: string[] = [];
  const files = job.groups.flatMap((g) => g.files);
  const scan = await scanLiveRows(io, connection, scratch, { schema, dataFiles: files, deleteFiles: job.deleteFiles });
  try {
    // Materialized once: the writer scans its input twice, and the checksum once more.
    await connection.run(`CREATE TEMP TABLE ${rowsTable} AS SELECT * FROM (${scan.relation})`);
    const read = await checksumOf(connection, `SELECT * FROM ${rowsTable}`, schema.fields);
    if (read.rows === 0n) throw new CompactionMismatch(`${name}: every row of partition ${job.key} is deleted; nothing to compact into`);
    const outputDir = join(scratch, `out-${tag}`);
    const written = await writeDataFiles({
      connection,
      relation: `SELECT * FROM ${rowsTable}`,
      schema,
      partitionSpec: spec,
      targetFileSizeBytes: options.targetFileSizeBytes,
      outputDir,
      fileNamePrefix: prefix,
      dataLocation: dataLocation(table),
    });
    const strays = written.filter((w) => partitionKey(spec['spec-id'], w.dataFile.partition) !== job.key);
    if (strays.length > 0)
      throw new CompactionMismatch(
        `${name}: rewritten rows of partition ${job.key} fell into another partition (${strays[0].relativePath})`,
      );
    const check = await checksumOf(
      connection,
      `SELECT * FROM ${readParquetByFieldIdSql(
        written.map((w) => w.localPath),
        schema,
      )}`,
      schema.fields,
    );
    if (check.rows !== read.rows || check.checksum !== read.checksum)
      throw new CompactionMismatch(
        `${name}: the rewritten files of partition ${job.key} hold ${check.rows} rows (checksum ${check.checksum}) where ${read.rows} (checksum ${read.checksum}) were read; nothing committed`,
      );
    // Partition values come from the plan (the manifests' own), not from DuckDB's recomputation.
    const dataFiles = written.map((w) => ({ ...w.dataFile, partition: { ...job.partition } }));
    await mapLimit(written, 4, async (w) => {
      await io.write(w.dataFile.filePath, { file: w.localPath });
      uploaded.push(w.dataFile.filePath);
    });
    return { dataFiles, rows: read.rows, checksum: read.checksum, bytesRead: scan.bytesCopied };
  } catch (err) {
    await io.deleteMany(uploaded).catch(() => undefined);
    throw err;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${rowsTable}`).catch(() => undefined);
    await scan.close();
    if (!options.scratchDir) await rm(scratch, { recursive: true, force: true });
  }
}

async function checksumOf(
  connection: DuckDBConnection,
  relation: string,
  fields: Parameters<typeof checksumQuerySql>[1],
): Promise<{ rows: bigint; checksum: bigint }> {
  const [r] = (await connection.runAndReadAll(checksumQuerySql(relation, fields))).getRowObjectsJS();
  return { rows: BigInt(r.rows as bigint), checksum: BigInt(r.checksum as bigint) };
}

export interface RewriteSummary {
  /** Properties of the new snapshot's summary. */
  summaryProperties?: Record<string, string>;
  /** Properties copied from the parent snapshot it is built on (see stageRewrite). */
  carrySummaryKeys?: string[];
}

/** Stages the `replace` snapshot of a rewritten partition on `table` (the version the rows were read at). */
export function stagePartitionRewrite(
  table: Table,
  io: FileIO,
  job: PartitionCompaction,
  rewritten: RewrittenPartition,
  summary: RewriteSummary = {},
): Promise<StagedCommit> {
  return stageRewrite(
    table,
    io,
    { removedFiles: [...job.groups.flatMap((g) => g.files), ...job.deleteFiles], dataFiles: rewritten.dataFiles },
    summary,
  );
}

export interface CompactedPartition {
  key: string;
  table: Table;
  removedDataFiles: number;
  removedDeleteFiles: number;
  addedDataFiles: number;
  rows: bigint;
}

/**
 * Rewrite, stage and commit one partition (the compare-and-set on its own, restaged on a lost race while
 * that is safe: RewriteConflict otherwise). For callers without a transaction of their own; when the
 * commit is certainly lost, the uploaded files and staged metadata are deleted.
 */
export async function compactPartition(
  db: CatalogConnection,
  catalog: PointerCatalog,
  io: FileIO,
  connection: DuckDBConnection,
  table: Table,
  job: PartitionCompaction,
  options: RewriteOptions & RewriteSummary & { maxAttempts?: number },
): Promise<CompactedPartition> {
  const rewritten = await rewritePartition(io, connection, table, job, options);
  let staged: StagedCommit;
  try {
    staged = await stagePartitionRewrite(table, io, job, rewritten, options);
  } catch (err) {
    await io.deleteMany(rewritten.dataFiles.map((f) => f.filePath)).catch(() => undefined);
    throw err;
  }
  let committed: Table;
  try {
    committed = await commitWithRetry(db, catalog, io, staged, { maxAttempts: options.maxAttempts });
  } catch (err) {
    // A lost race is certain: nothing of this rewrite is committed. Any other failure may have come after the
    // compare-and-set went through (a dropped connection), so its files stay, for gc to judge later.
    if (err instanceof CommitConflict || err instanceof RewriteConflict)
      await discardStaged(io, staged, { dataFiles: true }).catch(() => undefined);
    throw err;
  }
  return {
    key: job.key,
    table: committed,
    removedDataFiles: job.groups.reduce((n, g) => n + g.files.length, 0),
    removedDeleteFiles: job.deleteFiles.length,
    addedDataFiles: rewritten.dataFiles.length,
    rows: rewritten.rows,
  };
}
