// Iceberg single-value binary serialization (spec Appendix D), used for the lower/upper bounds of
// data files and partition summaries, and the truncation of string/binary bounds (metrics mode
// truncate(16), Iceberg's default).
import { SchemaError } from '../core/errors.js';
import type { PrimitiveType } from './types.js';

/**
 * A primitive value in memory: boolean; int/date → number (days for date); long/time/timestamp/
 * timestamptz → bigint (microseconds); float/double → number; string → string; uuid → canonical
 * string; decimal → decimal text (e.g. "-12.50") or unscaled bigint; fixed/binary → Uint8Array.
 */
export type PrimitiveValue = boolean | number | bigint | string | Uint8Array;

export function parseDecimalType(t: string): { precision: number; scale: number } | null {
  const m = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(t);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : null;
}

/** The Avro `fixed` size Iceberg uses for decimal(P, S): the fewest bytes that hold any P-digit value. */
export function decimalRequiredBytes(precision: number): number {
  const max = 10n ** BigInt(precision) - 1n;
  let n = 1;
  while (max >= 1n << BigInt(8 * n - 1)) n++;
  return n;
}

/** "12.5" at scale 3 → 12500n. Exact: never goes through a JS float. Refuses digits beyond the scale unless they are zeros. */
export function decimalToUnscaled(text: string, scale: number): bigint {
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new SchemaError(`"${text}" is not a decimal number`);
  const [, sign, intPart, fracPart = '', exp = '0'] = m;
  // Shift the decimal point by the exponent, then to the scale.
  let digits = intPart + fracPart;
  let pointAt = intPart.length + Number(exp); // digits before the point
  if (pointAt < 0) {
    digits = '0'.repeat(-pointAt) + digits;
    pointAt = 0;
  }
  if (pointAt > digits.length) digits += '0'.repeat(pointAt - digits.length);
  let frac = digits.slice(pointAt);
  const whole = digits.slice(0, pointAt);
  if (frac.length > scale) {
    if (/[^0]/.test(frac.slice(scale))) throw new SchemaError(`${text} has more than ${scale} decimal places`);
    frac = frac.slice(0, scale);
  }
  const unscaled = BigInt((whole || '0') + frac.padEnd(scale, '0'));
  return sign === '-' ? -unscaled : unscaled;
}

/** 12500n at scale 3 → "12.500" (always exactly `scale` fraction digits, like Java's BigDecimal.toPlainString). */
export function unscaledToDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return negative ? `-${text}` : text;
}

/** Two's-complement big-endian in the fewest bytes (Java's BigInteger.toByteArray). */
export function unscaledToBytes(value: bigint): Uint8Array {
  let n = 1;
  while (value < -(1n << BigInt(8 * n - 1)) || value >= 1n << BigInt(8 * n - 1)) n++;
  return unscaledToFixed(value, n);
}

/** Two's-complement big-endian in exactly `size` bytes (Avro `fixed` decimals). */
export function unscaledToFixed(value: bigint, size: number): Uint8Array {
  if (value < -(1n << BigInt(8 * size - 1)) || value >= 1n << BigInt(8 * size - 1))
    throw new SchemaError(`decimal unscaled value ${value} does not fit in ${size} bytes`);
  const out = new Uint8Array(size);
  let v = BigInt.asUintN(8 * size, value);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function bytesToUnscaled(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return BigInt.asIntN(8 * bytes.length, v);
}

export function uuidToBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new SchemaError(`"${uuid}" is not a UUID`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function bytesToUuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new SchemaError(`a UUID has 16 bytes, got ${bytes.length}`);
  const h = Buffer.from(bytes).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function toBigInt(value: PrimitiveValue, type: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^[+-]?\d+$/.test(value)) return BigInt(value);
  throw new SchemaError(`${String(value)} is not a ${type} value`);
}

function toInt32(value: PrimitiveValue, type: string): number {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff)
    throw new SchemaError(`${String(value)} is not an ${type} value`);
  return n;
}

function asBytes(value: PrimitiveValue, type: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new SchemaError(`a ${type} value must be bytes`);
}

