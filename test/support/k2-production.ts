// The k2 platform's production ClickHouse dialect (reference/k2-platform.md), for the tests that run it on
// the current ClickHouse engine: the nine tables' DDL as production has it, the silver → candle
// materialized views (the production flow), the AggregatingMergeTree candle variant, the offload
// configuration of the nine tables, and rows with edge values — each row kept in the canonical form the
// Iceberg readers print (test/support/iceberg_check.py), so what pyiceberg reads is compared with what
// was inserted, not with ClickHouse's own rendering of it.
//
// Candles (flaw 4 of the reference). Production's ohlcv_* are SummingMergeTree tables that sum volume,
// quote_volume and trade_count; the other columns (open/close time and price, high, low) come from the
// views' argMin/argMax/max/min *per insert block*, and when parts merge the engine keeps one partial row's
// values — an arbitrary one. Once merged, a candle's true open, close, high and low are gone from the
// table: no query over ohlcv_* can read them back. So the offload reads production candles re-aggregated
// from silver_trades, the candles' own source, which is exact whatever state the candle tables are in
// (silver keeps 30 days; a 1d candle is offloaded a day and a lag after it opens). Ties on the timestamp
// are broken by trade_id, so open and close are deterministic. The AggregatingMergeTree variant
// (`ohlcv_1m_agg`: -State columns, read with -Merge) stays exact through merges and is read directly.

export const DATABASE = 'k2';

/** The production DDL: the nine tables of reference/k2-platform.md, engines, keys and TTLs as given there. */
export function productionDdl(db = DATABASE): string[] {
  const bronze = (table: string) => `CREATE TABLE ${db}.${table} (
    exchange_timestamp  DateTime64(3),
    sequence_number     UInt64,
    symbol              String,
    price               Decimal(18, 8),
    quantity            Decimal(18, 8),
    quote_volume        Decimal(18, 8),
    event_time          DateTime64(3),
    kafka_offset        UInt64,
    kafka_partition     UInt16,
    ingestion_timestamp DateTime DEFAULT now()
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(exchange_timestamp)
ORDER BY (symbol, exchange_timestamp, sequence_number)
TTL toDateTime(exchange_timestamp) + INTERVAL 7 DAY`;
  const silver = `CREATE TABLE ${db}.silver_trades (
    message_id          UUID,
    trade_id            String,
    exchange            LowCardinality(String),
    symbol              LowCardinality(String),
    canonical_symbol    LowCardinality(String),
    asset_class         Enum8('equities' = 1, 'crypto' = 2, 'futures' = 3, 'options' = 4),
    currency            LowCardinality(String),
    price               Decimal128(8),
    quantity            Decimal128(8),
    quote_volume        Decimal128(8),
    side                Enum8('BUY' = 1, 'SELL' = 2, 'SELL_SHORT' = 3, 'UNKNOWN' = 4),
    trade_conditions    Array(String),
    timestamp           DateTime64(6, 'UTC'),
    ingestion_timestamp DateTime64(6, 'UTC'),
    processed_at        DateTime64(6, 'UTC') DEFAULT now64(6),
    source_sequence     Nullable(UInt64),
    platform_sequence   Nullable(UInt64),
    vendor_data         Map(String, String),
    is_valid            Bool DEFAULT true,
    validation_errors   Array(String) DEFAULT []
) ENGINE = MergeTree
PARTITION BY (exchange, asset_class, toYYYYMMDD(timestamp))
ORDER BY (exchange, asset_class, canonical_symbol, timestamp)
TTL toDateTime(timestamp) + INTERVAL 30 DAY`;
  const candle = (c: Candle) => `CREATE TABLE ${db}.${c.table} (
    exchange         LowCardinality(String),
    canonical_symbol LowCardinality(String),
    window_start     DateTime64(3),
    open_time        DateTime64(3),
    open_price       Decimal(18, 8),
    close_time       DateTime64(3),
    close_price      Decimal(18, 8),
    high_price       Decimal(18, 8),
    low_price        Decimal(18, 8),
    volume           Decimal(38, 8),
    quote_volume     Decimal(38, 8),
    trade_count      UInt64
) ENGINE = SummingMergeTree((volume, quote_volume, trade_count))
PARTITION BY (exchange, toYYYYMM(window_start))
ORDER BY (exchange, canonical_symbol, window_start)
TTL toDateTime(window_start) + INTERVAL ${c.ttl}`;
  return [bronze('bronze_trades_binance'), bronze('bronze_trades_kraken'), silver, ...CANDLES.map(candle)];
}

