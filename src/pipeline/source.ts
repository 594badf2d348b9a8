// The source the offload reads rows from. RowSource is what the batch loop asks of it — a table's shape,
// the source's clock and window statistics for planning (plan.ts), one slice of a batch into local files
// (extract.ts) — so the loop runs on in-memory rows in a unit test. ClickHouseRows is the source itself:
// Native transcoded to Parquet on every server by default (clickhouse/extract/format.ts picks the path, from the
// connection's capabilities), window statistics from clickhouse/window.ts.
import { join } from 'node:path';
import type { TableConfig } from '../config/tables.js';
import type { ClickHouseCapabilities, ClickHouseSource } from '../clickhouse/client.js';
import type { ColumnInfo } from '../clickhouse/types.js';
import { literalValues, qualifiedName, quoteIdentifier, readableValues, type SqlValues } from '../clickhouse/sql.js';
import type { ExtractedFile } from '../clickhouse/extract/http-to-file.js';
import { extractionPath, type ExtractionPath } from '../clickhouse/extract/format.js';
import {
  checkTieBreakType,
  cursorCondition,
  cursorTypeOf,
  readBucketCounts,
  readWindowFingerprints,
  readWindowStats,
  sourceNow,
  windowPredicate,
  windowSettings,
  type CursorFingerprint,
  type Lower,
  type WindowSource,
} from '../clickhouse/window.js';
import { ConfigError } from '../core/errors.js';
import type { Micros } from '../core/watermark.js';
import { duckdbTypeOfColumn } from '../mapping/clickhouse-to-iceberg.js';

/** Rows counted per cursor value (or per bucket of cursor values: `cursor` is then the bucket's first value). */
export interface CursorCount {
  cursor: Micros;
  rows: number;
}

/** A part of a batch, extracted and written on its own (plan.ts cuts batches into slices). */
export interface Slice {
  index: number;
  /** [from, to) in µs, cursor values; null = unbounded on that side (the window bounds it). */
  from: Micros | null;
  to: Micros | null;
  rows: number;
  /** Holds rows of one partition at most: files may roll at the target size. */
  isSinglePartition: boolean;
}

/** Everything about reading one configured table: columns, how they travel, the window source. */
export interface SourceShape {
  columns: ColumnInfo[];
  extraction: ExtractionPath;
  window: WindowSource;
}

/** What the batch loop reads rows through. */
export interface RowSource {
  /** How a configured table is read: its columns, how they travel, its window. */
  shape(cfg: TableConfig): Promise<SourceShape>;
  /** The source's clock, in µs. */
  now(): Promise<Micros>;
  /** Rows in the window (lower, cutoff] and the newest cursor value among them. */
  windowStats(window: WindowSource, lower: Lower | null, cutoff: Micros): Promise<{ rows: number; newest: Micros | null }>;
  /** Rows per bucket of `bucketMicros` (bucket = floor(cursor / size) * size) in (lower, upper] ∩ [from, to), ascending. */
  bucketCounts(
    window: WindowSource,
    lower: Lower | null,
    upper: Micros,
    bucketMicros: Micros,
    range?: { from: Micros; to: Micros },
  ): Promise<CursorCount[]>;
  /** One slice of a batch into `<workDir>/slice-N[-k].<extension>`: one file per stream. */
  extractSlice(
    shape: SourceShape,
    lower: Lower | null,
    upper: Micros,
    slice: Slice,
    options: ExtractSliceOptions,
  ): Promise<ExtractedFile[]>;
  /** Reads (lower, upper] as an extraction does, keeping nothing: the error the source meets there, or null. */
  probe(shape: SourceShape, lower: Lower | null, upper: Micros): Promise<Error | null>;
  /** Where a person finds the rows of (lower, upper]: a query to run, or for a query source the condition to add to it. */
  rowsHint(shape: SourceShape, lower: Lower | null, upper: Micros): RowsHint;
  /** Rows and a fingerprint of their values per cursor value of (lower, upper] (a candle table's windows). */
  windowFingerprints(shape: SourceShape, lower: Lower | null, upper: Micros): Promise<CursorFingerprint[]>;
}

/** How a person sees some rows of a table at the source. */
export type RowsHint = { kind: 'query'; sql: string } | { kind: 'condition'; sql: string };

/** The columns of what a table reads (its query's output, or the source table's columns), in order. */
export async function sourceColumns(ch: ClickHouseSource, cfg: TableConfig): Promise<ColumnInfo[]> {
  return cfg.query ? ch.describeQuery(cfg.query) : ch.columns(cfg.sourceTable!);
}

