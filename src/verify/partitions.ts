// Per partition, the rows ClickHouse holds up to the watermark against the rows the Iceberg table holds:
// the row count and an order-independent checksum of every column both have, computed where the rows are —
// by ClickHouse over its rows (clickhouse/checksum.ts, one GROUP BY query) and by DuckDB over the table's
// Parquet files with position deletes applied (iceberg/checksum.ts, one partition at a time) — so no row
// travels into Node. Equal numbers mean equal multisets of rows (up to a 64-bit hash collision). `offload
// verify` prints this; the drills' rows-lost/duplicated check (rows.ts) starts from it and reads rows only
// of the partitions that differ.
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { OffloadError } from '../core/errors.js';
import { parseChecksumRow, partitionChecksumSql, partitionPredicateSql, type ChecksumPartitionField } from '../clickhouse/checksum.js';
import type { TableConfig } from '../config/tables.js';
import { EPOCH, sameWatermark, type Watermark } from '../core/watermark.js';
import { partitionOfTextKey, partitionTextKey, readPartitionChecksums } from '../iceberg/checksum.js';
import { readPartitionStats } from '../iceberg/reader.js';
import { currentSchema, currentSnapshot, defaultSpec } from '../iceberg/metadata.js';
import { openDuckDB } from '../iceberg/parquet.js';
import { partitionPath, type PartitionValue } from '../iceberg/partition.js';

import { parseIdentifier, type TableMetadata } from '../iceberg/types.js';
import { qualifiedName } from '../clickhouse/sql.js';
import { checksumShape } from '../mapping/checksum-query.js';
import { upToWatermarkSql } from '../pipeline/status.js';
import { snapshotWatermark } from '../pipeline/stage.js';
import * as watermarks from '../state/watermarks.js';
import type { VerifyServices } from './check.js';

/** What is read for a table: its query as a subquery, or its source table. */
export function readFrom(t: TableConfig): string {
  return t.query ? `(${t.query})` : qualifiedName(t.sourceTable!);
}

export type PartitionServices = Pick<VerifyServices, 'clickhouse' | 'pool' | 'io' | 'catalog'>;

/** One side's numbers for a partition. */
export interface PartitionNumbers {
  rows: bigint;
  checksum: bigint;
}

export interface PartitionComparison {
  /** Hive-style path, e.g. `exchange_timestamp_day=2026-02-11` ('' for an unpartitioned table). */
  path: string;
  /** The partition's values as texts (JSON), as both sides compute them. */
  key: string;
  partition: Record<string, PartitionValue>;
  /** null: ClickHouse has no row of it up to the watermark. */
  clickhouse: PartitionNumbers | null;
  /** null: the Iceberg table has no live row in it. */
  iceberg: PartitionNumbers | null;
  /** unverifiable: equality deletes (another engine's) may apply to it; its rows are known only row by row. */
  status: 'match' | 'differ' | 'unverifiable';
  reason?: string;
}

export interface PartitionChecksums {
  /** The watermark ClickHouse's rows were taken up to. */
  watermark: Watermark;
  /** The columns compared, in order. */
  columns: string[];
  /** Iceberg columns the source lacks: left out of both sides. */
  skippedColumns: string[];
  /** The spec's fields over their ClickHouse columns (what a partition predicate is made of). */
  partitionBy: ChecksumPartitionField[];
  partitions: PartitionComparison[];
  clickhouseRows: number;
  icebergRows: number;
}

export interface PartitionCheckOptions {
  /** Only this partition (its path). */
  partition?: string;
  /** Called as each partition's comparison is known (`done` of about `total`: Iceberg's side goes one partition at a time). */
  onPartition?: (p: PartitionComparison, done: number, total: number) => void;
  /** A DuckDB connection to use (default: one of its own). */
  duck?: DuckDBConnection;
}

const sumRows = (ps: ReadonlyArray<PartitionNumbers | null>) => Number(ps.reduce((n, p) => n + (p?.rows ?? 0n), 0n));

const equalNumbers = (a: PartitionNumbers | null, b: PartitionNumbers | null) =>
  (a?.rows ?? 0n) === (b?.rows ?? 0n) && (a?.checksum ?? 0n) === (b?.checksum ?? 0n);