export interface Candle {
  table: string;
  /** The window start of a silver trade's `timestamp`, as the production view computes it. */
  start: string;
  seconds: number;
  closedWindow: string;
  ttl: string;
}

export const CANDLES: Candle[] = [
  { table: 'ohlcv_1m', start: 'toStartOfMinute(timestamp)', seconds: 60, closedWindow: '1m', ttl: '1 YEAR' },
  { table: 'ohlcv_5m', start: 'toStartOfFiveMinutes(timestamp)', seconds: 300, closedWindow: '5m', ttl: '1 YEAR' },
  { table: 'ohlcv_15m', start: 'toStartOfFifteenMinutes(timestamp)', seconds: 900, closedWindow: '15m', ttl: '1 YEAR' },
  { table: 'ohlcv_30m', start: 'toStartOfInterval(timestamp, INTERVAL 30 MINUTE)', seconds: 1800, closedWindow: '30m', ttl: '1 YEAR' },
  { table: 'ohlcv_1h', start: 'toStartOfHour(timestamp)', seconds: 3600, closedWindow: '1h', ttl: '1 YEAR' },
  { table: 'ohlcv_1d', start: 'toStartOfDay(timestamp)', seconds: 86400, closedWindow: '1d', ttl: '2 YEAR' },
];

/** The production flow silver → candles: one view per candle table, OHLC per insert block, `WHERE is_valid`. */
export function candleViews(db = DATABASE): string[] {
  return CANDLES.map(
    (c) => `CREATE MATERIALIZED VIEW ${db}.${c.table}_mv TO ${db}.${c.table} AS
SELECT
    exchange,
    canonical_symbol,
    ${c.start} AS window_start,
    argMin(timestamp, timestamp) AS open_time,
    argMin(price, timestamp)     AS open_price,
    argMax(timestamp, timestamp) AS close_time,
    argMax(price, timestamp)     AS close_price,
    max(price)        AS high_price,
    min(price)        AS low_price,
    sum(quantity)     AS volume,
    sum(quote_volume) AS quote_volume,
    count()           AS trade_count
FROM ${db}.silver_trades
WHERE is_valid = true
GROUP BY exchange, canonical_symbol, window_start`,
  );
}

/** The correct candle table: AggregatingMergeTree with -State columns (1m), fed by its own view. */
export function aggregatingCandleDdl(db = DATABASE): string[] {
  return [
    `CREATE TABLE ${db}.ohlcv_1m_agg (
    exchange         LowCardinality(String),
    canonical_symbol LowCardinality(String),
    window_start     DateTime64(3),
    open_time        AggregateFunction(min, DateTime64(6, 'UTC')),
    open_price       AggregateFunction(argMin, Decimal128(8), Tuple(DateTime64(6, 'UTC'), String)),
    close_time       AggregateFunction(max, DateTime64(6, 'UTC')),
    close_price      AggregateFunction(argMax, Decimal128(8), Tuple(DateTime64(6, 'UTC'), String)),
    high_price       AggregateFunction(max, Decimal128(8)),
    low_price        AggregateFunction(min, Decimal128(8)),
    volume           AggregateFunction(sum, Decimal128(8)),
    quote_volume     AggregateFunction(sum, Decimal128(8)),
    trade_count      AggregateFunction(count)
) ENGINE = AggregatingMergeTree
PARTITION BY (exchange, toYYYYMM(window_start))
ORDER BY (exchange, canonical_symbol, window_start)
TTL toDateTime(window_start) + INTERVAL 1 YEAR`,
    `CREATE MATERIALIZED VIEW ${db}.ohlcv_1m_agg_mv TO ${db}.ohlcv_1m_agg AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfMinute(timestamp) AS window_start,
    minState(timestamp) AS open_time,
    argMinState(price, (timestamp, trade_id)) AS open_price,
    maxState(timestamp) AS close_time,
    argMaxState(price, (timestamp, trade_id)) AS close_price,
    maxState(price) AS high_price,
    minState(price) AS low_price,
    sumState(quantity) AS volume,
    sumState(quote_volume) AS quote_volume,
    countState() AS trade_count
FROM ${db}.silver_trades
WHERE is_valid = true
GROUP BY exchange, canonical_symbol, window_start`,
  ];
}

