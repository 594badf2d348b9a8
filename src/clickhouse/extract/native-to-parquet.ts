// ClickHouse Native → a PLAIN Parquet file, block by block as the HTTP body arrives (one Native block = one
// row group). Most types need no work per value: Int32/Int64/UInt32/UInt64/Float*/Decimal32/64/Date32/
// DateTime/DateTime64 columns are written as the very bytes received. The rest is a tight loop over one
// column: narrow integers widened to INT32, DateTime seconds to µs, Decimal128 and UUID byte-reversed to
// big-endian, Strings given a 4-byte length instead of a VarUInt one, FixedString and Enum turned into
// strings, Bool bit-packed.
// Nullable becomes definition levels, Array/Map repetition levels (Dremel, computed per leaf column).
//
// The Parquet column types are chosen for DuckDB's read_parquet (native.ts converts what remains, times):
// narrow ints → INT32, UInt32 → INT32 UINT_32, UInt64 → INT64 UINT_64, Decimal(P,S) → INT32/INT64/
// FIXED(16) DECIMAL(P,S), Date/Date32 → INT32 DATE, DateTime and DateTime64(6) → INT64 TIMESTAMP(µs, UTC),
// DateTime64(3) → INT64 TIMESTAMP(ms, UTC), other DateTime64 → INT64 (ticks), UUID → FIXED(16) UUID,
// String/FixedString/Enum → BYTE_ARRAY UTF8, Bool → BOOLEAN.
import { SchemaError } from '../../core/errors.js';
import type { ClickHouseType } from '../types.js';
import { ClickHouseQueryError } from '../client.js';
import { appendedFailure } from './http-to-file.js';
import { ByteSource, NativeFormatError, Scratch, type VarValues } from './native-format.js';
import { packBooleans, PlainParquetFile, type ColumnChunkData, type PrimitiveField, type SchemaField } from './plain-parquet.js';
import { withValidUtf8 } from './utf8.js';

/** Present values of a leaf column in their PLAIN layout. */
type Leaf = { kind: 'fixed'; width: number; data: Buffer } | ({ kind: 'var' } & VarValues) | { kind: 'bool'; data: Buffer };

/** One decoded Native column of one block. */
export type Decoded =
  | { kind: 'leaf'; values: Leaf }
  | { kind: 'nullable'; nulls: Buffer; inner: Decoded }
  | { kind: 'array'; offsets: Float64Array; inner: Decoded }
  | { kind: 'tuple'; elements: Decoded[] };

/** How one ClickHouse type is read from Native and laid out in Parquet. */
export interface NativeCodec {
  field(name: string): SchemaField;
  decode(src: ByteSource, rows: number): Promise<Decoded>;
}

type LeafType = Omit<PrimitiveField, 'kind' | 'name' | 'repetition'>;

function leafCodec(type: LeafType, read: (src: ByteSource, rows: number) => Promise<Leaf>): NativeCodec {
  return {
    field: (name) => ({ kind: 'primitive', name, repetition: 'REQUIRED', ...type }),
    decode: async (src, rows) => ({ kind: 'leaf', values: await read(src, rows) }),
  };
}

type Read = (src: ByteSource, rows: number) => Promise<Leaf>;

/** Values of one top-level column whose bytes were not UTF-8 and were written with U+FFFD (utf8.ts). */
export interface Utf8Tally {
  replaced: number;
}

/** String values read by `read`, each one that is not UTF-8 rewritten and counted in `tally`. */
function validUtf8(read: Read, tally: Utf8Tally): Read {
  const fixed = new Scratch();
  return async (src, rows) => {
    const leaf = await read(src, rows);
    if (leaf.kind !== 'var') return leaf;
    const { strings, replaced } = withValidUtf8(leaf, fixed);
    tally.replaced += replaced;
    return { kind: 'var', ...strings };
  };
}

