// Extract: what is read from ClickHouse for a table (its columns, how they travel, the window predicate)
// and the extraction of one slice of a batch into a local file — Parquet on current servers, CSV on older
// ones (src/clickhouse/extract/format.ts picks the path, from the connection's capabilities). Slices are cut
// along the partition periods of the cursor (plan.ts sliceBatch).
import { join } from 'node:path';
import type { TableConfig } from '../config/tables.js';
import type { ClickHouseCapabilities, ClickHouseSource } from '../clickhouse/client.js';
import type { ColumnInfo } from '../clickhouse/types.js';
import { literalValues, qualifiedName, quoteIdentifier, type SqlValues } from '../clickhouse/sql.js';
import type { ExtractedFile } from '../clickhouse/extract/http-to-file.js';
import { extractionPath, type ExtractionPath } from '../clickhouse/extract/format.js';
import { checkTieBreakType, cursorCondition, cursorTypeOf, windowPredicate, windowSettings, type Lower, type WindowSource } from '../clickhouse/window.js';
import { SchemaError } from '../core/errors.js';
import { duckdbTypeOfColumn } from '../mapping/clickhouse-to-iceberg.js';
import type { PartitionSpec, Schema } from '../iceberg/types.js';
import type { Slice, TimeTransform } from './plan.js';

/** Everything about reading one configured table: columns, how they travel, the window source. */
export interface SourceShape {
  columns: ColumnInfo[];
  extraction: ExtractionPath;
  window: WindowSource;
}

/** The columns of what a table reads (its query's output, or the source table's columns), in order. */
export async function sourceColumns(ch: ClickHouseSource, cfg: TableConfig): Promise<ColumnInfo[]> {
  return cfg.query ? ch.describeQuery(cfg.query) : ch.columns(cfg.sourceTable!);
}

export function sourceShape(cfg: TableConfig, columns: ColumnInfo[], caps: ClickHouseCapabilities): SourceShape {
  const what = cfg.query ? `the query of ${cfg.name}` : cfg.source!;
  const byName = new Map(columns.map((c) => [c.name, c.type]));
  const cursorType = byName.get(cfg.cursor);
  if (cursorType === undefined) throw new SchemaError(`${cfg.name}: cursor column "${cfg.cursor}" is not in ${what}`);
  if (cfg.tieBreak !== null) {
    const t = byName.get(cfg.tieBreak);
    if (t === undefined) throw new SchemaError(`${cfg.name}: tie-break column "${cfg.tieBreak}" is not in ${what}`);
    checkTieBreakType(t, `${cfg.name}: tie-break column "${cfg.tieBreak}"`);
  }
  return {
    columns,
    extraction: extractionPath(columns, caps, what, duckdbTypeOfColumn),
    window: {
      from: cfg.query ? `(${cfg.query})` : qualifiedName(cfg.sourceTable!),
      isQuery: cfg.query !== null,
      cursor: cfg.cursor,
      cursorType: cursorTypeOf(cursorType, `${cfg.name}: cursor column "${cfg.cursor}"`),
      tieBreak: cfg.tieBreak,
    },
  };
}

/** The time transform the spec applies to the cursor column (the finest, if several), and whether other fields partition too. */
export function cursorPartitioning(spec: PartitionSpec, schema: Schema, cursor: string): { transform: TimeTransform | null; hasOtherFields: boolean } {
  const cursorField = schema.fields.find((f) => f.name === cursor);
  const order: TimeTransform[] = ['hour', 'day', 'month', 'year'];
  let transform: TimeTransform | null = null;
  let hasOtherFields = false;
  for (const f of spec.fields) {
    if (f.transform === 'void') continue;
    const t = f.transform as TimeTransform;
    if (cursorField && f['source-id'] === cursorField.id && order.includes(t)) {
      if (transform === null || order.indexOf(t) < order.indexOf(transform)) transform = t;
    } else hasOtherFields = true;
  }
  return { transform, hasOtherFields };
}

/** The predicate of one slice: the batch's window and the slice's [from, to) range. */
export function slicePredicate(src: WindowSource, lower: Lower | null, upper: bigint, slice: Slice, values: SqlValues = literalValues()): string {
  const parts = [windowPredicate(src, lower, upper, values)];
  if (slice.from !== null) parts.push(cursorCondition(src, '>=', slice.from, values));
  if (slice.to !== null) parts.push(cursorCondition(src, '<', slice.to, values));
  return parts.join(' AND ');
}

export interface ExtractSliceOptions {
  workDir: string;
  runId: string;
  /**
   * Parallel streams: the slice is read by this many queries at once, each taking the rows whose cursor
   * hashes to its share (rows sharing a cursor value stay in one stream), each into its own file. ClickHouse
   * formats one result on one core; two streams use both, and DuckDB reads the files in parallel.
   */
  streams?: number;
  signal?: AbortSignal;
  onBytes?: (bytes: number) => void;
}

/** Streams one slice of a batch into `<workDir>/slice-N[-k].parquet` (or `.csv`): one file per stream. */
export async function extractSlice(ch: ClickHouseSource, shape: SourceShape, lower: Lower | null, upper: bigint, slice: Slice, o: ExtractSliceOptions): Promise<ExtractedFile[]> {
  const values = await ch.values();
  const where = slicePredicate(shape.window, lower, upper, slice, values);
  const streams = Math.max(1, Math.trunc(o.streams ?? 1));
  const bytes = new Array<number>(streams).fill(0);
  const files = await Promise.all(
    Array.from({ length: streams }, (_, k) => {
      const part = streams === 1 ? where : `${where} AND cityHash64(${quoteIdentifier(shape.window.cursor)}) % ${streams} = ${k}`;
      const sql = shape.extraction.query(shape.window.from, part);
      const name = streams === 1 ? `slice-${slice.index}` : `slice-${slice.index}-${k}`;
      return shape.extraction.extract(ch, sql, join(o.workDir, `${name}.${shape.extraction.extension}`), {
        queryId: `offload-${o.runId}-${slice.index}${streams === 1 ? '' : `-${k}`}`,
        settings: windowSettings(shape.window),
        params: values.params,
        signal: o.signal,
        onBytes: (b) => {
          bytes[k] = b;
          o.onBytes?.(bytes.reduce((x, y) => x + y, 0));
        },
      });
    }),
  );
  return files;
}

/** The DuckDB relation over an extracted slice's files: the table's columns with their Iceberg-shaped values. */
export function sliceRelation(shape: SourceShape, files: string[]): string {
  return shape.extraction.relation(files);
}
