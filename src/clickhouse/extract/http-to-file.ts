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
import type { ClickHouseSource } from '../client.js';

export interface ExtractToFileOptions {
  queryId?: string;
  settings?: ClickHouseSettings;
  /** Query parameters of the statement (SqlValues.params). */
  params?: Record<string, string>;
  signal?: AbortSignal;
  /** Called as bytes arrive (throttled by the caller if it wants). */
  onBytes?: (bytes: number) => void;
}

export interface ExtractedFile {
  path: string;
  bytes: number;
}

/** Passes bytes through and counts them (progress of an extraction streamed to disk). */
export class ByteCounter extends Transform {
  total = 0;
  constructor(private readonly onBytes?: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.total += chunk.length;
    this.onBytes?.(this.total);
    cb(null, chunk);
  }
}

/** Runs `query` (with its FORMAT clause) and pipes the body into `path`; returns the bytes received. */
export async function streamToFile(
  source: ClickHouseSource,
  query: string,
  path: string,
  options: ExtractToFileOptions = {},
): Promise<number> {
  const counter = new ByteCounter(options.onBytes);
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

/** The `Code: NNN …` line of an exception ClickHouse appended to a body it had begun sending, if any. */
export function appendedException(tail: Buffer): string | null {
  return /Code: (\d+)[^\n]*/.exec(tail.toString('latin1'))?.[0] ?? null;
}