/** `raw`, or a copy of it in `scratch` when its offset does not suit a typed-array view of `width`-byte values. */
function aligned(raw: Buffer, width: number, scratch: Scratch): Buffer {
  if (raw.byteOffset % width === 0) return raw;
  const out = scratch.take(raw.length);
  raw.copy(out);
  return out;
}

/** Values of `width` bytes sent as they are. */
const same =
  (width: number): Read =>
  async (src, rows) => ({ kind: 'fixed', width, data: await src.bytes(rows * width) });

/** Narrow integers widened to INT32 (TypedArray.set converts natively). */
function widen(view: (b: Buffer, rows: number) => ArrayLike<number>, width: number): Read {
  const copy = new Scratch();
  const out = new Scratch();
  return async (src, rows) => {
    const raw = aligned(await src.bytes(rows * width), width, copy);
    const data = out.take(rows * 4);
    new Int32Array(data.buffer, data.byteOffset, rows).set(view(raw, rows));
    return { kind: 'fixed', width: 4, data };
  };
}

/** DateTime (UInt32 seconds) → INT64 µs (exact in a double: below 2^53). */
function secondsToMicros(): Read {
  const copy = new Scratch();
  const out = new Scratch();
  return async (src, rows) => {
    const raw = aligned(await src.bytes(rows * 4), 4, copy);
    const s = new Uint32Array(raw.buffer, raw.byteOffset, rows);
    const data = out.take(rows * 8);
    const u = new Uint32Array(data.buffer, data.byteOffset, rows * 2);
    for (let i = 0; i < rows; i++) {
      const us = s[i] * 1_000_000;
      // `>>> 0` is the value modulo 2^32, exact for integers below 2^53 (and far faster than %).
      const lo = us >>> 0;
      u[2 * i] = lo;
      u[2 * i + 1] = (us - lo) / 4_294_967_296;
    }
    return { kind: 'fixed', width: 8, data };
  };
}

/** 16-byte values with `swap` applied to a copy: Decimal128 and UUID to the big-endian Parquet wants. */
function reordered16(swap: (data: Buffer, rows: number) => void): Read {
  const out = new Scratch();
  return async (src, rows) => {
    const data = out.take(rows * 16);
    (await src.bytes(rows * 16)).copy(data);
    swap(data, rows);
    return { kind: 'fixed', width: 16, data };
  };
}

/** Little-endian Decimal128: each 8-byte half reversed, then the halves exchanged. */
function reverse16(data: Buffer, rows: number): void {
  data.swap64();
  const u = new Uint32Array(data.buffer, data.byteOffset, rows * 4);
  for (let i = 0; i < u.length; i += 4) {
    const a = u[i];
    const b = u[i + 1];
    u[i] = u[i + 2];
    u[i + 1] = u[i + 3];
    u[i + 2] = a;
    u[i + 3] = b;
  }
}

/** UUID: two little-endian UInt64, the high half first (every version's Native layout): each half reversed. */
function uuidToBigEndian(data: Buffer): void {
  data.swap64();
}

/** Fixed-size values of `width` bytes, each written as a string of that many bytes. */
function fixedStrings(width: number): Read {
  const out = new Scratch();
  const at = new Scratch();
  return async (src, rows) => {
    const raw = await src.bytes(rows * width);
    const data = out.take(rows * (width + 4));
    const posBytes = at.take((rows + 1) * 4);
    const pos = new Int32Array(posBytes.buffer, posBytes.byteOffset, rows + 1);
    for (let i = 0, o = 0; i < rows; i++) {
      pos[i] = o;
      data.writeUInt32LE(width, o);
      raw.copy(data, o + 4, i * width, (i + 1) * width);
      o += width + 4;
    }
    pos[rows] = data.length;
    return { kind: 'var', data, pos };
  };
}

