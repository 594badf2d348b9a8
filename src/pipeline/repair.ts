// `offload repair --table T --partition P`: the rows ClickHouse holds for one partition up to the watermark
// replace that partition's files in ONE replace-partitions commit, the watermark unchanged — for a partition
// that changed in ClickHouse after it was offloaded (a mutation, a restored backup, a late batch), as
// `offload verify` finds them. Under the table's lock, so no offload commits meanwhile and "up to the
// watermark" means the same rows at extraction and at commit; the commit checks the watermark unchanged
// anyway. Exactly once: the new files become visible with the run record in one transaction, or not at
// all; after a crash the next claim's recovery reads from the catalog whether the repair committed, and a
// repair repeated writes the same rows again (a partition is replaced, never appended to). A partition
// that ClickHouse no longer has any row of is emptied (its files deleted, none added).
//
// Steps: plan (here: which partition, which rows; the run recorded as running) → extract (extract.ts;
// `repair-mid-extract`) → write (write.ts) → upload (upload.ts; `repair-after-upload`) → stage (stage.ts;
// `repair-before-commit`) → commit (commit.ts commitMaintenance; `repair-inside-commit`, `repair-after-commit`).
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseSource } from '../clickhouse/client.js';
import { parseChecksumRow, partitionChecksumSql, partitionPredicateSql } from '../clickhouse/checksum.js';
import { cursorCondition, windowSettings } from '../clickhouse/window.js';
import type { TableConfig } from '../config/tables.js';
import { SchemaError, UsageError } from '../core/errors.js';
import type { Watermark } from '../core/watermark.js';
import { partitionOfTextKey, partitionTextKey } from '../iceberg/checksum.js';
import { currentSchema, defaultSpec } from '../iceberg/metadata.js';
import type { DuckDBSession } from '../iceberg/parquet.js';
import { partitionPath, type PartitionValue } from '../iceberg/partition.js';
import { readPartitionStats, type PartitionStats } from '../iceberg/reader.js';
import { dataLocation, type Table } from '../iceberg/table.js';
import { checksumShape, type ChecksumShape } from '../mapping/checksum-query.js';
import { commitMaintenance, type PendingCommit } from './commit.js';
import { partitionTimeRange } from './compact.js';
import { OffloadEvents } from './events.js';
import { extractPartitionRows } from './extract.js';
import { claimForMaintenance, failMaintenanceRun, startMaintenanceRun, type ClaimedTable, type MaintenanceDeps } from './maintenance.js';
import { ClickHouseRows, type SourceShape } from './source.js';
import { stageRepair } from './stage.js';
import { upToWatermarkSql } from './status.js';
import { Uploads } from './upload.js';
import { openWriterDuckDB, writeSlice, type WrittenFile } from './write.js';

/** What a repair is handed: a compaction's services and the ClickHouse source itself (it extracts with its own predicate). */
export interface RepairDeps extends MaintenanceDeps {
  clickhouse: ClickHouseSource;
}

export type RepairPhase = 'plan' | 'extract' | 'write' | 'upload' | 'stage' | 'commit';

