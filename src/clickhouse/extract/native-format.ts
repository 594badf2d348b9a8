// Reading ClickHouse's Native format from an HTTP body as it arrives: a sequence of blocks, each
// `VarUInt columns, VarUInt rows`, then per column its name, its type name and, when rows > 0, its values
// column-wise (fixed-width values little-endian back to back; a String as VarUInt length + bytes; Nullable
// as a null map then the values; Array as cumulative UInt64 end offsets then the elements; Tuple and Map
// element by element). HTTP output carries no per-block info (that is the TCP protocol's).
//
// ByteSource hands out contiguous slices of the received chunks: fixed-width columns are slices of the
// network buffers (copied only when a column straddles two chunks), so most values are never touched.
import { OffloadError } from '../../errors.js';

const EMPTY = Buffer.alloc(0);

/** Values in PLAIN Parquet layout, with each value's start (n + 1 entries): strings after the length rewrite. */
export interface VarValues {
  data: Buffer;
  pos: Int32Array;
}

export class ByteSource {
  buf: Buffer = EMPTY;
  pos = 0;
  /** Bytes received so far. */
  received = 0;
  private ended = false;

  constructor(
    private readonly chunks: AsyncIterator<Buffer>,
    private readonly onBytes?: (received: number) => void,
  ) {}

  available(): number {
    return this.buf.length - this.pos;
  }

  /** Makes `n` bytes from `pos` contiguous in `buf`; false when the body ends before that. */
  async need(n: number): Promise<boolean> {
    if (this.buf.length - this.pos >= n) return true;
    const parts: Buffer[] = [];
    let have = this.buf.length - this.pos;
    if (have > 0) parts.push(this.buf.subarray(this.pos));
    while (have < n && !this.ended) {
      const r = await this.chunks.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const chunk = r.value as Buffer;
      this.received += chunk.length;
      this.onBytes?.(this.received);
      parts.push(chunk);
      have += chunk.length;
    }
    this.buf = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts, have);
    this.pos = 0;
    return have >= n;
  }

  /** True when nothing is left (reads ahead to know). */
  async atEnd(): Promise<boolean> {
    return !(await this.need(1));
  }

  /** What remains of the body, as text (at most `limit` bytes): where a server's appended exception is found. */
  async rest(limit = 65_536): Promise<string> {
    await this.need(limit);
    return this.buf.subarray(0, Math.min(this.buf.length, limit)).toString('latin1');
  }

  async varUInt(): Promise<number> {
    for (;;) {
      const b = this.buf;
      let p = this.pos;
      let value = 0;
      let scale = 1;
      while (p < b.length) {
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
    if (!(await this.need(n))) throw new NativeFormatError(`the body ended inside a column (${n} bytes expected, ${this.available()} left)`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * `rows` String values (VarUInt length + bytes each) rewritten as PLAIN BYTE_ARRAY values (UInt32 LE length
   * + bytes). The one loop that touches every string byte: a per-column UTF-8 check belongs here.
   */
  async strings(rows: number): Promise<VarValues> {
    let out: Buffer = Buffer.allocUnsafe(Math.max(1024, rows * 20));
    let o = 0;
    const pos = new Int32Array(rows + 1);
    let i = 0;
    while (i < rows) {
      const b = this.buf;
      const end = b.length;
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
        if (o + 4 + len > out.length) out = grow(out, o, o + 4 + len);
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
      if (i < rows && !(await this.need(wanted))) throw new NativeFormatError(`the body ended inside a String column (value ${i + 1} of ${rows})`);
    }
    pos[rows] = o;
    return { data: out.subarray(0, o), pos };
  }

  /** `rows` cumulative end offsets of an Array column (UInt64 LE), as numbers. */
  async offsets(rows: number): Promise<Float64Array> {
    const raw = await this.bytes(rows * 8);
    const out = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      const hi = raw.readUInt32LE(i * 8 + 4);
      if (hi !== 0) throw new NativeFormatError('an Array column with more than 2^32 elements in one block');
      out[i] = raw.readUInt32LE(i * 8);
    }
    return out;
  }
}

function grow(buf: Buffer, used: number, atLeast: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(atLeast, buf.length * 2));
  buf.copy(next, 0, 0, used);
  return next;
}

/** The body is not the Native data it should be (cut, or something else: the caller looks for a server error). */
export class NativeFormatError extends OffloadError {
}
