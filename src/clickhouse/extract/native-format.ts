// Reading ClickHouse's Native format from an HTTP body as it arrives: a sequence of blocks, each
// `VarUInt columns, VarUInt rows`, then per column its name, its type name and, when rows > 0, its values
// column-wise (fixed-width values little-endian back to back; a String as VarUInt length + bytes; Nullable
// as a null map then the values; Array as cumulative UInt64 end offsets then the elements; Tuple and Map
// element by element). HTTP output carries no per-block info (that is the TCP protocol's).
//
// ByteSource copies the received chunks into one arena that is reused from block to block, and hands out
// slices of it: fixed-width columns are never copied again, and the steady state allocates nothing (a new
// buffer per column or per chunk made garbage collection the transcoder's largest cost, measured).
import type { Readable } from 'node:stream';
import { OffloadError } from '../../core/errors.js';

/** Values in PLAIN Parquet layout, with each value's start (n + 1 entries): strings after the length rewrite. */
export interface VarValues {
  data: Buffer;
  pos: Int32Array;
}

/** A buffer reused from block to block, grown when a block needs more (its contents live until the next `take`). */
export class Scratch {
  private buf: Buffer = Buffer.alloc(0);
  take(n: number): Buffer {
    if (this.buf.length < n) this.buf = Buffer.allocUnsafeSlow(Math.max(n, Math.ceil(this.buf.length * 1.5)));
    return this.buf.subarray(0, n);
  }
}

export class ByteSource {
  /** The arena: received bytes live in [0, end); `pos` is the read position. */
  buf: Buffer = Buffer.allocUnsafeSlow(1 << 22);
  pos = 0;
  private end = 0;
  /** Bytes received so far. */
  received = 0;
  private ended = false;

  constructor(
    private readonly chunks: AsyncIterator<Buffer>,
    private readonly onBytes?: (received: number) => void,
  ) {}

  /**
   * Declares every slice handed out so far unused (the caller wrote them out): the unread bytes move to the
   * front of the arena and the space behind them is reused.
   */
  release(): void {
    if (this.pos === 0) return;
    this.buf.copy(this.buf, 0, this.pos, this.end);
    this.end -= this.pos;
    this.pos = 0;
  }

  available(): number {
    return this.end - this.pos;
  }

  /** Makes `n` bytes from `pos` available in `buf`; false when the body ends before that. */
  async need(n: number): Promise<boolean> {
    while (this.end - this.pos < n) {
      if (this.ended) return false;
      const r = await this.chunks.next();
      if (r.done) {
        this.ended = true;
        return false;
      }
      const chunk = r.value as Buffer;
      this.received += chunk.length;
      this.onBytes?.(this.received);
      if (this.end + chunk.length > this.buf.length) {
        // Slices handed out since the last release stay valid: the arena grows into a new buffer instead.
        const next = Buffer.allocUnsafeSlow(Math.max(this.end + chunk.length, this.buf.length * 2));
        this.buf.copy(next, 0, 0, this.end);
        this.buf = next;
      }
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
    }
    return true;
  }

  /** Everything received and not yet released, as text (looked through for a server's exception). */
  receivedText(): string {
    return this.buf.subarray(0, this.end).toString('latin1');
  }

  /** Up to `n` of the next bytes as text, not consumed (where an appended server error is looked for). */
  async peek(n: number): Promise<string> {
    await this.need(n);
    return this.buf.subarray(this.pos, Math.min(this.end, this.pos + n)).toString('latin1');
  }

  /** True when nothing is left (reads ahead to know). */
  async atEnd(): Promise<boolean> {
    return !(await this.need(1));
  }

  /** What remains of the body, as text (at most `limit` bytes): where a server's appended exception is found. */
  async rest(limit = 65_536): Promise<string> {
    await this.need(limit);
    return this.buf.subarray(0, Math.min(this.end, limit)).toString('latin1');
  }

  async varUInt(): Promise<number> {
    for (;;) {
      const b = this.buf;
      let p = this.pos;
      let value = 0;
      let scale = 1;
      while (p < this.end) {
        const byte = b[p++];
        value += (byte & 0x7f) * scale;
        if (byte < 0x80) {
          this.pos = p;
          return value;
        }
        scale *= 128;
        if (scale > 2 ** 63) throw new NativeFormatError('a VarUInt longer than 9 bytes');
      }
      if (!(await this.need(this.available() + 1))) throw new NativeFormatError('the body ended inside a number');
    }
  }

  async string(): Promise<string> {
    const n = await this.varUInt();
    return (await this.bytes(n)).toString('utf8');
  }

