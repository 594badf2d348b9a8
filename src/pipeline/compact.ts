// `offload compact`: the small data files of a table's partitions bin-packed into files of the target size,
// one partition per run — each a `replace` snapshot committed with its run record in one transaction, the
// multiset of rows unchanged (checked before upload) and the watermark kept. Under the table's lock, so no
// offload commits meanwhile; against other writers the compare-and-set decides, and a rewrite is built
// again on their version only while every file it replaces is still live (else that partition is skipped:
// another writer changed it). A crash anywhere leaves either the old files or the new ones visible, never
// both: the next claim's recovery reads from the catalog which, and gc collects what the dead run wrote.
//
// Steps of one partition: plan (here: the compaction plan, the run recorded as running) → rewrite
// (rewrite.ts: read, write, check, upload; `compact-after-upload`) → stage (stage.ts;
// `compact-before-commit`) → commit (commit.ts commitMaintenance; `compact-inside-commit`, `compact-after-commit`).
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TableConfig } from '../config/tables.js';
import type { Micros, Watermark } from '../core/watermark.js';
import { microsFromIso } from '../core/watermark.js';
import { CompactionMismatch, type RewrittenPartition } from '../iceberg/compaction.js';
import { planCompaction, type PartitionCompaction, type SkippedCompaction } from '../iceberg/compaction-plan.js';
import { currentSchema, defaultSpec } from '../iceberg/metadata.js';
import type { DuckDBSession } from '../iceberg/parquet.js';
import { partitionPath, type PartitionValue } from '../iceberg/partition.js';
import { readSnapshotFiles } from '../iceberg/reader.js';
import { committedTable, RewriteConflict, type StagedCommit, type Table } from '../iceberg/table.js';
import type { PartitionSpec, Schema } from '../iceberg/types.js';
import { commitMaintenance, type PendingCommit } from './commit.js';
import { OffloadEvents } from './events.js';
import { claimForMaintenance, failMaintenanceRun, startMaintenanceRun, type ClaimedTable, type MaintenanceDeps } from './maintenance.js';
import { periodStart, type TimeTransform } from './plan.js';
import { rewriteStep } from './rewrite.js';
import { stageCompaction } from './stage.js';
import { openWriterDuckDB } from './write.js';

