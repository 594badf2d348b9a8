// Step 4, extract: the slices of a batch out of the source into local files, one slice at a time
// (RowSource.extractSlice: ClickHouse streams a slice's rows straight to disk — Native transcoded into a
// Parquet file by default). The fault point `mid-extract` fires here, once per run, as the first bytes arrive.
import type { ExtractedFile } from '../clickhouse/extract/http-to-file.js';
import type { Lower } from '../clickhouse/window.js';
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
  /** Queries reading one slice at once (default 2 for tables, 1 for query sources and small slices). */
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
      streams: o.streams ?? (o.shape.window.isQuery || (slice.rows > 0 && slice.rows < 200_000) ? 1 : 2),
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