export interface RepairOptions {
  /** The partition, by its path as `details` and `verify` print it (e.g. `ts_day=2026-02-11`). */
  partition: string;
  /** Count the rows on both sides; write nothing. */
  dryRun?: boolean;
  onPhase?: (phase: RepairPhase) => void;
  onLog?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface PartitionRepair {
  table: string;
  target: string;
  partition: string;
  /** emptied: ClickHouse has no row of it up to the watermark, so its files were deleted and none added. */
  status: 'repaired' | 'emptied' | 'nothing-to-repair' | 'dry-run' | 'busy' | 'no-table';
  watermark: Watermark | null;
  /** The partition in Iceberg before (null: it had no files). */
  before: { rows: number; files: number; deleteFiles: number } | null;
  /** What ClickHouse holds for it up to the watermark: the rows written (dry run: to write), in how many files. */
  after: { rows: number; files: number } | null;
  runId?: string;
  snapshotId?: string;
  durationMs: number;
}

/** The partition to repair: its values (Iceberg's, or from ClickHouse's side when Iceberg has none of it) and texts. */
interface Target {
  partition: Record<string, PartitionValue>;
  texts: Array<string | null>;
  iceberg: PartitionStats | null;
  /** ClickHouse rows of it up to the watermark. */
  rows: number;
}

/** Rows per partition of ClickHouse's rows matching `where`, keyed by partition texts (JSON). */
async function clickhouseRowsByPartition(
  clickhouse: ClickHouseSource,
  cfg: TableConfig,
  shape: SourceShape,
  checksum: ChecksumShape,
  where: string,
  params: Record<string, string>,
): Promise<Map<string, number>> {
  const cursor = { name: cfg.cursor, type: shape.columns.find((c) => c.name === cfg.cursor)!.type };
  const sql = partitionChecksumSql({ from: shape.window.from, where, columns: [cursor], partitionBy: checksum.partitionBy });
  const rows = await clickhouse.query<Record<string, unknown>>(sql, { params, settings: windowSettings(shape.window) });
  return new Map(rows.map((r) => parseChecksumRow(r, checksum.partitionBy.length)).map((c) => [c.key, Number(c.rows)]));
}

/** The ClickHouse condition of the partition's rows up to the watermark (with the cursor's time range, so the server can skip parts). */
function partitionRowsSql(
  cfg: TableConfig,
  shape: SourceShape,
  checksum: ChecksumShape,
  table: Table,
  t: Target,
  w: Watermark,
  values: Awaited<ReturnType<ClickHouseSource['values']>>,
): string {
  const cursorType = shape.columns.find((c) => c.name === cfg.cursor)!.type;
  const parts = [upToWatermarkSql(cfg, cursorType, w, values), partitionPredicateSql(checksum.partitionBy, t.texts)];
  const range = partitionTimeRange(defaultSpec(table.metadata), currentSchema(table.metadata), cfg.cursor, t.partition);
  if (range) parts.push(cursorCondition(shape.window, '>=', range.start, values), cursorCondition(shape.window, '<', range.end, values));
  return parts.join(' AND ');
}

async function findTarget(
  deps: RepairDeps,
  cfg: TableConfig,
  claimed: ClaimedTable & { table: Table },
  shape: SourceShape,
  checksum: ChecksumShape,
  path: string,
): Promise<Target> {
  const { metadata } = claimed.table;
  const spec = defaultSpec(metadata);
  const schema = currentSchema(metadata);
  const stats = await readPartitionStats(deps.io, metadata);
  const iceberg = stats.find((p) => p.path === path) ?? null;
  if (iceberg && iceberg.specId !== spec['spec-id'])
    throw new UsageError(
      `${cfg.name}: partition ${path} was written with an older partition spec; only partitions of the current spec can be repaired`,
    );
  if (iceberg && (iceberg.equalityDeletes > 0n || iceberg.positionDeletes > 0n))
    throw new UsageError(`${cfg.name}: partition ${path} has another engine's delete files; repairing it would undo that engine's deletes`);
  const values = await deps.clickhouse.values();
  const cursorType = shape.columns.find((c) => c.name === cfg.cursor)!.type;
  const upTo = upToWatermarkSql(cfg, cursorType, claimed.watermark, values);
  if (iceberg) {
    const texts = JSON.parse(partitionTextKey(spec, schema, iceberg.partition)) as Array<string | null>;
    const t: Target = { partition: iceberg.partition, texts, iceberg, rows: 0 };
    const counts = await clickhouseRowsByPartition(
      deps.clickhouse,
      cfg,
      shape,
      checksum,
      partitionRowsSql(cfg, shape, checksum, claimed.table, t, claimed.watermark, values),
      values.params,
    );
    return { ...t, rows: [...counts.values()].reduce((a, b) => a + b, 0) };
  }
  // Not in Iceberg: a partition whose rows never arrived there (lost, or late beyond the lag). Found by its path among ClickHouse's.
  const counts = await clickhouseRowsByPartition(deps.clickhouse, cfg, shape, checksum, upTo, values.params);
  for (const [key, rows] of counts) {
    const partition = partitionOfTextKey(spec, schema, key);
    if (partitionPath(spec, schema, partition) === path)
      return { partition, texts: JSON.parse(key) as Array<string | null>, iceberg: null, rows };
  }
  const known = stats.map((p) => p.path).slice(0, 3);
  throw new UsageError(
    `${cfg.name}: no partition ${path} in ${cfg.target} nor among ClickHouse's rows up to the watermark${known.length ? ` (partitions look like ${known.join(', ')})` : ''}`,
  );
}

/** The source's columns must be the Iceberg table's: a repair writes whole rows, it never evolves the schema. */
function checkColumns(cfg: TableConfig, shape: SourceShape, table: Table): void {
  const source = new Set(shape.columns.map((c) => c.name));
  const fields = currentSchema(table.metadata).fields.map((f) => f.name);
  const missing = fields.filter((f) => !source.has(f));
  if (missing.length > 0)
    throw new SchemaError(
      `${cfg.name}: ${cfg.target} has columns the source no longer has (${missing.join(', ')}); repair writes whole rows and cannot fill them`,
    );
  const added = [...source].filter((c) => !fields.includes(c));
  if (added.length > 0)
    throw new SchemaError(
      `${cfg.name}: the source has columns ${cfg.target} does not have yet (${added.join(', ')}); run an offload first, which adds them`,
    );
}

/** Repairs one partition of a table: its files replaced by the rows ClickHouse holds for it up to the watermark. */
export async function repairPartition(cfg: TableConfig, deps: RepairDeps, o: RepairOptions): Promise<PartitionRepair> {
  const began = Date.now();
  const log = o.onLog ?? (() => undefined);
  const result = (status: PartitionRepair['status'], rest: Partial<PartitionRepair> = {}): PartitionRepair => ({
    table: cfg.name,
    target: cfg.target,
    partition: o.partition,
    status,
    watermark: null,
    before: null,
    after: null,
    ...rest,
    durationMs: Date.now() - began,
  });
  o.onPhase?.('plan');
  const claimed = await claimForMaintenance(cfg, deps, log);
  if (!claimed) return result('busy');
  let duck: DuckDBSession | undefined;
  try {
    if (!claimed.table) return result('no-table');
    const table = claimed.table;
    const shape = await new ClickHouseRows(deps.clickhouse).shape(cfg);
    checkColumns(cfg, shape, table);
    const types = new Map(shape.columns.map((c) => [c.name, c.type]));
    const checksum = checksumShape(currentSchema(table.metadata), defaultSpec(table.metadata), types);
    const target = await findTarget(deps, cfg, { ...claimed, table }, shape, checksum, o.partition);
    const before = target.iceberg
      ? { rows: Number(target.iceberg.recordCount), files: target.iceberg.fileCount, deleteFiles: target.iceberg.deleteFileCount }
      : null;
    const common = { watermark: claimed.watermark, before };
    if (o.dryRun) return result('dry-run', { ...common, after: { rows: target.rows, files: 0 } });
    if (target.rows === 0 && !target.iceberg) return result('nothing-to-repair', common);
    duck = await openWriterDuckDB({}, deps.workDir);
    return await repairRun(cfg, deps, claimed, table, shape, checksum, target, duck, o, result, common);
  } finally {
    duck?.close();
    await claimed.lock.release();
  }
}

async function repairRun(
  cfg: TableConfig,
  deps: RepairDeps,
  claimed: ClaimedTable,
  table: Table,
  shape: SourceShape,
  checksum: ChecksumShape,
  target: Target,
  duck: DuckDBSession,
  o: RepairOptions,
  result: (status: PartitionRepair['status'], rest?: Partial<PartitionRepair>) => PartitionRepair,
  common: Partial<PartitionRepair>,
): Promise<PartitionRepair> {
  const { runId } = await startMaintenanceRun(cfg, deps.state, 'repair', claimed.watermark);
  const workDir = join(deps.workDir ?? tmpdir(), `offload-${runId}`);
  const uploads = new Uploads(deps.io, 2);
  let pending: PendingCommit | undefined;
  try {
    await mkdir(workDir, { recursive: true });
    const schema = currentSchema(table.metadata);
    const spec = defaultSpec(table.metadata);
    let written: WrittenFile[] = [];
    // A partition ClickHouse has no row of (up to the watermark) is emptied: nothing to extract.
    if (target.rows > 0) {
      o.onPhase?.('extract');
      const values = await deps.clickhouse.values();
      const where = partitionRowsSql(cfg, shape, checksum, table, target, claimed.watermark, values);
      const extracted = await extractPartitionRows(deps.clickhouse, shape, {
        where,
        params: values.params,
        table: cfg.name,
        runId,
        workDir,
      });
      o.onPhase?.('write');
      written = await writeSlice({
        connection: duck.connection,
        relation: shape.extraction.relation([extracted.path]),
        schema,
        spec,
        isSinglePartition: true,
        targetFileSizeBytes: cfg.targetFileSizeBytes,
        outputDir: join(workDir, 'data'),
        runId,
        slice: 0,
        dataLocation: dataLocation(table),
      });
      await rm(extracted.path, { force: true });
    }
    const stray = written.find((w) => partitionPath(spec, schema, w.dataFile.partition) !== o.partition);
    if (stray)
      throw new SchemaError(
        `${cfg.name}: a row read for ${o.partition} falls into ${partitionPath(spec, schema, stray.dataFile.partition)}; nothing committed`,
      );
    o.onPhase?.('upload');
    for (const w of written) uploads.add(w);
    await uploads.finish(cfg.name, 'repair-after-upload');
    o.onPhase?.('stage');
    const dataFiles = written.map((w) => ({ ...w.dataFile, partition: { ...target.partition } }));
    const stage = {
      tableName: cfg.name,
      runId,
      kind: 'repair' as const,
      watermark: claimed.watermark,
      watermarkRunId: claimed.watermarkRunId,
    };
    pending = { staged: await stageRepair(table, deps.io, dataFiles, target.partition, stage), commitSent: false };
    o.onPhase?.('commit');
    const rows = dataFiles.reduce((n, f) => n + Number(f.recordCount), 0);
    await commitMaintenance(deps, pending, {
      tableName: cfg.name,
      target: cfg.target,
      runId,
      kind: 'repair',
      watermark: claimed.watermark,
      rows,
      bytes: dataFiles.reduce((n, f) => n + Number(f.fileSizeInBytes), 0),
      files: dataFiles.length,
      lockLost: claimed.lock.signal,
      events: new OffloadEvents(),
    });
    return result(dataFiles.length === 0 ? 'emptied' : 'repaired', {
      ...common,
      after: { rows, files: dataFiles.length },
      runId,
      snapshotId: String(pending.staged.snapshotId),
    });
  } catch (err) {
    await uploads.settle();
    await failMaintenanceRun(
      deps,
      cfg,
      runId,
      { staged: pending?.staged, uploaded: uploads.started, commitSent: pending?.commitSent ?? false },
      err as Error,
    );
    throw err;
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
