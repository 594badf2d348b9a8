// Step 4, extract: the slices of a batch out of the source into local files, one slice at a time
// (RowSource.extractSlice: ClickHouse streams a slice's rows straight to disk — Native transcoded into a
// Parquet file by default). The fault point `mid-extract` fires here, once per run, as the first bytes arrive.
// A repair extracts the rows of one partition up to the watermark the same way (`repair-mid-extract`).
import { join } from 'node:path';
import type { ClickHouseSource } from '../clickhouse/client.js';
import type { ExtractedFile } from '../clickhouse/extract/http-to-file.js';
import { windowSettings, type Lower } from '../clickhouse/window.js';
import type { Micros } from '../core/watermark.js';
import { faultPoint } from './faults.js';
import type { Slice } from './plan.js';
import type { RowSource, SourceShape } from './source.js';

export interface SliceExtractorOptions {
  source: RowSource;
  shape: SourceShape;
  /** The batch's window: (lower, upper]. */
  lower: Lower | null;
  upper: Micros;
  /** The configured table's name (the fault point's table). */
  table: string;
  runId: string;
  workDir: string;
  /** Queries reading one slice at once (default 1 for Native and query sources and small slices, 2 for tables over CSV/Parquet). */
  streams?: number;
  signal: AbortSignal;
  /** Bytes of slice `slice` received so far. */
  onBytes: (slice: number, bytes: number) => void;
  /** Rows of slice `slice` received so far, when the extraction path counts them as they stream. */
  onRows: (slice: number, rows: number) => void;
}

/** Extraction of one batch's slices into `workDir`, slice by slice. */
export function sliceExtractor(o: SliceExtractorOptions): (slice: Slice) => Promise<ExtractedFile[]> {
  let midExtractFired = false;
  return (slice) =>
    o.source.extractSlice(o.shape, o.lower, o.upper, slice, {
      workDir: o.workDir,
      runId: o.runId,
      // A query source aggregates: reading it twice costs more than one core formatting its (few) rows.
      // Native: one stream — the server sends it faster than one transcoder reads it, and a second query
      // reads and hashes every row again (measured on 5M rows: 10% faster on the current engine, −15 MB peak
      // RSS, −2.5% file size as rows stay in the table's order). Text formats are bound by the server's
      // formatting: two.
      streams:
        o.streams ?? (o.shape.extraction.format === 'Native' || o.shape.window.isQuery || (slice.rows > 0 && slice.rows < 200_000) ? 1 : 2),
      signal: o.signal,
      onBytes: (b) => {
        if (!midExtractFired && b > 0) {
          midExtractFired = true;
          faultPoint('mid-extract', o.table);
        }
        o.onBytes(slice.index, b);
      },
      onRows: (n) => o.onRows(slice.index, n),
    });
}

export interface PartitionExtractOptions {
  /** The rows to take: up to the watermark, in the partition (SQL over what the table reads). */
  where: string;
  params?: Record<string, string>;
  /** The configured table's name (the fault point's table). */
  table: string;
  runId: string;
  workDir: string;
}

/** A repair's rows into one local file; fault point `repair-mid-extract` as the first bytes arrive. */
export async function extractPartitionRows(
  clickhouse: ClickHouseSource,
  shape: SourceShape,
  o: PartitionExtractOptions,
): Promise<ExtractedFile> {
  let fired = false;
  return shape.extraction.extract(
    clickhouse,
    shape.extraction.query(shape.window.from, o.where),
    join(o.workDir, `repair.${shape.extraction.extension}`),
    {
      queryId: `offload-${o.runId}-repair`,
      settings: windowSettings(shape.window),
      params: o.params,
      onBytes: (b) => {
        if (!fired && b > 0) {
          fired = true;
          faultPoint('repair-mid-extract', o.table);
        }
      },
    },
  );
}