  /** The next `n` bytes (a slice of the received data, not a copy when it lies in one chunk). */
  async bytes(n: number): Promise<Buffer> {
    if (!(await this.need(n)))
      throw new NativeFormatError(`the body ended inside a column (${n} bytes expected, ${this.available()} left)`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * `rows` String values (VarUInt length + bytes each) rewritten as PLAIN BYTE_ARRAY values (UInt32 LE length
   * + bytes). The one loop that touches every string byte: a per-column UTF-8 check belongs here.
   */
  async strings(rows: number, scratch: { data: Scratch; pos: Scratch }): Promise<VarValues> {
    let out = scratch.data.take(Math.max(1024, rows * 20));
    let o = 0;
    const posBytes = scratch.pos.take((rows + 1) * 4);
    const pos = new Int32Array(posBytes.buffer, posBytes.byteOffset, rows + 1);
    let i = 0;
    while (i < rows) {
      const b = this.buf;
      const end = this.end;
      let p = this.pos;
      let wanted = 0;
      for (; i < rows; i++) {
        let q = p;
        let len: number;
        if (q < end && b[q] < 0x80) len = b[q++];
        else {
          len = 0;
          let scale = 1;
          let complete = false;
          while (q < end) {
            const byte = b[q++];
            len += (byte & 0x7f) * scale;
            if (byte < 0x80) {
              complete = true;
              break;
            }
            scale *= 128;
          }
          if (!complete) {
            wanted = end - p + 1;
            break;
          }
        }
        if (q + len > end) {
          wanted = q - p + len;
          break;
        }
        if (o + 4 + len > out.length) {
          const bigger = scratch.data.take(Math.max(o + 4 + len, out.length * 2));
          // take() may hand back a new buffer: keep what was written.
          if (bigger.buffer !== out.buffer || bigger.byteOffset !== out.byteOffset) out.copy(bigger, 0, 0, o);
          out = bigger;
        }
        pos[i] = o;
        out[o] = len & 0xff;
        out[o + 1] = (len >>> 8) & 0xff;
        out[o + 2] = (len >>> 16) & 0xff;
        out[o + 3] = (len >>> 24) & 0xff;
        o += 4;
        if (len <= 32) for (let k = 0; k < len; k++) out[o + k] = b[q + k];
        else b.copy(out, o, q, q + len);
        o += len;
        p = q + len;
      }
      this.pos = p;
      if (i < rows && !(await this.need(wanted)))
        throw new NativeFormatError(`the body ended inside a String column (value ${i + 1} of ${rows})`);
    }
    pos[rows] = o;
    return { data: out.subarray(0, o), pos };
  }

  /** `rows` cumulative end offsets of an Array column (UInt64 LE), as numbers. */
  async offsets(rows: number, scratch: Scratch): Promise<Float64Array> {
    const raw = await this.bytes(rows * 8);
    const bytes = scratch.take(rows * 8);
    const out = new Float64Array(bytes.buffer, bytes.byteOffset, rows);
    for (let i = 0; i < rows; i++) {
      const hi = raw.readUInt32LE(i * 8 + 4);
      if (hi !== 0) throw new NativeFormatError('an Array column with more than 2^32 elements in one block');
      out[i] = raw.readUInt32LE(i * 8);
    }
    return out;
  }
}

/** The body is not the Native data it should be (cut, or something else: the caller looks for a server error). */
export class NativeFormatError extends OffloadError {}

/**
 * The chunks of a response body, every chunk that arrived before a failure included: current servers write
 * an exception into the body and then cut the connection (ClickHouse 25.11+), and the text with the error's
 * code must reach the parser before the network error does. The body is paused while `highWater` chunks
 * wait (the server then waits on TCP); what it still holds when it fails is taken before it is dropped.
 */
export function receivedChunks(stream: Readable, highWater = 8): AsyncIterator<Buffer> {
  const queue: Buffer[] = [];
  let failure: Error | null = null;
  let ended = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const drainBuffered = () => {
    const held = (stream as Readable & { readableBuffer?: Iterable<Buffer> }).readableBuffer;
    if (held) for (const chunk of held) queue.push(chunk);
  };
  stream.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= highWater) stream.pause();
    notify();
  });
  stream.on('end', () => {
    ended = true;
    notify();
  });
  stream.on('error', (err: Error) => {
    if (!failure) drainBuffered();
    failure ??= err;
    notify();
  });
  stream.on('close', () => {
    if (!ended) failure ??= new NativeFormatError('the response ended before the last block');
    notify();
  });
  return {
    async next(): Promise<IteratorResult<Buffer>> {
      for (;;) {
        const chunk = queue.shift();
        if (chunk) {
          if (queue.length < highWater / 2 && stream.isPaused() && !failure) stream.resume();
          return { value: chunk, done: false };
        }
        if (failure) throw failure;
        if (ended) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