/**
 * Why a partition's two sides differ, in the words an operator acts on (undefined when they agree): rows
 * missing on one side, or the same number of rows with other values (one checksum covers every column).
 */
export function differenceOf(clickhouse: PartitionNumbers | null, iceberg: PartitionNumbers | null): string | undefined {
  if (equalNumbers(clickhouse, iceberg)) return undefined;
  const ch = clickhouse?.rows ?? 0n;
  const ice = iceberg?.rows ?? 0n;
  if (ch > ice) return `${ch - ice} row(s) in ClickHouse up to the watermark that Iceberg lacks`;
  if (ice > ch) return `${ice - ch} row(s) in Iceberg that ClickHouse no longer has up to the watermark`;
  return 'as many rows on both sides, other values: rows changed in ClickHouse after they were offloaded';
}

/** The partitions' numbers on both sides, for ClickHouse's rows up to `watermark` and the table version `metadata`. */
export async function checksumPartitions(
  s: PartitionServices,
  cfg: TableConfig,
  metadata: TableMetadata,
  watermark: Watermark,
  o: PartitionCheckOptions = {},
): Promise<PartitionChecksums> {
  const schema = currentSchema(metadata);
  const spec = defaultSpec(metadata);
  const sourceColumns = cfg.query ? await s.clickhouse.describeQuery(cfg.query) : await s.clickhouse.columns(cfg.sourceTable!);
  const types = new Map(sourceColumns.map((c) => [c.name, c.type]));
  const shape = checksumShape(schema, spec, types);

  // ClickHouse first (one query, grouped by partition; one partition's rows when one is asked for), so each
  // partition's verdict is known as soon as DuckDB has its numbers.
  const fromClickHouse = new Map<string, PartitionNumbers>();
  if (!sameWatermark(watermark, EPOCH)) {
    const values = await s.clickhouse.values();
    const where = [upToWatermarkSql(cfg, types.get(cfg.cursor)!, watermark, values)];
    if (o.partition !== undefined) {
      const known = (await readPartitionStats(s.io, metadata)).find((p) => p.path === o.partition && p.specId === spec['spec-id']);
      if (known)
        where.push(
          partitionPredicateSql(shape.partitionBy, JSON.parse(partitionTextKey(spec, schema, known.partition)) as Array<string | null>),
        );
    }
    const sql = partitionChecksumSql({
      from: readFrom(cfg),
      where: where.join(' AND '),
      columns: shape.columns,
      partitionBy: shape.partitionBy,
    });
    for (const row of await s.clickhouse.query<Record<string, unknown>>(sql, { params: values.params })) {
      const c = parseChecksumRow(row, shape.partitionBy.length);
      fromClickHouse.set(c.key, { rows: c.rows, checksum: c.checksum });
    }
  }

  const scratch = join(tmpdir(), `offload-verify-${randomBytes(4).toString('hex')}`);
  await mkdir(scratch, { recursive: true });
  const own = o.duck ? null : await openDuckDB({ threads: 2, memoryLimit: '512MB', tempDirectory: join(scratch, 'spill') });
  try {
    const compared: PartitionComparison[] = [];
    const verdict = (p: Omit<PartitionComparison, 'status'>): PartitionComparison => {
      const reason = differenceOf(p.clickhouse, p.iceberg);
      return reason === undefined ? { ...p, status: 'match' } : { ...p, status: 'differ', reason };
    };
    const iceberg = await readPartitionChecksums(s.io, o.duck ?? own!.connection, metadata, {
      columns: shape.columns.map((c) => c.name),
      scratchDir: scratch,
      ...(o.partition !== undefined ? { paths: [o.partition] } : {}),
      onPartition: (p, index, total) => {
        const c = verdict({
          path: p.path,
          key: p.key,
          partition: p.partition,
          clickhouse: fromClickHouse.get(p.key) ?? null,
          iceberg: { rows: p.rows, checksum: p.checksum },
        });
        compared.push(c);
        o.onPartition?.(c, index + 1, total);
      },
    });
    const seen = new Set(compared.map((c) => c.key));
    // Partitions ClickHouse has and the Iceberg table has not (rows lost, or never offloaded).
    for (const [key, numbers] of fromClickHouse) {
      if (seen.has(key)) continue;
      const partition = partitionOfTextKey(spec, schema, key);
      const path = partitionPath(spec, schema, partition);
      if (o.partition !== undefined && path !== o.partition) continue;
      const c = verdict({ path, key, partition, clickhouse: numbers, iceberg: null });
      compared.push(c);
      o.onPartition?.(c, compared.length, compared.length);
    }
    const unverifiable = iceberg.skipped.map(
      (p): PartitionComparison => ({
        path: p.path,
        key: '',
        partition: p.partition,
        clickhouse: null,
        iceberg: null,
        status: 'unverifiable',
        reason: p.reason,
      }),
    );
    const all = [...compared, ...unverifiable].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return {
      watermark,
      columns: shape.columns.map((c) => c.name),
      skippedColumns: shape.skippedColumns,
      partitionBy: shape.partitionBy,
      partitions: all,
      clickhouseRows: sumRows(compared.map((p) => p.clickhouse)),
      icebergRows: sumRows(compared.map((p) => p.iceberg)),
    };
  } finally {
    own?.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

export interface TablePartitionCheck {
  table: string;
  target: string;
  /** no-table: the Iceberg table does not exist yet (every ClickHouse partition up to the watermark differs then). */
  status: 'match' | 'differ' | 'unverifiable' | 'no-table';
  checksums: PartitionChecksums | null;
  /** The current snapshot the Iceberg side read (null: none). */
  snapshotId: string | null;
  elapsedMs: number;
}

/**
 * `offload verify` of one table: the Iceberg table's current version, and ClickHouse's rows up to the
 * watermark that version carries (its snapshot's offload.watermark; the PostgreSQL watermark when the
 * snapshot is another engine's) — the same cut on both sides, whatever an offload commits meanwhile.
 */
export async function verifyPartitions(
  s: PartitionServices,
  cfg: TableConfig,
  o: PartitionCheckOptions = {},
): Promise<TablePartitionCheck> {
  const began = performance.now();
  const ident = parseIdentifier(cfg.target);
  const entry = await s.catalog.loadTable(ident);
  const mark = await watermarks.read(s.pool, cfg.name);
  const elapsed = () => Math.round(performance.now() - began);
  if (!entry?.metadataLocation) {
    const w = mark?.watermark ?? EPOCH;
    const rows = sameWatermark(w, EPOCH)
      ? 0
      : Number(
          (
            await s.clickhouse.query<{ n: string }>(
              `SELECT count() AS n FROM ${readFrom(cfg)} WHERE ${upToWatermarkSql(cfg, await cursorTypeOf(s, cfg), w)}`,
            )
          )[0]?.n ?? 0,
        );
    return {
      table: cfg.name,
      target: cfg.target,
      status: rows === 0 ? 'match' : 'no-table',
      checksums: null,
      snapshotId: null,
      elapsedMs: elapsed(),
    };
  }
  const table = await s.catalog.loadTable(ident);
  if (!table) throw new OffloadError(`${cfg.target}: the catalog names the table but it could not be loaded`);
  const watermark = snapshotWatermark(table.metadata) ?? mark?.watermark ?? EPOCH;
  const checksums = await checksumPartitions(s, cfg, table.metadata, watermark, o);
  const status = checksums.partitions.some((p) => p.status === 'differ')
    ? 'differ'
    : checksums.partitions.some((p) => p.status === 'unverifiable')
      ? 'unverifiable'
      : 'match';
  const snap = currentSnapshot(table.metadata);
  return {
    table: cfg.name,
    target: cfg.target,
    status,
    checksums,
    snapshotId: snap ? String(snap['snapshot-id']) : null,
    elapsedMs: elapsed(),
  };
}

async function cursorTypeOf(s: PartitionServices, cfg: TableConfig): Promise<string> {
  const cols = cfg.query ? await s.clickhouse.describeQuery(cfg.query) : await s.clickhouse.columns(cfg.sourceTable!);
  return cols.find((c) => c.name === cfg.cursor)?.type ?? 'DateTime';
}