export function sourceShape(cfg: TableConfig, columns: ColumnInfo[], caps: ClickHouseCapabilities): SourceShape {
  const what = cfg.query ? `the query of ${cfg.name}` : cfg.source!;
  const byName = new Map(columns.map((c) => [c.name, c.type]));
  const cursorType = byName.get(cfg.cursor);
  // A column the configuration names and the source lacks is the configuration's to fix (exit 3).
  if (cursorType === undefined) throw new ConfigError(`${cfg.name}: cursor column "${cfg.cursor}" is not in ${what}`);
  if (cfg.tieBreak !== null) {
    const t = byName.get(cfg.tieBreak);
    if (t === undefined) throw new ConfigError(`${cfg.name}: tie-break column "${cfg.tieBreak}" is not in ${what}`);
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

/** The predicate of one slice: the batch's window and the slice's [from, to) range. */
export function slicePredicate(
  src: WindowSource,
  lower: Lower | null,
  upper: bigint,
  slice: Slice,
  values: SqlValues = literalValues(),
): string {
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
   * formats a CSV or Parquet result on one core; two streams use both, and DuckDB reads the files in parallel.
   * (Native needs one: the server sends it faster than one transcoder reads it — pipeline/extract.ts.)
   */
  streams?: number;
  signal?: AbortSignal;
  /** Bytes of the slice received so far, every stream together. */
  onBytes?: (bytes: number) => void;
  /** Rows of the slice received so far, every stream together, when the extraction path counts them. */
  onRows?: (rows: number) => void;
}

/** The ClickHouse source: a table's shape from the server, window statistics and slices by SQL. */
export class ClickHouseRows implements RowSource {
  constructor(readonly clickhouse: ClickHouseSource) {}

  async shape(cfg: TableConfig): Promise<SourceShape> {
    const caps = await this.clickhouse.capabilities();
    return sourceShape(cfg, await sourceColumns(this.clickhouse, cfg), caps);
  }

  now(): Promise<Micros> {
    return sourceNow(this.clickhouse);
  }

  windowStats(window: WindowSource, lower: Lower | null, cutoff: Micros): Promise<{ rows: number; newest: Micros | null }> {
    return readWindowStats(this.clickhouse, window, lower, cutoff);
  }

  bucketCounts(
    window: WindowSource,
    lower: Lower | null,
    upper: Micros,
    bucketMicros: Micros,
    range?: { from: Micros; to: Micros },
  ): Promise<CursorCount[]> {
    return readBucketCounts(this.clickhouse, window, lower, upper, bucketMicros, range);
  }

  async extractSlice(
    shape: SourceShape,
    lower: Lower | null,
    upper: Micros,
    slice: Slice,
    o: ExtractSliceOptions,
  ): Promise<ExtractedFile[]> {
    const values = await this.clickhouse.values();
    const where = slicePredicate(shape.window, lower, upper, slice, values);
    const streams = Math.max(1, Math.trunc(o.streams ?? 1));
    const bytes = new Array<number>(streams).fill(0);
    const rows = new Array<number>(streams).fill(0);
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
    const files = await Promise.all(
      Array.from({ length: streams }, (_, k) => {
        const part = streams === 1 ? where : `${where} AND cityHash64(${quoteIdentifier(shape.window.cursor)}) % ${streams} = ${k}`;
        const sql = shape.extraction.query(shape.window.from, part);
        const name = streams === 1 ? `slice-${slice.index}` : `slice-${slice.index}-${k}`;
        return shape.extraction.extract(this.clickhouse, sql, join(o.workDir, `${name}.${shape.extraction.extension}`), {
          queryId: `offload-${o.runId}-${slice.index}${streams === 1 ? '' : `-${k}`}`,
          settings: windowSettings(shape.window),
          params: values.params,
          signal: o.signal,
          onBytes: (b) => {
            bytes[k] = b;
            o.onBytes?.(sum(bytes));
          },
          onRows: (n) => {
            rows[k] = n;
            o.onRows?.(sum(rows));
          },
        });
      }),
    );
    return files;
  }

  async probe(shape: SourceShape, lower: Lower | null, upper: Micros): Promise<Error | null> {
    const values = await this.clickhouse.values();
    const sql = shape.extraction.query(shape.window.from, windowPredicate(shape.window, lower, upper, values));
    try {
      // FORMAT Null: every value is computed (a cast that overflows fails), none is sent.
      await this.clickhouse.command(`${sql} FORMAT Null`, { settings: windowSettings(shape.window), params: values.params });
      return null;
    } catch (err) {
      return err as Error;
    }
  }

  windowFingerprints(shape: SourceShape, lower: Lower | null, upper: Micros): Promise<CursorFingerprint[]> {
    return readWindowFingerprints(
      this.clickhouse,
      shape.window,
      shape.columns.map((c) => c.name),
      lower,
      upper,
    );
  }

  rowsHint(shape: SourceShape, lower: Lower | null, upper: Micros): RowsHint {
    const where = rowsCondition(shape.window, lower, upper);
    return shape.window.isQuery
      ? { kind: 'condition', sql: where }
      : { kind: 'query', sql: `SELECT * FROM ${shape.window.from} WHERE ${where}` };
  }
}

/** (lower, upper] in literals a person reads; `cursor = X` when the range holds one cursor value. */
function rowsCondition(src: WindowSource, lower: Lower | null, upper: Micros): string {
  const values = readableValues();
  if (lower !== null && lower.tieBreak === null && upper - lower.cursor <= cursorUnit(src)) return cursorCondition(src, '=', upper, values);
  return windowPredicate(src, lower, upper, values);
}

/** The step between two cursor values, in µs: a second, a day, or DateTime64's precision. */
export function cursorUnit(src: Pick<WindowSource, 'cursorType'>): Micros {
  const t = src.cursorType;
  if (t.kind === 'DateTime') return 1_000_000n;
  if (t.kind === 'Date') return 86_400_000_000n;
  return t.precision >= 6 ? 1n : 10n ** BigInt(6 - t.precision);
}
