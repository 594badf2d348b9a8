import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesToUnscaled,
  decimalRequiredBytes,
  decimalToUnscaled,
  fromBytes,
  toBytes,
  truncateBinaryLowerBound,
  truncateBinaryUpperBound,
  truncateStringLowerBound,
  truncateStringUpperBound,
  unscaledToBytes,
  unscaledToDecimal,
  unscaledToFixed,
  type PrimitiveValue,
} from '../../src/iceberg/conversions.js';
import type { PrimitiveType } from '../../src/iceberg/types.js';
import { pythonSkip, runPython } from '../support/python.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// [type, value, expected bytes (hex)]: spec Appendix D.
const vectors: Array<[PrimitiveType, PrimitiveValue, string]> = [
  ['boolean', false, '00'],
  ['boolean', true, '01'],
  ['int', 1, '01000000'],
  ['int', -2, 'feffffff'],
  ['int', 2147483647, 'ffffff7f'],
  ['date', 17486, '4e440000'], // 2017-11-16
  ['date', -1, 'ffffffff'],
  ['long', 1n, '0100000000000000'],
  ['long', -1n, 'ffffffffffffffff'],
  ['long', 9223372036854775807n, 'ffffffffffffff7f'],
  ['time', 81068123456n, '406509e012000000'],
  ['timestamp', 1510871468123456n, '40a5282d215e0500'],
  ['timestamptz', 1510871468123456n, '40a5282d215e0500'],
  ['timestamptz', -1n, 'ffffffffffffffff'],
  ['float', 1, '0000803f'],
  ['float', -0, '00000080'],
  ['double', 1, '000000000000f03f'],
  ['double', -2.5, '00000000000004c0'],
  ['string', 'iceberg', '69636562657267'],
  ['string', 'ä€😀', 'c3a4e282acf09f9880'],
  ['string', '', ''],
  ['uuid', 'f79c3e09-677c-4bbd-a479-3f349cb785e7', 'f79c3e09677c4bbda4793f349cb785e7'],
  ['decimal(9, 2)', '14.20', '058c'],
  ['decimal(9, 2)', '-14.20', 'fa74'],
  ['decimal(9, 0)', '0', '00'],
  ['decimal(9, 0)', '-1', 'ff'],
  ['decimal(9, 0)', '127', '7f'],
  ['decimal(9, 0)', '128', '0080'],
  ['decimal(9, 0)', '-128', '80'],
  ['decimal(9, 0)', '-129', 'ff7f'],
  ['decimal(20, 0)', '18446744073709551615', '00ffffffffffffffff'], // UInt64 max
  ['decimal(38, 8)', '-99999999999999999999999999999.99999999', 'f87a11ef2a25b926ff0bc96000000001'],
  ['decimal(18, 8)', '22048.01000000', '020158616240'],
  ['binary', Uint8Array.of(0, 1, 2, 255), '000102ff'],
  ['fixed[3]', Uint8Array.of(9, 8, 7), '090807'],
];

describe('single-value binary serialization (spec Appendix D)', () => {
  for (const [type, value, expected] of vectors) {
    it(`${type} ${value instanceof Uint8Array ? hex(value) : String(value)} ↔ ${expected || '(empty)'}`, () => {
      const bytes = toBytes(type, value);
      assert.equal(hex(bytes), expected);
      assert.deepEqual(fromBytes(type, bytes), value);
    });
  }

  it('takes decimals as unscaled bigints too, and never as JS numbers', () => {
    assert.equal(hex(toBytes('decimal(9, 2)', 1420n)), '058c');
    assert.throws(() => toBytes('decimal(9, 2)', 14.2), /never JS numbers/);
  });

  it('accepts long values given as safe JS integers and rejects the rest', () => {
    assert.equal(hex(toBytes('long', 5)), '0500000000000000');
    assert.throws(() => toBytes('long', 1.5));
    assert.throws(() => toBytes('int', 2 ** 31));
    assert.throws(() => toBytes('int', 'x'));
  });

  it('rejects byte strings of the wrong length when decoding', () => {
    assert.throws(() => fromBytes('int', Uint8Array.of(1, 2)));
    assert.throws(() => fromBytes('uuid', Uint8Array.of(1, 2)));
  });

  it('agrees with pyiceberg.conversions.to_bytes on every vector', { skip: pythonSkip }, () => {
    const script = `
import sys, json, uuid
from decimal import Decimal
from pyiceberg.conversions import to_bytes
from pyiceberg.types import *
def typ(t):
    if t.startswith('decimal'):
        p, s = t[8:-1].split(',')
        return DecimalType(int(p), int(s))
    if t.startswith('fixed'):
        return FixedType(int(t[6:-1]))
    return {'boolean': BooleanType(), 'int': IntegerType(), 'long': LongType(), 'float': FloatType(), 'double': DoubleType(),
            'date': DateType(), 'time': TimeType(), 'timestamp': TimestampType(), 'timestamptz': TimestamptzType(),
            'string': StringType(), 'uuid': UUIDType(), 'binary': BinaryType()}[t]
out = []
for t, v in json.load(sys.stdin):
    ty = typ(t)
    if isinstance(ty, DecimalType): v = Decimal(v)
    elif isinstance(ty, UUIDType): v = uuid.UUID(v)
    elif isinstance(ty, (BinaryType, FixedType)): v = bytes.fromhex(v)
    elif isinstance(ty, (LongType, TimeType, TimestampType, TimestamptzType)): v = int(v)
    out.append(to_bytes(ty, v).hex())
print(json.dumps(out))
`;
    const checked = vectors.filter(([, v]) => !Object.is(v, -0)); // JSON has no -0
    const input = checked.map(([t, v]) => [t, v instanceof Uint8Array ? hex(v) : v]);
    const theirs = runPython<string[]>(script, input);
    const ours = checked.map(([t, v]) => hex(toBytes(t, v)));
    // pyiceberg sizes decimals with (bit_length + 8) // 8, one byte more than the minimum for
    // negative powers of two (-128 → ff80); both decode to the same value.
    assert.deepEqual(
      theirs.map((h, i) => (checked[i][0].startsWith('decimal') ? bytesToUnscaled(Buffer.from(h, 'hex')).toString() : h)),
      ours.map((h, i) => (checked[i][0].startsWith('decimal') ? bytesToUnscaled(Buffer.from(h, 'hex')).toString() : h)),
    );
  });
});