/** Candles of one interval re-aggregated from silver_trades: exact whatever state the candle tables are in. */
export function candlesFromSilverQuery(c: Candle, db = DATABASE): string {
  return `SELECT
    exchange,
    canonical_symbol,
    CAST(${c.start} AS DateTime64(3)) AS window_start,
    CAST(min(timestamp) AS DateTime64(3)) AS open_time,
    CAST(argMin(price, (timestamp, trade_id)) AS Decimal(18, 8)) AS open_price,
    CAST(max(timestamp) AS DateTime64(3)) AS close_time,
    CAST(argMax(price, (timestamp, trade_id)) AS Decimal(18, 8)) AS close_price,
    CAST(max(price) AS Decimal(18, 8)) AS high_price,
    CAST(min(price) AS Decimal(18, 8)) AS low_price,
    CAST(sum(quantity) AS Decimal(38, 8)) AS volume,
    CAST(sum(quote_volume) AS Decimal(38, 8)) AS quote_volume,
    count() AS trade_count
FROM ${db}.silver_trades
WHERE is_valid = true
GROUP BY exchange, canonical_symbol, window_start`;
}

/** The AggregatingMergeTree variant read back: -Merge per candle, the production candle columns. */
export function candlesFromAggregatingQuery(db = DATABASE): string {
  return `SELECT
    exchange,
    canonical_symbol,
    window_start,
    CAST(minMerge(open_time) AS DateTime64(3)) AS open_time,
    CAST(argMinMerge(open_price) AS Decimal(18, 8)) AS open_price,
    CAST(maxMerge(close_time) AS DateTime64(3)) AS close_time,
    CAST(argMaxMerge(close_price) AS Decimal(18, 8)) AS close_price,
    CAST(maxMerge(high_price) AS Decimal(18, 8)) AS high_price,
    CAST(minMerge(low_price) AS Decimal(18, 8)) AS low_price,
    CAST(sumMerge(volume) AS Decimal(38, 8)) AS volume,
    CAST(sumMerge(quote_volume) AS Decimal(38, 8)) AS quote_volume,
    countMerge(trade_count) AS trade_count
FROM ${db}.ohlcv_1m_agg
GROUP BY exchange, canonical_symbol, window_start`;
}

/**
 * The best a query over the production SummingMergeTree table can do: fold partial rows per candle.
 * Right while no merge has touched a candle; wrong after one (the engine kept one partial row's OHLC).
 */
export function candlesFromSummingQuery(c: Candle, db = DATABASE): string {
  return `SELECT
    exchange,
    canonical_symbol,
    window_start,
    min(p.open_time) AS open_time,
    argMin(p.open_price, p.open_time) AS open_price,
    max(p.close_time) AS close_time,
    argMax(p.close_price, p.close_time) AS close_price,
    max(p.high_price) AS high_price,
    min(p.low_price) AS low_price,
    sum(p.volume) AS volume,
    sum(p.quote_volume) AS quote_volume,
    sum(p.trade_count) AS trade_count
FROM ${db}.${c.table} AS p
GROUP BY exchange, canonical_symbol, window_start`;
}

