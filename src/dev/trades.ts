// Realistic, deterministic crypto trades for the local stack's bronze tables.
//
// What makes them realistic (and useful for testing an offload):
// - two exchanges with their own conventions: Binance glued symbols (BTCUSDT) and increasing trade ids as
//   sequence_number; Kraken native pairs (XBT/USD) whose sequence_number is the channel id, constant per
//   pair — it orders nothing;
// - trades come in bursts: several orders within one second, and an order that sweeps several price levels
//   produces several fills in the *same millisecond*; so many rows share a timestamp;
// - prices follow a random walk (about 3 % daily volatility) on each symbol's tick grid; quantities sit on
//   the symbol's lot grid with 8 fraction digits; all decimals are formatted from integers, never floats;
// - kafka_offset is the trade's position in its exchange's ingest log: unique and increasing per table.
// The same seed and the same starting point give the same rows, byte for byte.

export type Exchange = 'binance' | 'kraken';
export const EXCHANGES: readonly Exchange[] = ['binance', 'kraken'];

/** One bronze row. Times are epoch milliseconds; decimals are exact strings with 8 fraction digits. */
export interface Trade {
  exchange: Exchange;
  exchangeTimestampMs: number;
  sequenceNumber: number;
  symbol: string;
  price: string;
  quantity: string;
  quoteVolume: string;
  eventTimeMs: number;
  kafkaOffset: number;
  kafkaPartition: number;
  ingestionTimestampMs: number;
}

interface Instrument {
  symbol: string;
  /** Starting price when nothing is known. */
  price: number;
  /** Price grid and quantity grid, in units of 1e-8. */
  tickUnits: number;
  lotUnits: number;
  /** Share of the exchange's orders. */
  weight: number;
  /** Kraken: the channel id the pair's trades arrive on (its bronze sequence_number). */
  channelId?: number;
}

const UNITS = 100_000_000; // 1e8: decimals have 8 fraction digits

export const INSTRUMENTS: Record<Exchange, readonly Instrument[]> = {
  binance: [
    { symbol: 'BTCUSDT', price: 64_250, tickUnits: 1_000_000, lotUnits: 1_000, weight: 0.38 },
    { symbol: 'ETHUSDT', price: 3_180, tickUnits: 1_000_000, lotUnits: 10_000, weight: 0.24 },
    { symbol: 'SOLUSDT', price: 146.5, tickUnits: 1_000_000, lotUnits: 100_000, weight: 0.14 },
    { symbol: 'BNBUSDT', price: 585, tickUnits: 1_000_000, lotUnits: 100_000, weight: 0.09 },
    { symbol: 'XRPUSDT', price: 0.5234, tickUnits: 10_000, lotUnits: 10_000_000, weight: 0.09 },
    { symbol: 'DOGEUSDT', price: 0.15321, tickUnits: 1_000, lotUnits: 100_000_000, weight: 0.06 },
  ],
  kraken: [
    { symbol: 'XBT/USD', price: 64_240, tickUnits: 10_000_000, lotUnits: 1, weight: 0.45, channelId: 119_930_881 },
    { symbol: 'ETH/USD', price: 3_179, tickUnits: 1_000_000, lotUnits: 1, weight: 0.3, channelId: 119_930_888 },
    { symbol: 'SOL/USD', price: 146.45, tickUnits: 1_000_000, lotUnits: 1, weight: 0.15, channelId: 119_930_892 },
    { symbol: 'XDG/USD', price: 0.15318, tickUnits: 10, lotUnits: 1, weight: 0.1, channelId: 119_930_904 },
  ],
};

/** Binance's share of generated rows; Kraken gets the rest. */
export const BINANCE_SHARE = 0.6;

/** Rows per exchange for a total: exact, the two always add up to `rows`. */
export function splitRows(rows: number): Record<Exchange, number> {
  const binance = Math.round(rows * BINANCE_SHARE);
  return { binance, kraken: rows - binance };
}

// ─── A seeded PRNG (sfc32, seeded through a string hash): fast, small state, same numbers everywhere ──

