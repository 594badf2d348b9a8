// Steps 4–6 overlapped, slice after slice: while DuckDB writes slice i (write.ts), the source streams
// slice i+1 to disk (extract.ts) and the files of slice i−1 upload (upload.ts). At most two slice files
// are on local disk at once. A stop request or a lost table lock abandons the batch at once: its work
// would be discarded before the commit anyway.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TableConfig } from '../config/tables.js';
import type { Lower } from '../clickhouse/window.js';
import { OffloadError } from '../core/errors.js';
import type { Micros } from '../core/watermark.js';
import type { DuckDBSession } from '../iceberg/parquet.js';
import { dataLocation, type Table } from '../iceberg/table.js';
import type { PartitionSpec, Schema } from '../iceberg/types.js';
import type { OffloadEvents } from './events.js';
import { sliceExtractor } from './extract.js';
import type { Slice } from './plan.js';
import { SliceTally, type BatchProgress } from './progress.js';
import type { RowSource, SourceShape } from './source.js';
import { OffloadStopped, throwIfStopped } from './stop.js';
import type { Uploads } from './upload.js';
import { writeSlice, type WrittenFile } from './write.js';

export interface MoveOptions {
  cfg: TableConfig;
  source: RowSource;
  shape: SourceShape;
  schema: Schema;
  spec: PartitionSpec;
  table: Table;
  slices: Slice[];
  lower: Lower | null;
  upper: Micros;
  /** The writer's DuckDB: asked for once the first slice's extraction has started, awaited by the first write. */
  duck: () => Promise<DuckDBSession>;
  workDir: string;
  runId: string;
  events: OffloadEvents;
  /** Queries reading one slice at once (default: extract.ts decides). */
  extractStreams?: number;
  signal?: AbortSignal;
  /** The run's uploads (started here, as slices are written). */
  uploads: Uploads;
  /** Rows the batch was planned with (the cap of a slice's row estimate when its own count is unknown). */
  estimatedRows: number;
  lockLost: AbortSignal;
  /** The batch's progress so far: rows (counted as they stream, exact once written), bytes received, files written. */
  onProgress: (progress: BatchProgress) => void;
}

/** What a batch moved: its data files, all uploaded, and per column the values whose bytes were not UTF-8 (replaced). */
export interface MovedBatch {
  files: WrittenFile[];
  replacedUtf8: Record<string, number>;
}

/** Extract → write → upload of every slice of the batch. */
export async function moveSlices(o: MoveOptions): Promise<MovedBatch> {
  const abort = new AbortController();
  const onLockLost = () => abort.abort(new OffloadError(`${o.cfg.name}: the table's lock was lost`));
  o.lockLost.addEventListener('abort', onLockLost);
  const stopped = () => new OffloadStopped(o.cfg.name, 'while moving its data');
  const onStop = () => abort.abort(stopped());
  o.signal?.addEventListener('abort', onStop);
  const files: WrittenFile[] = [];
  const replacedUtf8: Record<string, number> = {};
  // A slice planned without counts (no time partition on the cursor) is capped by the batch's plan.
  const tally = new SliceTally(o.slices.map((s) => (s.rows > 0 ? s.rows : o.estimatedRows)));
  const report = () => o.onProgress(tally.progress(files.length));
  const phase = (p: 'write' | 'upload') => o.events.emit({ kind: 'phase', table: o.cfg.name, runId: o.runId, phase: p });
  const extract = sliceExtractor({
    source: o.source,
    shape: o.shape,
    lower: o.lower,
    upper: o.upper,
    table: o.cfg.name,
    runId: o.runId,
    workDir: o.workDir,
    streams: o.extractStreams,
    signal: abort.signal,
    onBytes: (slice, bytes) => {
      tally.streamed(slice, { bytes });
      report();
    },
    onRows: (slice, rows) => {
      tally.streamed(slice, { rows });
      report();
    },
  });
  const dataLoc = dataLocation(o.table);
  let pending: ReturnType<typeof extract> | null = o.slices.length > 0 ? extract(o.slices[0]) : null;
  const duck = o.slices.length > 0 ? o.duck() : null;
  try {
    for (let i = 0; i < o.slices.length; i++) {
      throwIfStopped(o.signal, o.cfg.name, 'while moving its data');
      const extracted = await pending!;
      const isLast = i + 1 === o.slices.length;
      pending = isLast ? null : extract(o.slices[i + 1]);
      pending?.catch(() => undefined); // awaited in turn; never an unhandled rejection meanwhile
      // The phase is the step the batch waits on: extraction until the last slice is in, then its writing.
      if (isLast) phase('write');
      const written = await writeSlice({
        connection: (await duck!).connection,
        relation: o.shape.extraction.relation(extracted.map((f) => f.path)),
        schema: o.schema,
        spec: o.spec,
        isSinglePartition: o.slices[i].isSinglePartition,
        targetFileSizeBytes: o.cfg.targetFileSizeBytes,
        outputDir: join(o.workDir, 'data'),
        runId: o.runId,
        slice: i,
        dataLocation: dataLoc,
      });
      await Promise.all(extracted.map((f) => rm(f.path, { force: true })));
      for (const f of extracted)
        for (const [column, n] of Object.entries(f.replacedUtf8 ?? {})) replacedUtf8[column] = (replacedUtf8[column] ?? 0) + n;
      tally.streamed(i, { bytes: extracted.reduce((sum, f) => sum + f.bytes, 0) });
      tally.written(
        i,
        written.reduce((s, f) => s + Number(f.dataFile.recordCount), 0),
      );
      files.push(...written);
      for (const f of written) o.uploads.add(f);
      report();
    }
    phase('upload');
    await o.uploads.finish(o.cfg.name);
    report();
    return { files, replacedUtf8 };
  } catch (err) {
    abort.abort(err);
    await pending?.catch(() => undefined);
    await o.uploads.settle();
    throw o.signal?.aborted && !(err instanceof OffloadStopped) ? stopped() : err;
  } finally {
    o.lockLost.removeEventListener('abort', onLockLost);
    o.signal?.removeEventListener('abort', onStop);
  }
}
