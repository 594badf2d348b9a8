// Rows counted on the byte stream of an extraction (ByteCounter with a row terminator): every terminator
// once, wherever the chunks of the HTTP body happen to be cut, and the count only ever grows.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteCounter } from '../../../src/clickhouse/extract/http-to-file.js';

async function countIn(chunks: Buffer[], terminator: string): Promise<{ rows: number; bytes: number; calls: number[] }> {
  const calls: number[] = [];
  const counter = new ByteCounter(undefined, { terminator: Buffer.from(terminator), onRows: (n) => calls.push(n) });
  await pipeline(
    Readable.from(chunks),
    counter,
    new Writable({
      write: (_c, _e, cb) => cb(),
    }),
  );
  return { rows: counter.rows, bytes: counter.total, calls };
}

describe('ByteCounter: rows on the byte stream', () => {
  const body = Buffer.from(Array.from({ length: 500 }, (_, i) => `1700000000,${i},"note ${i}",1\n`).join(''));

  it('counts every CSV row once, however the body is cut into chunks', async () => {
    for (const size of [1, 2, 3, 7, 64, 4096, body.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < body.length; i += size) chunks.push(body.subarray(i, i + size));
      const r = await countIn(chunks, ',1\n');
      assert.equal(r.rows, 500, `chunks of ${size} bytes`);
      assert.equal(r.bytes, body.length);
      for (let i = 1; i < r.calls.length; i++) assert.ok(r.calls[i] > r.calls[i - 1], 'the count only grows');
      assert.equal(r.calls.at(-1), 500);
    }
  });

  it('reports rows as they arrive, not only at the end', async () => {
    const half = Math.floor(body.length / 2);
    const r = await countIn([body.subarray(0, half), body.subarray(half)], ',1\n');
    assert.equal(r.calls.length, 2);
    assert.ok(r.calls[0] > 200 && r.calls[0] < 300, `after half the body: ${r.calls[0]}`);
  });

  it('counts nothing without a terminator (a format whose rows cannot be told apart on the way)', async () => {
    const counter = new ByteCounter(undefined);
    await pipeline(Readable.from([body]), counter, new Writable({ write: (_c, _e, cb) => cb() }));
    assert.equal(counter.rows, 0);
    assert.equal(counter.total, body.length);
  });
});