describe('decimals without floats', () => {
  it('parses decimal text exactly to the unscaled value', () => {
    assert.equal(decimalToUnscaled('22048.01', 8), 2204801000000n);
    assert.equal(decimalToUnscaled('-0.5', 2), -50n);
    assert.equal(decimalToUnscaled('.5', 1), 5n);
    assert.equal(decimalToUnscaled('7', 3), 7000n);
    assert.equal(decimalToUnscaled('1.5e3', 0), 1500n);
    assert.equal(decimalToUnscaled('15E-1', 1), 15n);
    assert.equal(decimalToUnscaled('1.2300', 2), 123n);
    assert.equal(decimalToUnscaled('18446744073709551615', 0), 18446744073709551615n);
    assert.throws(() => decimalToUnscaled('1.234', 2), /more than 2 decimal places/);
    assert.throws(() => decimalToUnscaled('abc', 2), /not a decimal/);
    assert.throws(() => decimalToUnscaled('', 2), /not a decimal/);
  });

  it('formats the unscaled value with exactly scale digits', () => {
    assert.equal(unscaledToDecimal(2204801000000n, 8), '22048.01000000');
    assert.equal(unscaledToDecimal(-5n, 3), '-0.005');
    assert.equal(unscaledToDecimal(0n, 2), '0.00');
    assert.equal(unscaledToDecimal(-42n, 0), '-42');
  });

  it('sizes Avro fixed decimals by precision like Iceberg', () => {
    assert.deepEqual([1, 2, 9, 10, 18, 19, 20, 38].map(decimalRequiredBytes), [1, 1, 4, 5, 8, 9, 9, 16]);
    assert.equal(hex(unscaledToFixed(-1n, 4)), 'ffffffff');
    assert.equal(hex(unscaledToFixed(1420n, 4)), '0000058c');
    assert.throws(() => unscaledToFixed(1n << 31n, 4));
    assert.equal(bytesToUnscaled(unscaledToFixed(-1234567n, 9)), -1234567n);
    assert.equal(hex(unscaledToBytes(-(1n << 127n))), '80000000000000000000000000000000');
  });
});

describe('bound truncation (metrics mode truncate(16))', () => {
  it('leaves values within the length alone', () => {
    assert.equal(truncateStringLowerBound('BTCUSDT'), 'BTCUSDT');
    assert.equal(truncateStringUpperBound('BTCUSDT'), 'BTCUSDT');
    assert.equal(truncateStringUpperBound('x'.repeat(16)), 'x'.repeat(16));
  });

  it('cuts the lower bound at 16 code points', () => {
    assert.equal(truncateStringLowerBound('abcdefghijklmnopqrstuvwxyz'), 'abcdefghijklmnop');
    assert.equal(truncateStringLowerBound('😀'.repeat(20)), '😀'.repeat(16));
  });

  it('cuts the upper bound and increments its last code point', () => {
    assert.equal(truncateStringUpperBound('abcdefghijklmnopqrstuvwxyz'), 'abcdefghijklmnoq');
    assert.equal(truncateStringUpperBound('abc', 2), 'ac');
    assert.equal(truncateStringUpperBound('a\u{10FFFF}z', 2), 'b');
    assert.equal(truncateStringUpperBound('a\uD7FFz', 2), 'a\uE000');
    assert.equal(truncateStringUpperBound('\u{10FFFF}\u{10FFFF}z', 2), null);
    const upper = truncateStringUpperBound('BINANCE-1234567890123456789')!;
    assert.ok(Buffer.compare(Buffer.from(upper), Buffer.from('BINANCE-1234567890123456789')) > 0);
  });

  it('does the same for binary, in bytes', () => {
    const v = Uint8Array.from({ length: 20 }, (_, i) => i);
    assert.deepEqual(truncateBinaryLowerBound(v), v.slice(0, 16));
    assert.deepEqual(truncateBinaryUpperBound(v), Uint8Array.from([...v.slice(0, 15), 16]));
    assert.deepEqual(truncateBinaryUpperBound(Uint8Array.of(1, 0xff, 0xff, 3), 3), Uint8Array.of(2));
    assert.equal(truncateBinaryUpperBound(Uint8Array.of(0xff, 0xff, 3), 2), null);
  });
});