/** offload.config.json for the nine tables. */
export function offloadConfig(db = DATABASE): { tables: Array<Record<string, unknown>> } {
  return {
    tables: [
      ...['binance', 'kraken'].map((x) => ({
        name: `bronze_trades_${x}`,
        layer: 'bronze',
        source: `${db}.bronze_trades_${x}`,
        cursor: 'exchange_timestamp',
        tieBreak: 'kafka_offset',
        lag: '5m',
        target: `cold.bronze_trades_${x}`,
        partitionBy: ['day(exchange_timestamp)'],
      })),
      {
        name: 'silver_trades',
        layer: 'silver',
        source: `${db}.silver_trades`,
        cursor: 'timestamp',
        lag: '5m',
        target: 'cold.silver_trades',
        partitionBy: ['day(timestamp)', 'exchange', 'asset_class'],
      },
      ...CANDLES.map((c) => ({
        name: c.table,
        layer: 'gold',
        query: candlesFromSilverQuery(c, db),
        cursor: 'window_start',
        lag: '5m',
        closedWindow: c.closedWindow,
        target: `cold.gold_${c.table}`,
        partitionBy: ['month(window_start)', 'exchange'],
        comment: 'Re-aggregated from silver_trades: the SummingMergeTree candle table loses OHLC when parts merge (reference flaw 4).',
      })),
    ],
  };
}

// ─── Time and decimals, exactly ─────────────────────────────────────────────────────────────────────

export type Micros = bigint;
const DAY: Micros = 86_400_000_000n;

/** The start (µs) of the UTC day `daysBack` days before `now`'s. */
export function utcDayStart(now: Date, daysBack: number): Micros {
  return BigInt(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())) * 1000n - BigInt(daysBack) * DAY;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** `YYYY-MM-DDTHH:MM:SS.ffffff`: the canonical timestamp text. */
export function isoMicros(us: Micros): string {
  const s = floorDiv(us, 1_000_000n);
  return `${new Date(Number(s) * 1000).toISOString().slice(0, 19)}.${(us - s * 1_000_000n).toString().padStart(6, '0')}`;
}

/** ClickHouse input text with `digits` sub-second digits (0 for DateTime). */
export function chText(us: Micros, digits: 0 | 3 | 6): string {
  const iso = isoMicros(us).replace('T', ' ');
  return digits === 0 ? iso.slice(0, 19) : iso.slice(0, 20 + digits);
}

/** Decimal text with `scale` digits → scaled integer; refuses more digits than the scale. */
export function scaled(text: string, scale = 8): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m || (m[3] ?? '').length > scale) throw new Error(`"${text}" is not a decimal with ≤ ${scale} digits`);
  const v = BigInt(m[2] + (m[3] ?? '').padEnd(scale, '0'));
  return m[1] ? -v : v;
}

