// The one way rows leave ClickHouse for a local file: the HTTP body of `… FORMAT <format>` piped straight to
// disk (bounded memory, never held whole), its bytes counted as they arrive; on any failure the query is
// also stopped on the server, since aborting the request does not stop it on 18.16. What a whole file
// looks like differs by format: csv.ts and parquet.ts check their own.
import { createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClickHouseSettings } from '@clickhouse/client';
import { OffloadError } from '../../core/errors.js';
import { ClickHouseQueryError, type ClickHouseSource } from '../client.js';

export interface ExtractToFileOptions {
  queryId?: string;
  settings?: ClickHouseSettings;
  /** Query parameters of the statement (SqlValues.params). */
  params?: Record<string, string>;
  signal?: AbortSignal;
  /** Called as bytes arrive (throttled by the caller if it wants). */
  onBytes?: (bytes: number) => void;
  /**
   * Called as rows arrive, with the rows of this result received so far (never decreasing), by the paths
   * that can tell rows apart on the way (CSV: its row terminator; a binary format: rows per block). A path
   * that cannot (Parquet: rows are known only from the footer) never calls it.
   */
  onRows?: (rows: number) => void;
}

export interface ExtractedFile {
  path: string;
  bytes: number;
  /** Per source column, values whose bytes were not UTF-8 and were written with U+FFFD (the Native path; absent when none). */
  replacedUtf8?: Record<string, number>;
}

/**
 * Passes bytes through and counts them, and the rows among them when a row terminator is given (progress
 * of an extraction streamed to disk). The terminator is counted wherever it occurs, across chunk edges:
 * a quoted value that holds it counts one row too many, so callers treat the count as an estimate.
 */
export class ByteCounter extends Transform {
  total = 0;
  rows = 0;
  /** The last bytes received before this chunk: a terminator may straddle chunks. */
  private carry = Buffer.alloc(0);
  constructor(
    private readonly onBytes?: (bytes: number) => void,
    private readonly rowEnd?: { terminator: Buffer; onRows?: (rows: number) => void },
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.total += chunk.length;
    if (this.rowEnd) this.countRows(chunk, this.rowEnd.terminator);
    this.onBytes?.(this.total);
    cb(null, chunk);
  }
  private countRows(chunk: Buffer, terminator: Buffer): void {
    const before = this.rows;
    const edge = Buffer.concat([this.carry, chunk.subarray(0, terminator.length - 1)]);
    for (let i = edge.indexOf(terminator); i !== -1; i = edge.indexOf(terminator, i + 1)) {
      // Only terminators that straddle the edge: those wholly inside `chunk` are counted below.
      if (i < this.carry.length && i + terminator.length > this.carry.length) this.rows++;
    }
    for (let i = chunk.indexOf(terminator); i !== -1; i = chunk.indexOf(terminator, i + terminator.length)) this.rows++;
    const tail = chunk.length >= terminator.length - 1 ? chunk : Buffer.concat([this.carry, chunk]);
    this.carry = Buffer.from(tail.subarray(Math.max(0, tail.length - (terminator.length - 1))));
    if (this.rows > before) this.rowEnd?.onRows?.(this.rows);
  }
}

/**
 * Runs `query` (with its FORMAT clause) and pipes the body into `path`; returns the bytes received.
 * `rowTerminator`: the bytes that end every row of the format, counted for `options.onRows`.
 */
export async function streamToFile(
  source: ClickHouseSource,
  query: string,
  path: string,
  options: ExtractToFileOptions = {},
  rowTerminator?: Buffer,
): Promise<number> {
  const counter = new ByteCounter(options.onBytes, rowTerminator ? { terminator: rowTerminator, onRows: options.onRows } : undefined);
  const queryId = options.queryId;
  try {
    await source.run(async (client) => {
      // exec, not query(): the client's streaming ResultSet splits on newlines, which binary bodies contain.
      const result = await client.exec({
        query,
        query_id: queryId,
        clickhouse_settings: options.settings,
        ...(options.params && Object.keys(options.params).length > 0 ? { query_params: options.params } : {}),
        abort_signal: options.signal,
      });
      await pipeline(result.stream, counter, createWriteStream(path), { signal: options.signal });
    }, 'extracting rows');
  } catch (err) {
    // Aborting the request does not stop the query on 18.16: stop it on the server too (best effort: it may be over).
    if (queryId)
      await source.command(`KILL QUERY WHERE query_id = '${queryId.replace(/[^A-Za-z0-9_-]/g, '')}' ASYNC`).catch(() => undefined);
    throw err;
  }
  return counter.total;
}

/**
 * The last (up to 4 KiB) bytes of a file just written, after checking it holds all `bytes` received.
 * `head` > 0 also returns its first bytes.
 */
export async function readEnds(path: string, bytes: number, head = 0): Promise<{ size: number; head: Buffer; tail: Buffer }> {
  const size = (await stat(path)).size;
  if (size !== bytes) throw new OffloadError(`extraction to ${path}: wrote ${size} of ${bytes} bytes`);
  const fh = await open(path, 'r');
  try {
    const first = Buffer.alloc(Math.min(size, head));
    await fh.read(first, 0, first.length, 0);
    const tailSize = Math.min(size, 4096);
    const tail = Buffer.alloc(tailSize);
    await fh.read(tail, 0, tailSize, size - tailSize);
    return { size, head: first, tail };
  } finally {
    await fh.close();
  }
}

/**
 * The exception a server appended to a body it had begun sending, as an error carrying its code (so a value
 * in some row is told apart from anything else); null when `text` holds none.
 */
export function appendedFailure(text: string, options?: { cause?: unknown }): ClickHouseQueryError | null {
  const m = /Code: (\d+)[^\n\r]*/.exec(text);
  if (!m) return null;
  return new ClickHouseQueryError(
    Number(m[1]),
    `ClickHouse failed while sending rows: ${m[0].replace(/, e\.what\(\) = DB::Exception$/, '')}`,
    options,
  );
}

/** The error of a body that did not end as its format must: the exception ClickHouse appended, else `cut`. */
export function incompleteBodyError(tail: Buffer, cut: string): OffloadError {
  return appendedFailure(tail.toString('latin1')) ?? new OffloadError(cut);
}
