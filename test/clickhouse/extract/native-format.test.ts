// The Native reader and the PLAIN Parquet pieces on hand-made bytes: values that straddle network chunks at
// every possible cut, VarUInt lengths of several bytes, levels in the RLE/bit-packed hybrid.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ByteSource, Scratch } from '../../../src/clickhouse/extract/native-format.js';
import { encodeLevels, packBooleans } from '../../../src/clickhouse/extract/plain-parquet.js';
import { varUInt } from '../../support/native-body.js';

/** A body delivered in chunks cut at the given offsets. */
function chunked(body: Buffer, cuts: number[]): AsyncIterator<Buffer> {
  const parts: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, body.length]) {
    parts.push(body.subarray(at, c));
    at = c;
  }
  return (async function* () {
    for (const p of parts) if (p.length > 0) yield Buffer.from(p);
  })();
}

/** Decodes the hybrid levels back (a test-side reader of the format). */
function decodeLevels(buf: Buffer, count: number, bitWidth: number): number[] {
  const length = buf.readUInt32LE(0);
  assert.equal(length, buf.length - 4);
  const out: number[] = [];
  let p = 4;
  while (out.length < count) {
    let header = 0;
    let shift = 0;
    for (;;) {
      const b = buf[p++];
      header |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) break;
    }
    if (header & 1) {
      const values = (header >>> 1) * 8;
      let acc = 0;
      let bits = 0;
      for (let k = 0; k < values; k++) {
        while (bits < bitWidth) {
          acc |= buf[p++] << bits;
          bits += 8;
        }
        out.push(acc & ((1 << bitWidth) - 1));
        acc >>>= bitWidth;
        bits -= bitWidth;
      }
    } else {
      const run = header >>> 1;
      const v = buf[p++];
      for (let k = 0; k < run; k++) out.push(v);
    }
  }
  return out.slice(0, count);
}

describe('Native reader', () => {
  const values = ['', 'a', 'tab\there', 'x'.repeat(200), '😀 ümlaut', 'y'.repeat(20_000)];
  const body = Buffer.concat(values.map((v) => Buffer.concat([Buffer.from(varUInt(Buffer.byteLength(v))), Buffer.from(v)])));

  it('rewrites Strings as PLAIN byte arrays wherever the chunks are cut', async () => {
    const cuts = [0, 1, 2, 3, 4, 5, 7, 12, 13, 14, 200, 213, 214, 215, 216, 230, 240, body.length - 1];
    for (const cut of cuts) {
      const src = new ByteSource(chunked(body, [cut]));
      const out = await src.strings(values.length, { data: new Scratch(), pos: new Scratch() });
      const read: string[] = [];
      for (let i = 0; i < values.length; i++) {
        const len = out.data.readUInt32LE(out.pos[i]);
        assert.equal(out.pos[i + 1] - out.pos[i], len + 4, `cut at ${cut}, value ${i}`);
        read.push(out.data.subarray(out.pos[i] + 4, out.pos[i + 1]).toString('utf8'));
      }
      assert.deepEqual(read, values, `cut at ${cut}`);
    }
  });

  it('refuses a body that ends inside a value', async () => {
    const src = new ByteSource(chunked(body.subarray(0, body.length - 5), [3]));
    await assert.rejects(src.strings(values.length, { data: new Scratch(), pos: new Scratch() }), /ended inside a String column/);
  });

  it('reads fixed-width columns and VarUInts across chunks, and keeps earlier slices after the arena grows', async () => {
    const ints = Buffer.alloc(8 * 1000);
    for (let i = 0; i < 1000; i++) ints.writeBigUInt64LE(BigInt(i) * 1_000_000_007n, i * 8);
    const src = new ByteSource(chunked(Buffer.concat([Buffer.from(varUInt(300)), ints, ints]), [1, 500, 4000, 8001]));
    assert.equal(await src.varUInt(), 300);
    const first = await src.bytes(8000);
    const second = await src.bytes(8000);
    assert.ok(first.equals(ints) && second.equals(ints));
    assert.equal(await src.atEnd(), true);
  });
});

describe('PLAIN Parquet pieces', () => {
  it('encodes levels as RLE runs and bit-packed groups that decode back', () => {
    const cases: Array<[number[], number]> = [
      [Array(1000).fill(1), 1],
      [[0, 1, 0, 1, 1, 1, 0, 0, 1], 1],
      [[...Array(20).fill(2), 0, 1, 2, 1, 0, ...Array(9).fill(1), 2, 2, 0], 2],
      [Array.from({ length: 777 }, (_, i) => (i * 7919) % 4), 3],
      [Array.from({ length: 300 }, (_, i) => (i % 50 < 30 ? 5 : i % 6)), 5],
    ];
    for (const [levels, max] of cases) {
      const width = 32 - Math.clz32(max);
      const encoded = encodeLevels(Uint8Array.from(levels), levels.length, max);
      assert.deepEqual(decodeLevels(encoded, levels.length, width), levels);
    }
    // A column without nulls costs a few bytes, whatever its length.
    assert.ok(encodeLevels(new Uint8Array(65_536).fill(1), 65_536, 1).length < 12);
  });

  it('bit-packs booleans least significant bit first', () => {
    assert.deepEqual([...packBooleans(Uint8Array.from([1, 0, 0, 1, 1, 0, 0, 0, 1]))], [0b00011001, 0b1]);
  });
});