/** Enum values (Int8 or Int16) written as their names. */
function enumNames(t: ClickHouseType, width: 1 | 2, where: string): Read {
  const bias = width === 1 ? 128 : 32768;
  const names: Array<Buffer | undefined> = new Array(width === 1 ? 256 : 65536);
  let longest = 0;
  for (const a of t.args) {
    if (a.kind !== 'enum') throw new SchemaError(`${where}: ${t.name} expects 'name' = value pairs`);
    const b = Buffer.from(a.name, 'utf8');
    const withLength = Buffer.allocUnsafe(b.length + 4);
    withLength.writeUInt32LE(b.length, 0);
    b.copy(withLength, 4);
    names[a.value + bias] = withLength;
    longest = Math.max(longest, withLength.length);
  }
  const out = new Scratch();
  const at = new Scratch();
  return async (src, rows) => {
    const raw = await src.bytes(rows * width);
    const data = out.take(rows * longest);
    const posBytes = at.take((rows + 1) * 4);
    const pos = new Int32Array(posBytes.buffer, posBytes.byteOffset, rows + 1);
    let o = 0;
    for (let i = 0; i < rows; i++) {
      const v = width === 1 ? raw.readInt8(i) : raw.readInt16LE(i * 2);
      const name = names[v + bias];
      if (!name) throw new NativeFormatError(`${where}: value ${v} is not one of the enum's`);
      pos[i] = o;
      name.copy(data, o);
      o += name.length;
    }
    pos[rows] = o;
    return { kind: 'var', data: data.subarray(0, o), pos };
  };
}

function numberArg(t: ClickHouseType, i: number, where: string): number {
  const a = t.args[i];
  if (a?.kind !== 'number') throw new SchemaError(`${where}: ${t.name} expects a number as argument ${i + 1}`);
  return a.value;
}

function typeArg(t: ClickHouseType, i: number, where: string): ClickHouseType {
  const a = t.args[i];
  if (!a || (a.kind !== 'type' && a.kind !== 'named')) throw new SchemaError(`${where}: ${t.name} expects a type as argument ${i + 1}`);
  return a.type;
}

/** Precision and scale of a ClickHouse decimal type, or null. */
export function decimalOf(t: ClickHouseType, where: string): { precision: number; scale: number } | null {
  switch (t.name) {
    case 'Decimal':
      return { precision: numberArg(t, 0, where), scale: t.args.length > 1 ? numberArg(t, 1, where) : 0 };
    case 'Decimal32':
      return { precision: 9, scale: numberArg(t, 0, where) };
    case 'Decimal64':
      return { precision: 18, scale: numberArg(t, 0, where) };
    case 'Decimal128':
      return { precision: 38, scale: numberArg(t, 0, where) };
    default:
      return null;
  }
}

const UTF8: LeafType = { type: 'BYTE_ARRAY', converted: 'UTF8' };

/** The integers narrower than INT32: a typed-array view of their values, and their width in bytes. */
const NARROW_INTS: Record<'Int8' | 'UInt8' | 'Int16' | 'UInt16', [(b: Buffer, n: number) => ArrayLike<number>, number]> = {
  Int8: [(b, n) => new Int8Array(b.buffer, b.byteOffset, n), 1],
  UInt8: [(b, n) => new Uint8Array(b.buffer, b.byteOffset, n), 1],
  Int16: [(b, n) => new Int16Array(b.buffer, b.byteOffset, n), 2],
  UInt16: [(b, n) => new Uint16Array(b.buffer, b.byteOffset, n), 2],
};

/** A Parquet LIST or MAP: a required group holding one repeated group of `children` (the spec's three-level layout). */
function repeatedGroup(name: string, converted: 'LIST' | 'MAP', repeated: string, children: SchemaField[]): SchemaField {
  return {
    kind: 'group',
    name,
    repetition: 'REQUIRED',
    converted,
    children: [{ kind: 'group', name: repeated, repetition: 'REPEATED', children }],
  };
}

