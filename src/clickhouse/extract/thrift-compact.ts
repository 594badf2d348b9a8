// Thrift's compact protocol, write side only: just enough to serialize Parquet's page headers and file footer
// (plain-parquet.ts). A struct is a list of [field id, value] pairs; fields left undefined are omitted.
// Written by hand because the footer is the only Thrift this project produces, and no maintained npm Thrift
// library writes the compact protocol without code generation.

export type ThriftValue =
  | { t: 'i32'; v: number }
  | { t: 'i64'; v: number }
  | { t: 'i8'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'binary'; v: string | Uint8Array }
  | { t: 'struct'; v: ThriftStruct }
  | { t: 'list'; elem: 'i32' | 'binary' | 'struct'; v: Array<number | string | Uint8Array | ThriftStruct> };

export type ThriftStruct = Array<[id: number, value: ThriftValue | undefined]>;

const TYPE = { bool_true: 1, bool_false: 2, i8: 3, i32: 5, i64: 6, binary: 8, list: 9, struct: 12 } as const;

export const i32 = (v: number): ThriftValue => ({ t: 'i32', v });
export const i64 = (v: number): ThriftValue => ({ t: 'i64', v });
export const i8 = (v: number): ThriftValue => ({ t: 'i8', v });
export const bool = (v: boolean): ThriftValue => ({ t: 'bool', v });
export const binary = (v: string | Uint8Array): ThriftValue => ({ t: 'binary', v });
export const struct = (v: ThriftStruct): ThriftValue => ({ t: 'struct', v });
export const list = (elem: 'i32' | 'binary' | 'struct', v: Array<number | string | Uint8Array | ThriftStruct>): ThriftValue => ({
  t: 'list',
  elem,
  v,
});

class Out {
  bytes: number[] = [];
  varint(n: number): void {
    // Non-negative values below 2^53: division keeps them exact where bit operators would cut at 32 bits.
    while (n >= 0x80) {
      this.bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.bytes.push(n);
  }
  zigzag(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }
  raw(b: Uint8Array): void {
    for (const x of b) this.bytes.push(x);
  }
}

function typeOf(v: ThriftValue): number {
  switch (v.t) {
    case 'bool':
      return v.v ? TYPE.bool_true : TYPE.bool_false;
    default:
      return TYPE[v.t];
  }
}

function writeBinary(out: Out, v: string | Uint8Array): void {
  const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  out.varint(b.length);
  out.raw(b);
}

function writeStruct(out: Out, s: ThriftStruct): void {
  let last = 0;
  for (const [id, value] of s) {
    if (value === undefined) continue;
    const type = typeOf(value);
    if (id > last && id - last <= 15) out.bytes.push(((id - last) << 4) | type);
    else {
      out.bytes.push(type);
      out.zigzag(id);
    }
    last = id;
    writeValue(out, value);
  }
  out.bytes.push(0);
}

function writeValue(out: Out, value: ThriftValue): void {
  switch (value.t) {
    case 'bool':
      return; // carried in the field header
    case 'i8':
      out.bytes.push(value.v & 0xff);
      return;
    case 'i32':
    case 'i64':
      out.zigzag(value.v);
      return;
    case 'binary':
      writeBinary(out, value.v);
      return;
    case 'struct':
      writeStruct(out, value.v);
      return;
    case 'list': {
      const elemType = TYPE[value.elem];
      if (value.v.length < 15) out.bytes.push((value.v.length << 4) | elemType);
      else {
        out.bytes.push(0xf0 | elemType);
        out.varint(value.v.length);
      }
      for (const e of value.v) {
        if (value.elem === 'i32') out.zigzag(e as number);
        else if (value.elem === 'binary') writeBinary(out, e as string | Uint8Array);
        else writeStruct(out, e as ThriftStruct);
      }
    }
  }
}

/** The compact-protocol bytes of a struct. */
export function encodeStruct(s: ThriftStruct): Buffer {
  const out = new Out();
  writeStruct(out, s);
  return Buffer.from(out.bytes);
}
