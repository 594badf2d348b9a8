// ClickHouse strings are bytes; an Iceberg string (and DuckDB's VARCHAR) must be UTF-8. A value that is not
// is written with each invalid sequence replaced by U+FFFD (as TextDecoder does), so its row is kept and
// the table never stops on it; the Native transcoder counts the replaced values per column and the run
// records and reports them (README "Strings that are not UTF-8").
//
// The cost stays off the common path: one native ASCII scan of a block's column (isAscii, SIMD) passes
// pure ASCII at once; only a block with a high bit set checks each value (isUtf8), and only an invalid
// value is decoded and re-encoded.
import { isAscii, isUtf8 } from 'node:buffer';

/** PLAIN BYTE_ARRAY values: each a 4-byte little-endian length and its bytes, value i starting at pos[i] (n + 1 entries). */
export interface PlainStrings {
  data: Buffer;
  pos: Int32Array;
}

/**
 * The values of `strings` with every one that is not valid UTF-8 rewritten (U+FFFD for each invalid
 * sequence), in a buffer taken from `scratch`, and how many were rewritten; `strings` itself when all are
 * valid. `pos` is rewritten in place.
 */
export function withValidUtf8(strings: PlainStrings, scratch: { take(n: number): Buffer }): { strings: PlainStrings; replaced: number } {
  const { data, pos } = strings;
  const n = pos.length - 1;
  // Lengths below 128 are ASCII bytes too: a block of short ASCII strings passes in one scan.
  if (isAscii(data)) return { strings, replaced: 0 };
  let fixed: Map<number, Buffer> | null = null;
  let grown = 0;
  for (let i = 0; i < n; i++) {
    const value = data.subarray(pos[i] + 4, pos[i + 1]);
    if (isUtf8(value)) continue;
    const valid = Buffer.from(value.toString('utf8'), 'utf8');
    fixed ??= new Map();
    fixed.set(i, valid);
    grown += valid.length - value.length;
  }
  if (!fixed) return { strings, replaced: 0 };
  const out = scratch.take(data.length + grown);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const start = pos[i];
    const end = pos[i + 1];
    pos[i] = o;
    const valid = fixed.get(i);
    if (!valid) {
      data.copy(out, o, start, end);
      o += end - start;
      continue;
    }
    out.writeUInt32LE(valid.length, o);
    valid.copy(out, o + 4);
    o += 4 + valid.length;
  }
  pos[n] = o;
  return { strings: { data: out.subarray(0, o), pos }, replaced: fixed.size };
}