/**
 * The codec of a ClickHouse type as the Native format sends it (LowCardinality already cast away by the
 * query); String and FixedString values that are not UTF-8 are counted in `tally`.
 */
export function nativeCodec(t: ClickHouseType, where: string, tally: Utf8Tally = { replaced: 0 }): NativeCodec {
  switch (t.name) {
    case 'Int8':
    case 'UInt8':
    case 'Int16':
    case 'UInt16': {
      const [view, width] = NARROW_INTS[t.name];
      return leafCodec({ type: 'INT32' }, widen(view, width));
    }
    case 'Int32':
      return leafCodec({ type: 'INT32' }, same(4));
    case 'UInt32':
      return leafCodec({ type: 'INT32', converted: 'UINT_32' }, same(4));
    case 'DateTime':
      return leafCodec({ type: 'INT64', timestamp: 'MICROS' }, secondsToMicros());
    case 'DateTime64': {
      // Ticks of 10^-P s: ms and µs are Parquet timestamps as they are; other precisions travel as numbers
      // and DuckDB makes the timestamp (native.ts).
      const p = t.args[0]?.kind === 'number' ? t.args[0].value : 3;
      return leafCodec(
        p === 3 ? { type: 'INT64', timestamp: 'MILLIS' } : p === 6 ? { type: 'INT64', timestamp: 'MICROS' } : { type: 'INT64' },
        same(8),
      );
    }
    case 'Int64':
      return leafCodec({ type: 'INT64' }, same(8));
    case 'UInt64':
      return leafCodec({ type: 'INT64', converted: 'UINT_64' }, same(8));
    case 'Float32':
      return leafCodec({ type: 'FLOAT' }, same(4));
    case 'Float64':
      return leafCodec({ type: 'DOUBLE' }, same(8));
    case 'Bool':
      return leafCodec({ type: 'BOOLEAN' }, async (src, rows) => ({ kind: 'bool', data: await src.bytes(rows) }));
    case 'Date':
      return leafCodec(
        { type: 'INT32', converted: 'DATE' },
        widen((b, n) => new Uint16Array(b.buffer, b.byteOffset, n), 2),
      );
    case 'Date32':
      return leafCodec({ type: 'INT32', converted: 'DATE' }, same(4));
    case 'UUID':
      return leafCodec({ type: 'FIXED_LEN_BYTE_ARRAY', typeLength: 16, uuid: true }, reordered16(uuidToBigEndian));
    case 'String': {
      const scratch = { data: new Scratch(), pos: new Scratch() };
      return leafCodec(
        UTF8,
        validUtf8(async (src, rows) => ({ kind: 'var', ...(await src.strings(rows, scratch)) }), tally),
      );
    }
    case 'FixedString':
      return leafCodec(UTF8, validUtf8(fixedStrings(numberArg(t, 0, where)), tally));
    case 'Enum8':
      return leafCodec(UTF8, enumNames(t, 1, where));
    case 'Enum16':
      return leafCodec(UTF8, enumNames(t, 2, where));
    case 'Nullable': {
      const inner = nativeCodec(typeArg(t, 0, where), where, tally);
      return {
        field: (name) => ({ ...inner.field(name), repetition: 'OPTIONAL' }),
        decode: async (src, rows) => {
          const nulls = await src.bytes(rows);
          return { kind: 'nullable', nulls, inner: await inner.decode(src, rows) };
        },
      };
    }
    case 'Array': {
      const element = nativeCodec(typeArg(t, 0, where), where, tally);
      const scratch = new Scratch();
      return {
        field: (name) => repeatedGroup(name, 'LIST', 'list', [element.field('element')]),
        decode: async (src, rows) => {
          const offsets = await src.offsets(rows, scratch);
          return { kind: 'array', offsets, inner: await element.decode(src, rows === 0 ? 0 : offsets[rows - 1]) };
        },
      };
    }
    case 'Map': {
      // Native sends a Map as Array(Tuple(keys, values)).
      const key = nativeCodec(typeArg(t, 0, where), where, tally);
      const value = nativeCodec(typeArg(t, 1, where), where, tally);
      const scratch = new Scratch();
      return {
        field: (name) => repeatedGroup(name, 'MAP', 'key_value', [key.field('key'), value.field('value')]),
        decode: async (src, rows) => {
          const offsets = await src.offsets(rows, scratch);
          const n = rows === 0 ? 0 : offsets[rows - 1];
          const keys = await key.decode(src, n);
          const values = await value.decode(src, n);
          return { kind: 'array', offsets, inner: { kind: 'tuple', elements: [keys, values] } };
        },
      };
    }
    case 'Tuple': {
      // Parquet fields named as the Iceberg struct's fields (the element names, or _1, _2 … when unnamed).
      const elements = t.args.map((a, i) => ({
        name: a.kind === 'named' ? a.name : `_${i + 1}`,
        codec: nativeCodec(typeArg(t, i, where), where, tally),
      }));
      return {
        field: (name) => ({ kind: 'group', name, repetition: 'REQUIRED', children: elements.map((e) => e.codec.field(e.name)) }),
        decode: async (src, rows) => {
          const decoded: Decoded[] = [];
          for (const e of elements) decoded.push(await e.codec.decode(src, rows));
          return { kind: 'tuple', elements: decoded };
        },
      };
    }
  }
  const dec = decimalOf(t, where);
  if (dec) {
    if (dec.precision <= 9) return leafCodec({ type: 'INT32', converted: 'DECIMAL', precision: dec.precision, scale: dec.scale }, same(4));
    if (dec.precision <= 18) return leafCodec({ type: 'INT64', converted: 'DECIMAL', precision: dec.precision, scale: dec.scale }, same(8));
    if (dec.precision <= 38)
      return leafCodec(
        { type: 'FIXED_LEN_BYTE_ARRAY', typeLength: 16, converted: 'DECIMAL', precision: dec.precision, scale: dec.scale },
        reordered16(reverse16),
      );
  }
  throw new SchemaError(`${where}: the ${t.name} type cannot be extracted in the Native format`);
}