function hashSeed(text: string): [number, number, number, number] {
  // cyrb128
  let h1 = 1779033703,
    h2 = 3144134277,
    h3 = 1013904242,
    h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | undefined;

  constructor(seed: string) {
    [this.a, this.b, this.c, this.d] = hashSeed(seed);
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller, both values used). */
  gaussian(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** 1 + the number of failures before a success with probability p (mean 1/p). */
  geometric(p: number, max: number): number {
    let n = 1;
    while (n < max && this.next() > p) n++;
    return n;
  }
}

// ─── Exact decimals ─────────────────────────────────────────────────────────────────────────────────

/** An integer count of 1e-8 units as a decimal with 8 fraction digits: 150000000 → "1.50000000". */
export function formatUnits(units: number | bigint): string {
  if (typeof units === 'bigint') {
    const sign = units < 0n ? '-' : '';
    const abs = units < 0n ? -units : units;
    return `${sign}${abs / 100_000_000n}.${(abs % 100_000_000n).toString().padStart(8, '0')}`;
  }
  if (!Number.isSafeInteger(units)) throw new RangeError(`${units} is not a safe integer count of 1e-8 units`);
  const sign = units < 0 ? '-' : '';
  const abs = Math.abs(units);
  return `${sign}${Math.floor(abs / UNITS)}.${String(abs % UNITS).padStart(8, '0')}`;
}

/** price × quantity, both in 1e-8 units, rounded half-up to 1e-8 units. */
export function multiplyUnits(priceUnits: number, quantityUnits: number): bigint {
  const product = BigInt(priceUnits) * BigInt(quantityUnits);
  return (product + 50_000_000n) / 100_000_000n;
}

// ─── The generator ──────────────────────────────────────────────────────────────────────────────────

/** Where an exchange's feed continues from (so repeated seeding never reuses an id or an offset). */
export interface FeedPosition {
  /** Next Binance trade id (ignored for Kraken). */
  nextSequence: number;
  /** Next kafka_offset. */
  nextOffset: number;
  /** Last known price per symbol, as a number (continues the walk). */
  lastPrices: Record<string, number>;
}

export const FIRST_BINANCE_TRADE_ID = 3_100_000_000;

export function initialPosition(): FeedPosition {
  return { nextSequence: FIRST_BINANCE_TRADE_ID, nextOffset: 0, lastPrices: {} };
}

const DAILY_VOLATILITY = 0.03;
const DAY_MS = 86_400_000;

interface SymbolState {
  instrument: Instrument;
  priceUnits: number; // on the tick grid
  priceFloat: number;
  lastMs: number | undefined;
}

/**
 * One exchange's trade feed. Call `trades()` repeatedly with consecutive time ranges (follow mode) or once
 * for a whole range (seeding); the walk, the ids and the offsets carry over between calls.
 */
export class TradeFeed {
  readonly exchange: Exchange;
  private readonly random: Random;
  private readonly symbols: SymbolState[];
  private readonly cumulativeWeights: number[];
  private nextSequence: number;
  private nextOffset: number;
  private lastMs = -Infinity;

  constructor(exchange: Exchange, seed: string | number, position: FeedPosition = initialPosition()) {
    this.exchange = exchange;
    this.random = new Random(`${seed}/${exchange}`);
    this.nextSequence = position.nextSequence;
    this.nextOffset = position.nextOffset;
    this.symbols = INSTRUMENTS[exchange].map((instrument) => {
      const start = position.lastPrices[instrument.symbol] ?? instrument.price;
      const priceUnits = Math.max(instrument.tickUnits, Math.round((start * UNITS) / instrument.tickUnits) * instrument.tickUnits);
      return { instrument, priceUnits, priceFloat: priceUnits / UNITS, lastMs: undefined };
    });
    let sum = 0;
    this.cumulativeWeights = this.symbols.map((s) => (sum += s.instrument.weight));
  }

  /** Where the feed stands now (next id, next offset, last prices). */
  position(): FeedPosition {
    const lastPrices: Record<string, number> = {};
    for (const s of this.symbols) lastPrices[s.instrument.symbol] = s.priceUnits / UNITS;
    return { nextSequence: this.nextSequence, nextOffset: this.nextOffset, lastPrices };
  }

  private pickSymbol(): SymbolState {
    const x = this.random.next() * this.cumulativeWeights[this.cumulativeWeights.length - 1];
    let i = 0;
    while (i < this.cumulativeWeights.length - 1 && x >= this.cumulativeWeights[i]) i++;
    return this.symbols[i];
  }

  /** Moves a symbol's price to time t (random walk scaled by the time since its last trade). */
  private walk(s: SymbolState, t: number): void {
    const dt = s.lastMs === undefined ? 60_000 : Math.max(1, t - s.lastMs);
    s.lastMs = t;
    const sigma = DAILY_VOLATILITY * Math.sqrt(dt / DAY_MS);
    // A faint pull towards the starting price keeps long runs in a plausible range.
    const drift = -0.02 * Math.log(s.priceFloat / s.instrument.price) * (dt / DAY_MS);
    s.priceFloat *= Math.exp(drift + sigma * this.random.gaussian());
    const tick = s.instrument.tickUnits;
    s.priceUnits = Math.max(tick, Math.round((s.priceFloat * UNITS) / tick) * tick);
  }

  private quantityUnits(s: SymbolState): number {
    // Order notional: log-normal around 250 quote units, heavy right tail, capped.
    const notional = Math.min(2_000_000, 250 * Math.exp(1.3 * this.random.gaussian()));
    const lot = s.instrument.lotUnits;
    const units = Math.round(((notional / (s.priceUnits / UNITS)) * UNITS) / lot) * lot;
    return Math.max(lot, Math.min(units, 50_000 * UNITS));
  }

  /**
   * Exactly `rows` trades with exchange timestamps in [startMs, endMs), non-decreasing, spread evenly over
   * the range at large scale and in bursts at small scale.
   */
  *trades(rows: number, startMs: number, endMs: number): Generator<Trade> {
    if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`rows must be a non-negative integer (got ${rows})`);
    if (!(endMs > startMs)) throw new RangeError('the time range is empty (end must be after start)');
    const span = endMs - startMs;
    const r = this.random;
    let produced = 0;
    while (produced < rows) {
      // A burst: 1–8 orders within the same second or so; each order fills 1–12 price levels at one instant.
      const orders = r.geometric(0.5, 8);
      const fills: number[] = [];
      let burstRows = 0;
      for (let o = 0; o < orders && produced + burstRows < rows; o++) {
        const f = Math.min(r.geometric(0.55, 12), rows - produced - burstRows);
        fills.push(f);
        burstRows += f;
      }
      const base = startMs + Math.floor((span * (produced + r.next() * burstRows)) / rows);
      const spreadMs = r.next() < 0.3 ? 0 : r.int(900);
      const s = this.pickSymbol();
      for (const f of fills) {
        let t = Math.min(endMs - 1, base + r.int(spreadMs + 1));
        t = Math.max(t, this.lastMs);
        this.lastMs = t;
        this.walk(s, t);
        const up = r.next() < 0.5; // a buy sweeps the asks upwards, a sell the bids downwards
        let levelUnits = s.priceUnits;
        for (let k = 0; k < f; k++) {
          if (k > 0 && r.next() < 0.6)
            levelUnits = Math.max(s.instrument.tickUnits, levelUnits + (up ? 1 : -1) * s.instrument.tickUnits * (1 + r.int(2)));
          const qty = this.quantityUnits(s);
          const isBinance = this.exchange === 'binance';
          const eventTimeMs = isBinance ? t + r.int(6) : t;
          yield {
            exchange: this.exchange,
            exchangeTimestampMs: t,
            sequenceNumber: isBinance ? this.nextSequence++ : (s.instrument.channelId ?? 0),
            symbol: s.instrument.symbol,
            price: formatUnits(levelUnits),
            quantity: formatUnits(qty),
            quoteVolume: formatUnits(multiplyUnits(levelUnits, qty)),
            eventTimeMs,
            kafkaOffset: this.nextOffset++,
            kafkaPartition: 0,
            ingestionTimestampMs: eventTimeMs + 40 + r.int(1500),
          };
        }
        s.priceUnits = levelUnits;
        s.priceFloat = levelUnits / UNITS;
        produced += f;
      }
    }
  }
}

// ─── Bronze TSV ─────────────────────────────────────────────────────────────────────────────────────

/** The bronze columns in the order `tradeTsv` writes them. */
export const BRONZE_COLUMNS = [
  'exchange_timestamp',
  'exchange_timestamp_ms',
  'sequence_number',
  'symbol',
  'price',
  'quantity',
  'quote_volume',
  'event_time',
  'event_time_ms',
  'kafka_offset',
  'kafka_partition',
  'ingestion_timestamp',
] as const;

/** One TSV line (with newline). DateTimes are unix seconds (no time-zone ambiguity), plus the millisecond. */
export function tradeTsv(t: Trade): string {
  // Symbols are plain ASCII without tabs, backslashes or newlines: no TSV escaping needed.
  return `${Math.floor(t.exchangeTimestampMs / 1000)}\t${t.exchangeTimestampMs % 1000}\t${t.sequenceNumber}\t${t.symbol}\t${t.price}\t${t.quantity}\t${t.quoteVolume}\t${Math.floor(t.eventTimeMs / 1000)}\t${t.eventTimeMs % 1000}\t${t.kafkaOffset}\t${t.kafkaPartition}\t${Math.floor(t.ingestionTimestampMs / 1000)}\n`;
}