export interface CompactOptions {
  /** Only this partition, by its path as `details` and `verify` print it (e.g. `ts_day=2026-02-11`). */
  partition?: string;
  /** Plan and report; write nothing. */
  dryRun?: boolean;
  /** A partition is compacted from this many small files (default: the table's policy, else 5). */
  minFiles?: number;
  /** Small: below this fraction of the target file size (default: the table's policy, else 0.75). */
  smallFileRatio?: number;
  /**
   * Only partitions closed for at least this long: the watermark has passed the end of their time range, and
   * that end is this long ago. Default: no such limit (a scheduled compaction passes the policy's minAge).
   */
  minAgeMs?: number;
  /** The clock for minAgeMs (tests). */
  now?: Date;
  /** Stops between partitions: a partition under way is finished. */
  signal?: AbortSignal;
  onProgress?: (p: CompactProgress) => void;
  onLog?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export type PartitionCompactionStatus = 'compacted' | 'planned' | 'skipped' | 'failed';

export interface PartitionCompactionResult {
  path: string;
  status: PartitionCompactionStatus;
  /** Data files of the partition before; of them small, and rewritten. */
  filesBefore: number;
  smallFiles: number;
  filesRewritten: number;
  /** Data files of the partition after (planned: expected at most). */
  filesAfter: number;
  /** Position delete files removed with the rows they deleted. */
  deleteFilesRemoved: number;
  rows: number;
  bytesBefore: number;
  bytesAfter: number;
  runId?: string;
  snapshotId?: string;
  reason?: string;
  durationMs: number;
}

export interface TableCompaction {
  table: string;
  target: string;
  status: 'compacted' | 'nothing-to-compact' | 'dry-run' | 'busy' | 'no-table' | 'stopped';
  partitions: PartitionCompactionResult[];
  durationMs: number;
}

/** Live progress: a partition started (with how many are planned) or finished. */
export type CompactProgress =
  | { kind: 'planned'; table: string; partitions: string[] }
  | { kind: 'partition-started'; table: string; path: string; index: number; total: number }
  | { kind: 'partition-finished'; table: string; result: PartitionCompactionResult; index: number; total: number };

const TIME_TRANSFORMS: readonly string[] = ['hour', 'day', 'month', 'year'];

/** A partition's time range [start, end) in µs on the cursor column (its finest time field); null when no field partitions the cursor by time. */
export function partitionTimeRange(
  spec: PartitionSpec,
  schema: Schema,
  cursor: string,
  partition: Record<string, PartitionValue>,
): { start: Micros; end: Micros } | null {
  const cursorField = schema.fields.find((f) => f.name === cursor);
  let range: { start: Micros; end: Micros } | null = null;
  for (const f of spec.fields) {
    if (!cursorField || f['source-id'] !== cursorField.id || !TIME_TRANSFORMS.includes(f.transform)) continue;
    const value = partition[f.name];
    if (value === null || value === undefined) continue;
    const t = f.transform as TimeTransform;
    const r = { start: periodStart(Number(value), t), end: periodStart(Number(value) + 1, t) };
    if (range === null || r.end - r.start < range.end - range.start) range = r;
  }
  return range;
}

/** Why a partition is not closed for `minAgeMs` yet, or null when it is. */
export function openReason(end: Micros | null, watermark: Watermark, now: Date, minAgeMs: number): string | null {
  if (end === null) return 'not partitioned by time of the cursor, so it never closes';
  if (end > microsFromIso(watermark.timestamp)) return 'still open: the watermark has not passed its end';
  const age = now.getTime() - Number(end / 1000n);
  if (age < minAgeMs) return `closed only ${Math.max(0, Math.round(age / 1000))} s ago (policy: ${Math.round(minAgeMs / 1000)} s)`;
  return null;
}

const NO_FILES = {
  filesBefore: 0,
  smallFiles: 0,
  filesRewritten: 0,
  filesAfter: 0,
  deleteFilesRemoved: 0,
  rows: 0,
  bytesBefore: 0,
  bytesAfter: 0,
  durationMs: 0,
};

function sum(values: readonly bigint[]): number {
  return Number(values.reduce((a, b) => a + b, 0n));
}

/** The partitions to compact and those left out (with the reason), before anything is written. */
function planTable(
  cfg: TableConfig,
  claimed: ClaimedTable & { table: Table },
  files: Awaited<ReturnType<typeof readSnapshotFiles>>,
  o: CompactOptions,
) {
  const { metadata } = claimed.table;
  const spec = defaultSpec(metadata);
  const schema = currentSchema(metadata);
  const plan = planCompaction(files, spec['spec-id'], {
    targetFileSizeBytes: cfg.targetFileSizeBytes,
    minFiles: o.minFiles ?? cfg.compaction?.minFiles,
    smallFileRatio: o.smallFileRatio ?? cfg.compaction?.smallFileRatio,
  });
  const specs = new Map(metadata['partition-specs'].map((s) => [s['spec-id'], s]));
  const pathOf = (p: { specId: number; partition: Record<string, PartitionValue> }) =>
    partitionPath(specs.get(p.specId)!, schema, p.partition);
  const jobs: PartitionCompaction[] = [];
  const left: PartitionCompactionResult[] = [];
  const skippedResult = (s: SkippedCompaction | PartitionCompaction, reason: string): PartitionCompactionResult => {
    const own = files.dataFiles.filter((f) => f.specId === s.specId && pathOf(f) === pathOf(s));
    const bytes = sum(own.map((f) => f.fileSizeInBytes));
    return {
      path: pathOf(s),
      status: 'skipped',
      filesBefore: own.length,
      smallFiles: 'smallFileCount' in s ? s.smallFileCount : 0,
      filesRewritten: 0,
      filesAfter: own.length,
      deleteFilesRemoved: 0,
      rows: sum(own.map((f) => f.recordCount)),
      bytesBefore: bytes,
      bytesAfter: bytes,
      reason,
      durationMs: 0,
    };
  };
  if (o.partition && !files.dataFiles.some((f) => pathOf(f) === o.partition))
    left.push({ ...NO_FILES, path: o.partition, status: 'skipped', reason: 'the table has no such partition' });
  for (const s of plan.skipped) if (!o.partition || pathOf(s) === o.partition) left.push(skippedResult(s, s.reason));
  for (const job of plan.partitions) {
    if (o.partition && pathOf(job) !== o.partition) continue;
    const closed =
      o.minAgeMs === undefined
        ? null
        : openReason(
            partitionTimeRange(spec, schema, cfg.cursor, job.partition)?.end ?? null,
            claimed.watermark,
            o.now ?? new Date(),
            o.minAgeMs,
          );
    if (closed) left.push(skippedResult(job, closed));
    else jobs.push(job);
  }
  return { jobs, left, pathOf };
}

function plannedResult(job: PartitionCompaction, path: string): PartitionCompactionResult {
  const rewritten = job.groups.flatMap((g) => g.files);
  const bytes = sum(rewritten.map((f) => f.fileSizeInBytes));
  return {
    path,
    status: 'planned',
    filesBefore: job.fileCount,
    smallFiles: job.smallFileCount,
    filesRewritten: rewritten.length,
    filesAfter: job.fileCount - rewritten.length + job.groups.length,
    deleteFilesRemoved: job.deleteFiles.length,
    rows: sum(rewritten.map((f) => f.recordCount)),
    bytesBefore: bytes,
    bytesAfter: bytes,
    durationMs: 0,
  };
}

/** Compacts a table's partitions (those the options select), one run and one commit per partition. */
export async function compactTable(cfg: TableConfig, deps: MaintenanceDeps, o: CompactOptions = {}): Promise<TableCompaction> {
  const began = Date.now();
  const log = o.onLog ?? (() => undefined);
  const done = (status: TableCompaction['status'], partitions: PartitionCompactionResult[]): TableCompaction => ({
    table: cfg.name,
    target: cfg.target,
    status,
    partitions,
    durationMs: Date.now() - began,
  });
  const claimed = await claimForMaintenance(cfg, deps, log);
  if (!claimed) return done('busy', []);
  let duck: DuckDBSession | undefined;
  try {
    if (!claimed.table) return done('no-table', []);
    let table = claimed.table;
    const files = await readSnapshotFiles(deps.io, table.metadata);
    const { jobs, left, pathOf } = planTable(cfg, { ...claimed, table }, files, o);
    o.onProgress?.({ kind: 'planned', table: cfg.name, partitions: jobs.map((j) => pathOf(j)) });
    if (o.dryRun) return done('dry-run', [...jobs.map((j) => plannedResult(j, pathOf(j))), ...left]);
    if (jobs.length === 0) return done('nothing-to-compact', left);
    const results: PartitionCompactionResult[] = [];
    for (const [i, job] of jobs.entries()) {
      if (o.signal?.aborted) return done('stopped', [...results, ...left]);
      const path = pathOf(job);
      o.onProgress?.({ kind: 'partition-started', table: cfg.name, path, index: i, total: jobs.length });
      duck ??= await openWriterDuckDB({}, deps.workDir);
      const outcome = await compactPartition(cfg, deps, claimed, table, job, path, duck);
      if (outcome.table) table = outcome.table;
      results.push(outcome.result);
      o.onProgress?.({ kind: 'partition-finished', table: cfg.name, result: outcome.result, index: i, total: jobs.length });
      if (outcome.result.status !== 'compacted') log('warn', `${cfg.name} ${path}: not compacted: ${outcome.result.reason}`);
    }
    return done(results.some((r) => r.status === 'compacted') ? 'compacted' : 'nothing-to-compact', [...results, ...left]);
  } finally {
    duck?.close();
    await claimed.lock.release();
  }
}

/** One partition: run recorded, rewrite, stage, commit. A partition another writer changed meanwhile is skipped, not failed. */
async function compactPartition(
  cfg: TableConfig,
  deps: MaintenanceDeps,
  claimed: ClaimedTable,
  table: Table,
  job: PartitionCompaction,
  path: string,
  duck: DuckDBSession,
): Promise<{ result: PartitionCompactionResult; table?: Table }> {
  const planned = plannedResult(job, path);
  const { runId, started } = await startMaintenanceRun(cfg, deps.state, 'compact', claimed.watermark);
  const workDir = join(deps.workDir ?? tmpdir(), `offload-${runId}`);
  let rewritten: RewrittenPartition | undefined;
  let pending: PendingCommit | undefined;
  try {
    await mkdir(workDir, { recursive: true });
    rewritten = await rewriteStep(deps.io, duck, table, job, {
      tableName: cfg.name,
      runId,
      targetFileSizeBytes: cfg.targetFileSizeBytes,
      workDir,
    });
    const stage = {
      tableName: cfg.name,
      runId,
      kind: 'compact' as const,
      watermark: claimed.watermark,
      watermarkRunId: claimed.watermarkRunId,
    };
    pending = { staged: await stageCompaction(table, deps.io, job, rewritten, stage), commitSent: false };
    const bytesAfter = sum(rewritten.dataFiles.map((f) => f.fileSizeInBytes));
    await commitMaintenance(deps, pending, {
      tableName: cfg.name,
      target: cfg.target,
      runId,
      kind: 'compact',
      watermark: claimed.watermark,
      rows: Number(rewritten.rows),
      bytes: bytesAfter,
      files: rewritten.dataFiles.length,
      lockLost: claimed.lock.signal,
      events: new OffloadEvents(),
    });
    return {
      // commitMaintenance commits through the JDBC catalog only: the staged version has its metadata file.
      table: committedTable(pending.staged as StagedCommit),
      result: {
        ...planned,
        status: 'compacted',
        filesAfter: planned.filesBefore - planned.filesRewritten + rewritten.dataFiles.length,
        rows: Number(rewritten.rows),
        bytesAfter,
        runId,
        snapshotId: String(pending.staged.snapshotId),
        durationMs: Date.now() - started,
      },
    };
  } catch (err) {
    await failMaintenanceRun(
      deps,
      cfg,
      runId,
      { staged: pending?.staged, uploaded: rewritten?.dataFiles.map((f) => f.filePath) ?? [], commitSent: pending?.commitSent ?? false },
      err as Error,
    );
    // Another writer changed the partition (skipped), or the rewrite would not hold the rows it read (failed,
    // nothing committed): either way the other partitions go on.
    if (err instanceof RewriteConflict || err instanceof CompactionMismatch) {
      const status = err instanceof RewriteConflict ? 'skipped' : 'failed';
      const reason = (err as Error).message;
      return { result: { ...planned, status, filesAfter: planned.filesBefore, reason, runId, durationMs: Date.now() - started } };
    }
    throw err;
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A scheduled compaction's outcome for one table, as the interval mode logs it. */
export interface ScheduledCompaction {
  table: string;
  status: TableCompaction['status'] | 'failed';
  partitions: number;
  filesBefore: number;
  filesAfter: number;
  error?: string;
}

/**
 * After a scheduled offload (`run --every`): the tables whose configuration opts into compaction, their
 * closed partitions compacted by the policy. One table's failure is reported, never thrown: the schedule goes on.
 */
export async function compactAfterOffload(
  tables: readonly TableConfig[],
  deps: MaintenanceDeps,
  o: { signal?: AbortSignal; onLog?: CompactOptions['onLog'] } = {},
): Promise<ScheduledCompaction[]> {
  const out: ScheduledCompaction[] = [];
  for (const t of tables) {
    if (!t.compaction || o.signal?.aborted) continue;
    try {
      const r = await compactTable(t, deps, { minAgeMs: t.compaction.minAgeMs, signal: o.signal, onLog: o.onLog });
      const done = r.partitions.filter((p) => p.status === 'compacted');
      out.push({
        table: t.name,
        status: r.partitions.some((p) => p.status === 'failed') ? 'failed' : r.status,
        partitions: done.length,
        filesBefore: done.reduce((n, p) => n + p.filesBefore, 0),
        filesAfter: done.reduce((n, p) => n + p.filesAfter, 0),
      });
    } catch (err) {
      out.push({
        table: t.name,
        status: 'failed',
        partitions: 0,
        filesBefore: 0,
        filesAfter: 0,
        error: (err as Error).message.split('\n')[0],
      });
    }
  }
  return out;
}
