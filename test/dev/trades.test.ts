// The trade generator on its own (no server): exact row counts, the same rows for the same seed, and the
// properties that make the data a real test of an offload — shared timestamps, Kraken's constant sequence
// numbers, exact 8-digit decimals.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TradeFeed, formatUnits, multiplyUnits, splitRows, tradeTsv, INSTRUMENTS, Random, type Trade } from '../../src/dev/trades.js';

const START = Date.parse('2026-01-05T00:00:00Z');
const END = Date.parse('2026-01-05T06:00:00Z');

function generate(exchange: 'binance' | 'kraken', rows: number, seed: string | number = 'unit'): Trade[] {
  return [...new TradeFeed(exchange, seed).trades(rows, START, END)];
}

function digest(trades: Trade[]): string {
  const h = createHash('sha256');
  for (const t of trades) h.update(tradeTsv(t));
  return h.digest('hex');
}

describe('trade generator', () => {
  it('splits a total exactly: 60 % Binance, the rest Kraken', () => {
    for (const n of [0, 1, 2, 3, 7, 100_000, 1_000_001]) {
      const s = splitRows(n);
      assert.equal(s.binance + s.kraken, n);
      assert.equal(s.binance, Math.round(n * 0.6));
    }
  });

  it('produces exactly the rows asked for, for any count', () => {
    for (const n of [0, 1, 5, 13, 999, 20_000]) {
      assert.equal(generate('binance', n).length, n, `binance ${n}`);
      assert.equal(generate('kraken', n).length, n, `kraken ${n}`);
    }
  });

  it('gives identical rows for the same seed and different rows for another seed', () => {
    const a = generate('binance', 30_000, 42);
    const b = generate('binance', 30_000, 42);
    const c = generate('binance', 30_000, 43);
    assert.equal(digest(a), digest(b));
    assert.notEqual(digest(a), digest(c));
    assert.equal(digest(generate('kraken', 10_000, 's')), digest(generate('kraken', 10_000, 's')));
  });

  it('keeps timestamps inside [start, end), non-decreasing, spread over the whole range', () => {
    const trades = generate('kraken', 50_000);
    let prev = -Infinity;
    for (const t of trades) {
      assert.ok(t.exchangeTimestampMs >= START && t.exchangeTimestampMs < END, `timestamp ${t.exchangeTimestampMs} outside the range`);
      assert.ok(t.exchangeTimestampMs >= prev, 'timestamps must not go back');
      prev = t.exchangeTimestampMs;
    }
    const span = END - START;
    assert.ok(trades[0].exchangeTimestampMs - START < span * 0.01, 'starts near the start');
    assert.ok(END - trades[trades.length - 1].exchangeTimestampMs < span * 0.01, 'ends near the end');
  });

  it('puts many trades in the same second and in the same millisecond', () => {
    const trades = generate('binance', 50_000);
    const perSecond = new Map<number, number>();
    const perMs = new Map<number, number>();
    for (const t of trades) {
      const s = Math.floor(t.exchangeTimestampMs / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
      perMs.set(t.exchangeTimestampMs, (perMs.get(t.exchangeTimestampMs) ?? 0) + 1);
    }
    const rowsSharingSecond = [...perSecond.values()].filter((n) => n > 1).reduce((a, b) => a + b, 0);
    const rowsSharingMs = [...perMs.values()].filter((n) => n > 1).reduce((a, b) => a + b, 0);
    assert.ok(rowsSharingSecond > trades.length * 0.5, `only ${rowsSharingSecond} of ${trades.length} rows share a second`);
    assert.ok(rowsSharingMs > trades.length * 0.2, `only ${rowsSharingMs} of ${trades.length} rows share a millisecond`);
    assert.ok(Math.max(...perMs.values()) >= 5, 'some order fills several levels in one millisecond');
  });

  it("uses Kraken's channel id as sequence_number: constant per pair, so it orders nothing", () => {
    const trades = generate('kraken', 20_000);
    const bySymbol = new Map<string, Set<number>>();
    for (const t of trades) {
      if (!bySymbol.has(t.symbol)) bySymbol.set(t.symbol, new Set());
      bySymbol.get(t.symbol)!.add(t.sequenceNumber);
    }
    assert.deepEqual([...bySymbol.keys()].sort(), INSTRUMENTS.kraken.map((i) => i.symbol).sort());
    for (const [symbol, seqs] of bySymbol) assert.equal(seqs.size, 1, `${symbol} has ${seqs.size} sequence numbers`);
    assert.ok(
      trades.some((t) => t.symbol === 'XBT/USD'),
      'Kraken calls bitcoin XBT',
    );
  });

  it("numbers Binance trades consecutively and every trade's ingest offset uniquely", () => {
    const trades = generate('binance', 20_000);
    for (let i = 1; i < trades.length; i++) {
      assert.equal(trades[i].sequenceNumber, trades[i - 1].sequenceNumber + 1);
      assert.equal(trades[i].kafkaOffset, trades[i - 1].kafkaOffset + 1);
    }
    assert.equal(trades[0].kafkaOffset, 0);
  });

  it('continues ids, offsets and prices from a given position', () => {
    const feed = new TradeFeed('binance', 'p');
    const first = [...feed.trades(1000, START, START + 60_000)];
    const position = feed.position();
    const next = [...new TradeFeed('binance', 'p2', position).trades(10, START + 60_000, START + 120_000)];
    assert.equal(next[0].sequenceNumber, first[first.length - 1].sequenceNumber + 1);
    assert.equal(next[0].kafkaOffset, 1000);
    const btc = next.find((t) => t.symbol === 'BTCUSDT');
    if (btc) assert.ok(Math.abs(Number(btc.price) / position.lastPrices.BTCUSDT - 1) < 0.05, 'the walk continues near the last price');
  });

  it('writes prices, quantities and quote volumes as exact 8-digit decimals on the symbol grids', () => {
    const trades = [...generate('binance', 5000), ...generate('kraken', 5000)];
    const grid = new Map([...INSTRUMENTS.binance, ...INSTRUMENTS.kraken].map((i) => [i.symbol, i]));
    const units = (s: string) => BigInt(s.replace('.', ''));
    for (const t of trades) {
      for (const v of [t.price, t.quantity, t.quoteVolume]) assert.match(v, /^\d+\.\d{8}$/);
      const inst = grid.get(t.symbol)!;
      assert.equal(units(t.price) % BigInt(inst.tickUnits), 0n, `${t.symbol} price ${t.price} off the tick grid`);
      assert.equal(units(t.quantity) % BigInt(inst.lotUnits), 0n, `${t.symbol} quantity ${t.quantity} off the lot grid`);
      assert.ok(units(t.price) > 0n && units(t.quantity) > 0n);
      const exact = units(t.price) * units(t.quantity);
      assert.equal(units(t.quoteVolume), (exact + 50_000_000n) / 100_000_000n, 'quote volume = price × quantity, rounded to 1e-8');
      assert.ok(units(t.quoteVolume) < 10n ** 18n, 'fits Decimal(18, 8)');
    }
  });

  it('keeps prices in a plausible range over a long history', () => {
    const trades = [...new TradeFeed('binance', 'long').trades(200_000, START, START + 30 * 86_400_000)];
    const btc = trades.filter((t) => t.symbol === 'BTCUSDT').map((t) => Number(t.price));
    assert.ok(Math.min(...btc) > 64_250 * 0.5 && Math.max(...btc) < 64_250 * 2, `BTC between ${Math.min(...btc)} and ${Math.max(...btc)}`);
  });

  it('formats unit counts exactly, never through a float', () => {
    assert.equal(formatUnits(0), '0.00000000');
    assert.equal(formatUnits(1), '0.00000001');
    assert.equal(formatUnits(150_000_000), '1.50000000');
    assert.equal(formatUnits(6_425_012_345_678), '64250.12345678');
    assert.equal(formatUnits(123_456_789_012_345_678_901n), '1234567890123.45678901');
    assert.equal(formatUnits(-5n), '-0.00000005');
    assert.equal(multiplyUnits(2_204_801_000_000, 100_000_000), 2_204_801_000_000n); // 22048.01 × 1
    assert.equal(multiplyUnits(1, 50_000_000), 1n); // 0.00000001 × 0.5 = 0.000000005 → rounds half up
    assert.throws(() => formatUnits(2 ** 60), RangeError);
  });

  it('draws the same numbers from the same seed', () => {
    const a = new Random('x');
    const b = new Random('x');
    for (let i = 0; i < 1000; i++) assert.equal(a.next(), b.next());
    const c = new Random('y');
    assert.notEqual(new Random('x').next(), c.next());
  });
});