/** Scaled integer → decimal text with exactly `scale` digits (Python's format(Decimal, 'f')). */
export function decimalText(v: bigint, scale = 8): string {
  const neg = v < 0n;
  const digits = (neg ? -v : v).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

const pad8 = (n: number | bigint) => n.toString().padStart(8, '0');

// ─── Rows ──────────────────────────────────────────────────────────────────────────────────────────

export const U64_MAX = '18446744073709551615';
export const D38_MAX = '99999999999999999999999999999.99999999';
export const D38_MIN = '-99999999999999999999999999999.99999999';
export const D18_MAX = '9999999999.99999999';

/** Strings with every kind of character a string column must keep. */
export const NASTY = ['tab\there', 'nl\nhere\r\n', 'nul\0end', 'quote"\'`\\back', 'ctl\u0001\u001f\u007f', '😀 日本 ümlaut Ω', ''];

export interface BronzeTrade {
  exchange_timestamp: Micros;
  sequence_number: string;
  symbol: string;
  price: string;
  quantity: string;
  quote_volume: string;
  event_time: Micros;
  kafka_offset: string;
  kafka_partition: number;
  ingestion_timestamp: Micros;
}

export interface SilverTrade {
  message_id: string;
  trade_id: string;
  exchange: string;
  symbol: string;
  canonical_symbol: string;
  asset_class: 'equities' | 'crypto' | 'futures' | 'options';
  currency: string;
  price: string;
  quantity: string;
  quote_volume: string;
  side: 'BUY' | 'SELL' | 'SELL_SHORT' | 'UNKNOWN';
  trade_conditions: string[];
  timestamp: Micros;
  ingestion_timestamp: Micros;
  processed_at: Micros;
  source_sequence: string | null;
  platform_sequence: string | null;
  vendor_data: Record<string, string>;
  is_valid: boolean;
  validation_errors: string[];
}

const ASSET_CLASSES = ['equities', 'crypto', 'futures', 'options'] as const;
const SIDES = ['BUY', 'SELL', 'SELL_SHORT', 'UNKNOWN'] as const;

function uuidOf(i: bigint): string {
  const h = i.toString(16).padStart(32, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Bronze trades of one exchange on the UTC days starting at `days` (µs): `count` regular trades (three
 * share each millisecond; Kraken's sequence_number is one constant channel id), then the edges — UInt64
 * max in sequence_number and kafka_offset (the largest tie-break, at the newest timestamp), Decimal(18,8)
 * at ±max and one unit, every kind of character in the symbol, UInt16 max partition.
 */
export function bronzeTrades(exchange: 'binance' | 'kraken', days: Micros[], count: number): BronzeTrade[] {
  const rows: BronzeTrade[] = [];
  const first = days[0] + 9n * 3_600_000_000n;
  for (let i = 0; i < count; i++) {
    const group = Math.floor(i / 3); // three trades share each millisecond
    const ts = days[group % days.length] + 9n * 3_600_000_000n + BigInt(group) * 61_237_000n;
    rows.push({
      exchange_timestamp: ts,
      sequence_number: exchange === 'kraken' ? '336' : String(7_000_000_000 + i),
      symbol: ['BTCUSDT', 'ETHUSDT', 'XBTUSD'][i % 3],
      price: `${20000 + (i % 5000)}.${pad8((i * 7919) % 100_000_000)}`,
      quantity: `${i % 7}.${pad8((i * 104_729) % 100_000_000)}`,
      quote_volume: `${(i * 13) % 100_000}.${pad8((i * 31) % 100_000_000)}`,
      event_time: ts + BigInt(i % 1000) * 1000n,
      kafka_offset: String(1_000 + i),
      kafka_partition: i % 3,
      ingestion_timestamp: (ts / 1_000_000n + 1n) * 1_000_000n,
    });
  }
  const last = days[days.length - 1] + 23n * 3_600_000_000n + 59n * 60_000_000n + 59_999_000n; // 23:59:59.999
  rows.push(
    {
      exchange_timestamp: last,
      sequence_number: U64_MAX,
      symbol: NASTY.join('|'),
      price: D18_MAX,
      quantity: '0.00000001',
      quote_volume: `-${D18_MAX}`,
      event_time: last,
      kafka_offset: U64_MAX,
      kafka_partition: 65535,
      ingestion_timestamp: days[days.length - 1] + DAY - 1_000_000n,
    },
    {
      exchange_timestamp: last,
      sequence_number: '0',
      symbol: '',
      price: '0.00000000',
      quantity: '-0.00000001',
      quote_volume: '0.00000000',
      event_time: first,
      kafka_offset: '0',
      kafka_partition: 0,
      ingestion_timestamp: first - (first % 1_000_000n),
    },
  );
  return rows;
}

/** Bronze trade → JSONEachRow input. */
export function bronzeInput(r: BronzeTrade): Record<string, unknown> {
  return {
    ...r,
    exchange_timestamp: chText(r.exchange_timestamp, 3),
    event_time: chText(r.event_time, 3),
    ingestion_timestamp: chText(r.ingestion_timestamp, 0),
  };
}

/** Bronze trade → the row pyiceberg prints (UInt64 → decimal(20,0), UInt16 → int: exact text). */
export function bronzeCanonical(r: BronzeTrade): Record<string, unknown> {
  return {
    exchange_timestamp: isoMicros(r.exchange_timestamp),
    sequence_number: r.sequence_number,
    symbol: r.symbol,
    price: decimalText(scaled(r.price)),
    quantity: decimalText(scaled(r.quantity)),
    quote_volume: decimalText(scaled(r.quote_volume)),
    event_time: isoMicros(r.event_time),
    kafka_offset: r.kafka_offset,
    kafka_partition: String(r.kafka_partition),
    ingestion_timestamp: isoMicros(r.ingestion_timestamp),
  };
}

/**
 * Silver trades: `count` valid trades over the given days (two exchanges, three symbols, every fifth one at
 * the same µs as the one before; a few invalid ones), then edge rows — every asset class and side, µs at
 * both ends of a second, Decimal128(8) at ±38 digits and one unit, UInt64 max and NULL sequences, empty
 * and full maps and arrays with every kind of character, true and false.
 */
export function silverTrades(days: Micros[], count: number): SilverTrade[] {
  const rows: SilverTrade[] = [];
  let ts = days[0] + 10n * 3_600_000_000n + 123_457n;
  const span = BigInt(days.length) * DAY - 12n * 3_600_000_000n;
  const step = span / BigInt(count);
  for (let i = 0; i < count; i++) {
    if (i % 5 !== 4) ts += step + BigInt((i * 7) % 1_000_000); // µs everywhere; every fifth trade shares the previous one's µs
    const exchange = i % 2 === 0 ? 'binance' : 'kraken';
    const isValid = i % 17 !== 0;
    rows.push({
      message_id: uuidOf(BigInt(i) * 0x9e3779b97f4a7c15n + 1n),
      trade_id: `${exchange.toUpperCase()}-${9_000 + i}`,
      exchange,
      symbol: ['BTCUSDT', 'ETHUSDT', 'XBTUSD'][i % 3],
      canonical_symbol: ['BTC/USDT', 'ETH/USDT', 'BTC/USD'][i % 3],
      asset_class: 'crypto',
      currency: i % 3 === 2 ? 'USD' : 'USDT',
      price: isValid ? `${30000 + ((i * 7) % 5000)}.${pad8((i * 7919) % 100_000_000)}` : '-1.00000000',
      quantity: `${i % 5}.${pad8((i * 104_729) % 100_000_000 || 1)}`,
      quote_volume: `${(i * 13) % 100_000}.${pad8((i * 31) % 100_000_000)}`,
      side: SIDES[i % 4],
      trade_conditions: [[], ['@'], ['T', ''], ['ü', 'β\t']][i % 4],
      timestamp: ts,
      ingestion_timestamp: ts + 1_234n,
      processed_at: ts + 5_000n,
      source_sequence: i % 7 === 0 ? null : String(BigInt(i) * 1_000_003n),
      platform_sequence: i % 2 === 1 ? null : String(i),
      vendor_data: [{}, { kafka_offset: String(i), kafka_partition: '0' }, { ключ: '値', '': '' }][i % 3] as Record<string, string>,
      is_valid: isValid,
      validation_errors: isValid ? [] : ['invalid_price'],
    });
  }
  const lastDay = days[days.length - 1];
  const edges: Array<Partial<SilverTrade>> = [
    { asset_class: 'equities', side: 'BUY', price: D38_MAX, quantity: D38_MIN, timestamp: days[0] + 1n, is_valid: false },
    { asset_class: 'futures', side: 'SELL', price: D38_MIN, quantity: '0.00000001', timestamp: lastDay + DAY - 1n, is_valid: false },
    { asset_class: 'options', side: 'SELL_SHORT', price: '0.00000001', quantity: D38_MAX, timestamp: lastDay + DAY - 1n, is_valid: false },
    {
      asset_class: 'crypto',
      side: 'UNKNOWN',
      price: '0.00000001',
      quantity: '99999999.99999999',
      timestamp: days[0] + 11n * 3_600_000_000n + 1n,
      is_valid: true,
    },
  ];
  edges.forEach((e, k) => {
    const t = e.timestamp!;
    rows.push({
      message_id: [
        'ffffffff-ffff-ffff-ffff-ffffffffffff',
        '00000000-0000-0000-0000-000000000000',
        '61f0c404-5cb3-11e7-907b-a6006ad3dba0',
        '0191e3b2-7c4a-7d2e-9f00-1234567890ab',
      ][k],
      trade_id: NASTY[k],
      exchange: k % 2 === 0 ? 'binance' : 'kraken',
      symbol: NASTY.join(''),
      canonical_symbol: k === 3 ? 'BTC/USDT' : `EDGE/${k} ${NASTY[4]}`,
      asset_class: 'crypto',
      currency: '€',
      price: '0.00000001',
      quantity: '0.00000001',
      quote_volume: k % 2 === 0 ? D38_MAX : '-0.00000001',
      side: 'UNKNOWN',
      trade_conditions: k === 0 ? [...NASTY] : [],
      timestamp: t,
      ingestion_timestamp: t,
      processed_at: t + 999_999n,
      source_sequence: k === 1 ? null : U64_MAX,
      platform_sequence: k === 2 ? null : '0',
      vendor_data: k === 0 ? Object.fromEntries(NASTY.map((s, j) => [s, NASTY[(j + 1) % NASTY.length]])) : {},
      is_valid: true,
      validation_errors: e.is_valid === false ? ['invalid_price', 'invalid_volume'] : [],
      ...e,
    } as SilverTrade);
  });
  for (const a of ASSET_CLASSES) if (!rows.some((r) => r.asset_class === a)) throw new Error(`no ${a} row`);
  return rows;
}

/** Silver trade → JSONEachRow input. */
export function silverInput(r: SilverTrade): Record<string, unknown> {
  return {
    ...r,
    timestamp: chText(r.timestamp, 6),
    ingestion_timestamp: chText(r.ingestion_timestamp, 6),
    processed_at: chText(r.processed_at, 6),
  };
}

export function silverCanonical(r: SilverTrade): Record<string, unknown> {
  return {
    ...r,
    price: decimalText(scaled(r.price)),
    quantity: decimalText(scaled(r.quantity)),
    quote_volume: decimalText(scaled(r.quote_volume)),
    timestamp: isoMicros(r.timestamp),
    ingestion_timestamp: isoMicros(r.ingestion_timestamp),
    processed_at: isoMicros(r.processed_at),
  };
}

/** The candles of `c` computed here from valid silver trades (exact decimals), in canonical form. */
export function expectedCandles(trades: SilverTrade[], c: Candle): Array<Record<string, unknown>> {
  const size = BigInt(c.seconds) * 1_000_000n;
  const groups = new Map<string, SilverTrade[]>();
  for (const t of trades) {
    if (!t.is_valid) continue;
    const key = JSON.stringify([t.exchange, t.canonical_symbol, (floorDiv(t.timestamp, size) * size).toString()]);
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const order = (a: SilverTrade, b: SilverTrade) =>
    a.timestamp !== b.timestamp ? (a.timestamp < b.timestamp ? -1 : 1) : a.trade_id < b.trade_id ? -1 : a.trade_id > b.trade_id ? 1 : 0;
  const ms = (us: Micros) => floorDiv(us, 1000n) * 1000n;
  return [...groups.entries()].map(([key, ts]) => {
    const [exchange, symbol, start] = JSON.parse(key) as [string, string, string];
    const sorted = [...ts].sort(order);
    const prices = ts.map((t) => scaled(t.price));
    const sum = (f: (t: SilverTrade) => string) => ts.reduce((s, t) => s + scaled(f(t)), 0n);
    return {
      exchange,
      canonical_symbol: symbol,
      window_start: isoMicros(BigInt(start)),
      open_time: isoMicros(ms(sorted[0].timestamp)),
      open_price: decimalText(scaled(sorted[0].price)),
      close_time: isoMicros(ms(sorted[sorted.length - 1].timestamp)),
      close_price: decimalText(scaled(sorted[sorted.length - 1].price)),
      high_price: decimalText(prices.reduce((a, b) => (b > a ? b : a))),
      low_price: decimalText(prices.reduce((a, b) => (b < a ? b : a))),
      volume: decimalText(sum((t) => t.quantity)),
      quote_volume: decimalText(sum((t) => t.quote_volume)),
      trade_count: String(ts.length),
    };
  });
}