// ─── Levels ──────────────────────────────────────────────────────────────────────────────────────────

/** A Nullable or Array on the way from a top-level column down to one leaf (a Tuple adds no level). */
type Step = { kind: 'nullable'; nulls: Buffer } | { kind: 'array'; offsets: Float64Array };

function leafPaths(d: Decoded, steps: Step[] = []): Array<{ steps: Step[]; leaf: Leaf }> {
  switch (d.kind) {
    case 'leaf':
      return [{ steps, leaf: d.values }];
    case 'nullable':
      return leafPaths(d.inner, [...steps, { kind: 'nullable', nulls: d.nulls }]);
    case 'array':
      return leafPaths(d.inner, [...steps, { kind: 'array', offsets: d.offsets }]);
    case 'tuple':
      return d.elements.flatMap((e) => leafPaths(e, steps));
  }
}

/** Growable level and selection buffers of one leaf column. */
class Slots {
  rep: Uint8Array;
  def: Uint8Array;
  /** Index of the value in the leaf for present slots; −1 for a null or an empty list. */
  sel: Int32Array;
  n = 0;
  constructor(capacity: number) {
    this.rep = new Uint8Array(capacity);
    this.def = new Uint8Array(capacity);
    this.sel = new Int32Array(capacity);
  }
  push(rep: number, def: number, index: number): void {
    if (this.n === this.sel.length) {
      const cap = this.sel.length * 2 + 16;
      const grow = <T extends Uint8Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const b = make(cap);
        b.set(a);
        return b;
      };
      this.rep = grow(this.rep, (n) => new Uint8Array(n));
      this.def = grow(this.def, (n) => new Uint8Array(n));
      this.sel = grow(this.sel, (n) => new Int32Array(n));
    }
    this.rep[this.n] = rep;
    this.def[this.n] = def;
    this.sel[this.n++] = index;
  }
}

