// Both sides of the per-partition verification for one configured table: ClickHouse's numbers over its
// rows up to the committed watermark (src/clickhouse/checksum.ts) and DuckDB's over the Iceberg table's
// files (src/iceberg/checksum.ts), by partition key. How phase 2's `verify` will call the two pieces.
import assert from 'node:assert/strict';
import type { DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';
import { parseChecksumRow, partitionChecksumSql } from '../../src/clickhouse/checksum.js';
import type { TableConfig } from '../../src/config/tables.js';
import type { ClickHouseSource } from '../../src/clickhouse/client.js';
import { qualifiedName } from '../../src/clickhouse/sql.js';
import * as watermarks from '../../src/state/watermarks.js';
import type { Catalog } from '../../src/iceberg/catalog.js';
import { readPartitionChecksums } from '../../src/iceberg/checksum.js';
import type { FileIO } from '../../src/iceberg/io.js';
import { currentSchema, defaultSpec } from '../../src/iceberg/metadata.js';
import { checksumShape } from '../../src/mapping/checksum-query.js';
import { upToWatermarkSql } from '../../src/pipeline/status.js';

export interface ChecksumSources {
  ch: ClickHouseSource;
  pool: pg.Pool;
  catalog: Catalog;
  io: FileIO;
  duck: DuckDBConnection;
}

export interface PartitionNumbers {
  rows: bigint;
  checksum: bigint;
}

export interface BothSides {
  clickhouse: Map<string, PartitionNumbers>;
  iceberg: Map<string, PartitionNumbers>;
  /** Partition path by key. */
  paths: Map<string, string>;
  columns: number;
}

export async function checksumBothSides(s: ChecksumSources, t: TableConfig): Promise<BothSides> {
  const table = await s.catalog.loadTable({ namespace: t.targetNamespace.join('.'), name: t.targetTable });
  assert.ok(table, `${t.target} exists`);
  const state = await watermarks.read(s.pool, t.name);
  assert.ok(state, `${t.name} has a watermark`);
  const sourceColumns = t.query ? await s.ch.describeQuery(t.query) : await s.ch.columns(t.sourceTable!);
  const types = new Map(sourceColumns.map((c) => [c.name, c.type]));
  const shape = checksumShape(currentSchema(table.metadata), defaultSpec(table.metadata), types);
  assert.deepEqual(shape.skippedColumns, [], `${t.name}: every Iceberg column is compared`);
  const values = await s.ch.values();
  const sql = partitionChecksumSql({
    from: t.query ? `(${t.query})` : qualifiedName(t.sourceTable!),
    where: upToWatermarkSql(t, types.get(t.cursor)!, state.watermark, values),
    columns: shape.columns,
    partitionBy: shape.partitionBy,
  });
  const rows = await s.ch.query<Record<string, unknown>>(sql, { params: values.params });
  const ice = await readPartitionChecksums(s.io, s.duck, table.metadata, { columns: shape.columns.map((c) => c.name) });
  assert.deepEqual(ice.skipped, []);
  return {
    clickhouse: new Map(
      rows.map((r) => parseChecksumRow(r, shape.partitionBy.length)).map((c) => [c.key, { rows: c.rows, checksum: c.checksum }]),
    ),
    iceberg: new Map(ice.partitions.map((p) => [p.key, { rows: p.rows, checksum: p.checksum }])),
    paths: new Map(ice.partitions.map((p) => [p.key, p.path])),
    columns: shape.columns.length,
  };
}

/** Asserts both sides hold the same partitions with the same numbers; returns how many partitions and rows. */
export function assertSidesAgree(name: string, sides: BothSides): { partitions: number; rows: bigint } {
  assert.ok(sides.iceberg.size > 0, `${name} has partitions`);
  assert.deepEqual([...sides.clickhouse.keys()].sort(), [...sides.iceberg.keys()].sort(), `${name}: the same partitions`);
  for (const [key, ice] of sides.iceberg)
    assert.deepEqual(sides.clickhouse.get(key), ice, `${name} ${sides.paths.get(key)} (${sides.columns} columns)`);
  assert.ok([...sides.iceberg.values()].every((v) => v.rows > 0n && v.checksum > 0n));
  return { partitions: sides.iceberg.size, rows: [...sides.iceberg.values()].reduce((n, v) => n + v.rows, 0n) };
}
