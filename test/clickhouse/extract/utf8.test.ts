// Strings that are not UTF-8 (ClickHouse strings are bytes): each invalid sequence becomes U+FFFD, the row is
// kept, and the values changed are counted per top-level column — String, FixedString, and Strings inside
// arrays and maps; a block of ASCII or valid UTF-8 passes untouched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scratch } from '../../../src/clickhouse/extract/native-format.js';
import { nativeColumn } from '../../../src/clickhouse/extract/native.js';
import { transcodeNativeToParquet } from '../../../src/clickhouse/extract/native-to-parquet.js';
import { withValidUtf8 } from '../../../src/clickhouse/extract/utf8.js';
import { parseClickHouseType } from '../../../src/clickhouse/types.js';
import { openDuckDB, type DuckDBSession } from '../../../src/iceberg/parquet.js';
import { varUInt } from '../../support/native-body.js';

/** Values in the PLAIN layout: 4-byte length + bytes each, with their starts. */
function plain(values: Buffer[]): { data: Buffer; pos: Int32Array } {
  const pos = new Int32Array(values.length + 1);
  const parts: Buffer[] = [];
  let o = 0;
  values.forEach((v, i) => {
    pos[i] = o;
    const len = Buffer.alloc(4);
    len.writeUInt32LE(v.length);
    parts.push(len, v);
    o += 4 + v.length;
  });
  pos[values.length] = o;
  return { data: Buffer.concat(parts), pos };
}

function valuesOf(s: { data: Buffer; pos: Int32Array }): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < s.pos.length; i++) {
    const len = s.data.readUInt32LE(s.pos[i]);
    assert.equal(s.pos[i + 1] - s.pos[i], len + 4);
    out.push(s.data.subarray(s.pos[i] + 4, s.pos[i + 1]).toString('utf8'));
  }
  return out;
}

const BAD = Buffer.from([0x42, 0x54, 0x43, 0xff, 0xfe, 0x55]); // "BTC", two invalid bytes, "U"

describe('withValidUtf8', () => {
  it('passes ASCII and valid UTF-8 untouched, without a copy', () => {
    for (const values of [
      ['BTCUSDT', '', 'x'.repeat(300)],
      ['😀 ümlaut', 'ETH'],
    ]) {
      const input = plain(values.map((v) => Buffer.from(v)));
      const r = withValidUtf8(input, new Scratch());
      assert.equal(r.replaced, 0);
      assert.equal(r.strings, input);
      assert.deepEqual(valuesOf(r.strings), values);
    }
  });

  it('replaces each invalid sequence with U+FFFD, keeps every value and counts the values changed', () => {
    const input = plain([Buffer.from('ok'), BAD, Buffer.from('ü'), Buffer.from([0xc3]), Buffer.from('z'.repeat(200))]);
    const r = withValidUtf8(input, new Scratch());
    assert.equal(r.replaced, 2);
    assert.deepEqual(valuesOf(r.strings), ['ok', 'BTC\uFFFD\uFFFDU', 'ü', '\uFFFD', 'z'.repeat(200)]);
  });
});

const str = (b: Buffer | string) => {
  const bytes = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([Buffer.from(varUInt(bytes.length)), bytes]);
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

describe('the Native transcoder with strings that are not UTF-8', () => {
  let dir: string;
  let duck: DuckDBSession;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'offload-utf8-'));
    duck = await openDuckDB({ threads: 1 });
  });
  after(async () => {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every row, U+FFFD in place of the invalid bytes, and counts the values per column', async () => {
    const types = ['String', 'FixedString(3)', 'Array(String)', 'Map(String, String)', 'String'];
    const columns = types.map((t, i) => nativeColumn(`col${i}`, t, i, 'VARCHAR'));
    columns[2] = nativeColumn('col2', types[2], 2, 'VARCHAR[]');
    columns[3] = nativeColumn('col3', types[3], 3, 'MAP(VARCHAR, VARCHAR)');
    const header = (i: number) => [str(`c${i}`), str(types[i])];
    // One block of 2 rows per body half; the second block has the bad values.
    const block = (rows: Buffer[][]) => Buffer.concat([Buffer.from([5, 2]), ...rows.flatMap((col, i) => [...header(i), ...col])]);
    const body = [
      block([
        [str('BTCUSDT'), str('ETHUSDT')],
        [Buffer.from('abc'), Buffer.from('def')],
        [u64(1), u64(2), str('a'), str('b')],
        [u64(1), u64(2), str('k1'), str('k2'), str('v1'), str('v2')],
        [str('fine'), str('ü')],
      ]),
      block([
        [str(BAD), str('SOLUSDT')],
        [Buffer.from([0x61, 0xff, 0x62]), Buffer.from('ghi')],
        [u64(2), u64(2), str(Buffer.from([0x80])), str('c')],
        [u64(1), u64(1), str(Buffer.from([0xfe])), str(Buffer.from([0xc0, 0x80]))],
        [str('ok'), str('ok')],
      ]),
    ];
    const path = join(dir, 'slice.parquet');
    const result = await transcodeNativeToParquet(
      (async function* () {
        for (const b of body) yield b;
      })(),
      columns,
      path,
      { parseType: parseClickHouseType, sameType: () => true },
    );
    assert.equal(result.rows, 4);
    assert.deepEqual(result.replacedUtf8, [1, 1, 1, 2, 0]);
    const reader = await duck.connection.runAndReadAll(
      `SELECT c0, c1, c2::VARCHAR AS c2, c3::VARCHAR AS c3, c4 FROM read_parquet('${path}') ORDER BY c0`,
    );
    const rows = reader.getRowObjectsJson();
    assert.equal(rows.length, 4);
    assert.deepEqual(rows.map((r) => r.c0).sort(), ['BTCUSDT', 'BTC\uFFFD\uFFFDU', 'ETHUSDT', 'SOLUSDT']);
    assert.deepEqual(
      rows.find((r) => r.c0 === 'BTC\uFFFD\uFFFDU'),
      { c0: 'BTC\uFFFD\uFFFDU', c1: 'a\uFFFDb', c2: '[\uFFFD, c]', c3: '{\uFFFD=\uFFFD\uFFFD}', c4: 'ok' },
    );
    assert.deepEqual(
      rows.find((r) => r.c0 === 'ETHUSDT'),
      { c0: 'ETHUSDT', c1: 'def', c2: '[b]', c3: '{k2=v2}', c4: 'ü' },
    );
  });
});