/** Serializes a value of a primitive Iceberg type (spec Appendix D, "Binary single-value serialization"). */
export function toBytes(type: PrimitiveType, value: PrimitiveValue): Uint8Array {
  const view = (n: number): [Uint8Array, DataView] => {
    const b = new Uint8Array(n);
    return [b, new DataView(b.buffer)];
  };
  switch (type) {
    case 'boolean': {
      if (typeof value !== 'boolean') throw new SchemaError(`${String(value)} is not a boolean`);
      return Uint8Array.of(value ? 1 : 0);
    }
    case 'int':
    case 'date': {
      const [b, v] = view(4);
      v.setInt32(0, toInt32(value, type), true);
      return b;
    }
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      const [b, v] = view(8);
      v.setBigInt64(0, BigInt.asIntN(64, toBigInt(value, type)), true);
      return b;
    }
    case 'float': {
      if (typeof value !== 'number') throw new SchemaError(`${String(value)} is not a float`);
      const [b, v] = view(4);
      v.setFloat32(0, value, true);
      return b;
    }
    case 'double': {
      if (typeof value !== 'number') throw new SchemaError(`${String(value)} is not a double`);
      const [b, v] = view(8);
      v.setFloat64(0, value, true);
      return b;
    }
    case 'string':
      if (typeof value !== 'string') throw new SchemaError(`${String(value)} is not a string`);
      return Uint8Array.from(Buffer.from(value, 'utf8'));
    case 'uuid':
      return typeof value === 'string' ? uuidToBytes(value) : asBytes(value, type);
    case 'binary':
      return asBytes(value, type);
  }
  const dec = parseDecimalType(type);
  if (dec) {
    const unscaled = typeof value === 'bigint' ? value : typeof value === 'string' ? decimalToUnscaled(value, dec.scale) : null;
    if (unscaled === null)
      throw new SchemaError(`decimal values are decimal text or unscaled bigints, never JS numbers (${String(value)})`);
    return unscaledToBytes(unscaled);
  }
  const fixed = /^fixed\[(\d+)\]$/.exec(type);
  if (fixed) {
    const b = asBytes(value, type);
    if (b.length !== Number(fixed[1])) throw new SchemaError(`${type} value has ${b.length} bytes`);
    return b;
  }
  throw new SchemaError(`no single-value serialization for type ${type}`);
}

/** The inverse of toBytes. Decimals come back as text with exactly `scale` fraction digits. */
export function fromBytes(type: PrimitiveType, bytes: Uint8Array): PrimitiveValue {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number): void => {
    if (bytes.length !== n) throw new SchemaError(`a ${type} value has ${n} bytes, got ${bytes.length}`);
  };
  switch (type) {
    case 'boolean':
      need(1);
      return bytes[0] !== 0;
    case 'int':
    case 'date':
      need(4);
      return v.getInt32(0, true);
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      need(8);
      return v.getBigInt64(0, true);
    case 'float':
      need(4);
      return v.getFloat32(0, true);
    case 'double':
      need(8);
      return v.getFloat64(0, true);
    case 'string':
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    case 'uuid':
      return bytesToUuid(bytes);
    case 'binary':
      return Uint8Array.from(bytes);
  }
  const dec = parseDecimalType(type);
  if (dec) return unscaledToDecimal(bytesToUnscaled(bytes), dec.scale);
  if (/^fixed\[\d+\]$/.test(type)) return Uint8Array.from(bytes);
  throw new SchemaError(`no single-value serialization for type ${type}`);
}

// ---------------------------------------------------------------------------------------------
// Bound truncation. Strings are cut at code points (never inside a UTF-8 sequence); the upper bound
// must stay ≥ every value, so after cutting, its last code point that can be is incremented.

export const DEFAULT_TRUNCATE_LENGTH = 16;

export function truncateStringLowerBound(value: string, length = DEFAULT_TRUNCATE_LENGTH): string {
  const cps = Array.from(value);
  return cps.length <= length ? value : cps.slice(0, length).join('');
}

/** null when no upper bound can be written (every kept code point is already U+10FFFF). */
export function truncateStringUpperBound(value: string, length = DEFAULT_TRUNCATE_LENGTH): string | null {
  const cps = Array.from(value);
  if (cps.length <= length) return value;
  const kept = cps.slice(0, length);
  for (let i = kept.length - 1; i >= 0; i--) {
    let next = kept[i].codePointAt(0)! + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000; // surrogates are not characters
    if (next <= 0x10ffff) return kept.slice(0, i).join('') + String.fromCodePoint(next);
  }
  return null;
}

export function truncateBinaryLowerBound(value: Uint8Array, length = DEFAULT_TRUNCATE_LENGTH): Uint8Array {
  return value.length <= length ? value : value.slice(0, length);
}

/** null when no upper bound can be written (every kept byte is 0xFF). */
export function truncateBinaryUpperBound(value: Uint8Array, length = DEFAULT_TRUNCATE_LENGTH): Uint8Array | null {
  if (value.length <= length) return value;
  for (let i = length - 1; i >= 0; i--) {
    if (value[i] < 0xff) {
      const out = value.slice(0, i + 1);
      out[i]++;
      return out;
    }
  }
  return null;
}