/** Dremel: the repetition and definition level of every slot of one leaf column, walking the rows. */
function walk(steps: Step[], d: number, index: number, rep: number, def: number, arrays: number, out: Slots): void {
  if (d === steps.length) {
    out.push(rep, def, index);
    return;
  }
  const step = steps[d];
  if (step.kind === 'nullable') {
    if (step.nulls[index]) out.push(rep, def, -1);
    else walk(steps, d + 1, index, rep, def + 1, arrays, out);
    return;
  }
  const start = index === 0 ? 0 : step.offsets[index - 1];
  const end = step.offsets[index];
  if (start === end) {
    out.push(rep, def, -1);
    return;
  }
  for (let j = start; j < end; j++) walk(steps, d + 1, j, j === start ? rep : arrays + 1, def + 1, arrays + 1, out);
}

/** The PLAIN bytes of the leaf's values at `sel` (all of them when null), copying runs of consecutive values at once. */
function plainValues(leaf: Leaf, count: number, sel: Int32Array | null, selCount: number): Buffer[] {
  if (leaf.kind === 'bool') {
    if (!sel) return [packBooleans(leaf.data.subarray(0, count))];
    const picked = new Uint8Array(selCount);
    for (let k = 0; k < selCount; k++) picked[k] = leaf.data[sel[k]];
    return [packBooleans(picked)];
  }
  const start = (i: number) => (leaf.kind === 'fixed' ? i * leaf.width : leaf.pos[i]);
  if (!sel) return [leaf.data.subarray(0, start(count))];
  const parts: Buffer[] = [];
  for (let k = 0; k < selCount; ) {
    let e = k + 1;
    while (e < selCount && sel[e] === sel[e - 1] + 1) e++;
    parts.push(leaf.data.subarray(start(sel[k]), start(sel[e - 1] + 1)));
    k = e;
  }
  return parts.length <= 1 ? parts : [Buffer.concat(parts)];
}

function leafCount(leaf: Leaf): number {
  return leaf.kind === 'fixed' ? leaf.data.length / leaf.width : leaf.kind === 'var' ? leaf.pos.length - 1 : leaf.data.length;
}

/** The column chunks (one per leaf) of one decoded top-level column of `rows` rows. */
export function columnChunks(d: Decoded, rows: number): ColumnChunkData[] {
  return leafPaths(d).map(({ steps, leaf }) => {
    if (steps.length === 0) return { numValues: rows, values: plainValues(leaf, rows, null, 0) };
    if (steps.length === 1 && steps[0].kind === 'nullable') {
      // The common optional column: definition levels straight from the null map.
      const nulls = steps[0].nulls;
      const def = new Uint8Array(rows);
      const sel = new Int32Array(rows);
      let present = 0;
      for (let i = 0; i < rows; i++) {
        if (nulls[i]) continue;
        def[i] = 1;
        sel[present++] = i;
      }
      return { numValues: rows, defLevels: def, values: plainValues(leaf, rows, present === rows ? null : sel, present) };
    }
    const slots = new Slots(rows * 2);
    for (let i = 0; i < rows; i++) walk(steps, 0, i, 0, 0, 0, slots);
    const sel = new Int32Array(slots.n);
    let present = 0;
    for (let k = 0; k < slots.n; k++) if (slots.sel[k] >= 0) sel[present++] = slots.sel[k];
    const all = present === leafCount(leaf);
    return {
      numValues: slots.n,
      repLevels: slots.rep.subarray(0, slots.n),
      defLevels: slots.def.subarray(0, slots.n),
      values: plainValues(leaf, leafCount(leaf), all ? null : sel, present),
    };
  });
}

// ─── The stream ─────────────────────────────────────────────────────────────────────────────────────

export interface NativeColumn {
  /** The column's name in the Native header (the query selects it AS this name). */
  name: string;
  /** The type text the header must carry (compared after parsing, see `sameType`). */
  type: ClickHouseType;
  /** Makes the column's codec: one per transcoded body, as codecs keep buffers from block to block. */
  codec: (tally: Utf8Tally) => NativeCodec;
}

export interface TranscodeResult {
  rows: number;
  /** Bytes of Native data received. */
  received: number;
  /** Bytes of the Parquet file. */
  written: number;
  /** Per column (in order), values that were not UTF-8, written with U+FFFD. */
  replacedUtf8: number[];
}

/**
 * Reads a Native body block by block and writes `path` (PLAIN Parquet, one row group per block). Throws
 * NativeFormatError when a block is not what the query selects — a body cut short, or an exception the
 * server appended mid-stream (`parseType` parses header types; a mismatch is reported with the server's text).
 */
export async function transcodeNativeToParquet(
  body: AsyncIterable<Buffer> | AsyncIterator<Buffer>,
  columns: NativeColumn[],
  path: string,
  o: {
    parseType: (text: string) => ClickHouseType;
    sameType: (a: ClickHouseType, b: ClickHouseType) => boolean;
    onBytes?: (received: number) => void;
    /** Rows received so far, after each block. */
    onRows?: (rows: number) => void;
  },
): Promise<TranscodeResult> {
  const tallies = columns.map((): Utf8Tally => ({ replaced: 0 }));
  const codecs = columns.map((c, k) => c.codec(tallies[k]));
  const file = await PlainParquetFile.create(
    path,
    columns.map((c, k) => codecs[k].field(c.name)),
  );
  const src = new ByteSource(Symbol.asyncIterator in body ? body[Symbol.asyncIterator]() : body, o.onBytes);
  let rows = 0;
  try {
    // A failure text a server appends is at most a few KB: the block head is read with room for it.
    while (await src.need(1)) {
      // Every slice of the previous block is written out: its space in the arena is reused.
      src.release();
      const head = await src.peek(4096);
      const fail = (why: string) => appendedFailure(head) ?? new NativeFormatError(why);
      const ncols = await src.varUInt();
      const nrows = await src.varUInt();
      if (ncols !== columns.length) throw fail(`a block of ${ncols} columns where ${columns.length} were selected`);
      const decoded: Decoded[] = [];
      for (const [k, c] of columns.entries()) {
        const name = await src.string();
        const typeText = await src.string();
        if (name !== c.name) throw fail(`column "${name}" where "${c.name}" was selected`);
        let sent: ClickHouseType;
        try {
          sent = o.parseType(typeText);
        } catch {
          throw fail(`column ${c.name}: an unreadable type`);
        }
        if (!o.sameType(sent, c.type)) throw fail(`column ${c.name}: ClickHouse sent ${typeText}`);
        if (nrows > 0) decoded.push(await codecs[k].decode(src, nrows));
      }
      if (nrows === 0) continue;
      await file.writeRowGroup(
        nrows,
        decoded.flatMap((d) => columnChunks(d, nrows)),
      );
      rows += nrows;
      o.onRows?.(rows);
    }
  } catch (err) {
    await file.abort();
    if (!(err instanceof ClickHouseQueryError) && !(err instanceof NativeFormatError && /^ClickHouse failed/.test(err.message))) {
      // The server's own words, when it wrote them before the body ended (18.16 appends them and ends the
      // body; current servers append them and cut the connection).
      const failure = appendedFailure(
        err instanceof NativeFormatError ? await src.rest().catch(() => src.receivedText()) : src.receivedText(),
        { cause: err },
      );
      if (failure) throw failure;
    }
    throw err;
  }
  const written = await file.close();
  return { rows, received: src.received, written, replacedUtf8: tallies.map((t) => t.replaced) };
}
