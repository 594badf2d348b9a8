-- The k2 market-data schema (reference/k2-platform.md) in the dialect of ClickHouse 18.16, the server of
-- the local stack and the integration tests. Same nine tables and column names as the production DDL;
-- the 18.16 adaptations are:
--   DateTime64(3|6)         → DateTime (whole seconds) + `<column>_ms` UInt16, the millisecond within that
--                             second; both are in the sort keys, so rows order by the full instant.
--   Decimal128(8)           → Decimal(38, 8)
--   Map(String, String)     → String holding a JSON object (vendor_data)
--   Bool                    → UInt8 (is_valid)
--   no TTL clause           → nothing expires locally
--   SummingMergeTree OHLCV  → AggregatingMergeTree of -State columns, so candles are correct at rest; read
--                             them only through the re-aggregating query `candleSelectSql()` in
--                             src/dev/schema.ts (…Merge + GROUP BY): one correct row per candle.
-- Everything is IF NOT EXISTS: applying it again is a no-op. `applySeedSchema()` (src/dev/schema.ts) runs it
-- with `k2` replaced by any database name (the tests use a fresh database per file); the file stays valid
-- for `clickhouse-client --multiquery < dev/clickhouse/schema.sql` as well.
-- Statements are separated by a semicolon at the end of a line; no semicolon appears anywhere else.

CREATE DATABASE IF NOT EXISTS k2;

-- ─── Bronze: one table per exchange, the raw trades as the exchange sent them ────────────────────────
-- sequence_number: Binance's trade id (increasing); Kraken's channel id (constant per pair, so it orders
-- nothing). kafka_offset: the trade's position in the exchange's ingest log (one partition per exchange):
-- increasing and unique per table, the tie-break that truly orders rows sharing a timestamp.

CREATE TABLE IF NOT EXISTS k2.bronze_trades_binance (
    exchange_timestamp     DateTime,
    exchange_timestamp_ms  UInt16,
    sequence_number        UInt64,
    symbol                 String,
    price                  Decimal(18, 8),
    quantity               Decimal(18, 8),
    quote_volume           Decimal(18, 8),
    event_time             DateTime,
    event_time_ms          UInt16,
    kafka_offset           UInt64,
    kafka_partition        UInt16,
    ingestion_timestamp    DateTime DEFAULT now()
) ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(exchange_timestamp)
ORDER BY (symbol, exchange_timestamp, exchange_timestamp_ms, sequence_number, kafka_offset)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS k2.bronze_trades_kraken (
    exchange_timestamp     DateTime,
    exchange_timestamp_ms  UInt16,
    sequence_number        UInt64,
    symbol                 String,
    price                  Decimal(18, 8),
    quantity               Decimal(18, 8),
    quote_volume           Decimal(18, 8),
    event_time             DateTime,
    event_time_ms          UInt16,
    kafka_offset           UInt64,
    kafka_partition        UInt16,
    ingestion_timestamp    DateTime DEFAULT now()
) ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(exchange_timestamp)
ORDER BY (symbol, exchange_timestamp, exchange_timestamp_ms, sequence_number, kafka_offset)
SETTINGS index_granularity = 8192;

-- ─── Silver: every exchange's trades, normalized ─────────────────────────────────────────────────────
-- platform_sequence: the bronze kafka_offset, unique per exchange; (timestamp, timestamp_ms,
-- platform_sequence) orders the trades of one exchange and symbol, which is what open/close need.

CREATE TABLE IF NOT EXISTS k2.silver_trades (
    message_id           UUID,
    trade_id             String,
    exchange             LowCardinality(String),
    symbol               LowCardinality(String),
    canonical_symbol     LowCardinality(String),
    asset_class          Enum8('equities' = 1, 'crypto' = 2, 'futures' = 3, 'options' = 4),
    currency             LowCardinality(String),
    price                Decimal(38, 8),
    quantity             Decimal(38, 8),
    quote_volume         Decimal(38, 8),
    side                 Enum8('BUY' = 1, 'SELL' = 2, 'SELL_SHORT' = 3, 'UNKNOWN' = 4),
    trade_conditions     Array(String),
    timestamp            DateTime,
    timestamp_ms         UInt16,
    ingestion_timestamp  DateTime,
    processed_at         DateTime DEFAULT now(),
    source_sequence      Nullable(UInt64),
    platform_sequence    Nullable(UInt64),
    vendor_data          String DEFAULT '{}',
    is_valid             UInt8 DEFAULT 1,
    validation_errors    Array(String) DEFAULT []
) ENGINE = MergeTree()
PARTITION BY (exchange, asset_class, toYYYYMMDD(timestamp))
ORDER BY (exchange, asset_class, canonical_symbol, timestamp, timestamp_ms)
SETTINGS index_granularity = 8192;

-- ─── Gold: OHLCV candles, one table per interval ─────────────────────────────────────────────────────
-- One row per (exchange, canonical_symbol, window_start) *after* re-aggregation; at rest there may be
-- several partial rows per candle until merges fold them (and merges fold them correctly: argMin/argMax
-- compare the full trade order key, not whatever row a merge happens to keep).

CREATE TABLE IF NOT EXISTS k2.ohlcv_1m (
    exchange          LowCardinality(String),
    canonical_symbol  LowCardinality(String),
    window_start      DateTime,
    open_time         AggregateFunction(argMin, DateTime, Tuple(DateTime, UInt16, UInt64)),
    open_time_ms      AggregateFunction(argMin, UInt16, Tuple(DateTime, UInt16, UInt64)),
    open_price        AggregateFunction(argMin, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    close_time        AggregateFunction(argMax, DateTime, Tuple(DateTime, UInt16, UInt64)),
    close_time_ms     AggregateFunction(argMax, UInt16, Tuple(DateTime, UInt16, UInt64)),
    close_price       AggregateFunction(argMax, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    high_price        AggregateFunction(max, Decimal(38, 8)),
    low_price         AggregateFunction(min, Decimal(38, 8)),
    volume            AggregateFunction(sum, Decimal(38, 8)),
    quote_volume      AggregateFunction(sum, Decimal(38, 8)),
    trade_count       AggregateFunction(count)
) ENGINE = AggregatingMergeTree()
PARTITION BY (exchange, toYYYYMM(window_start))
ORDER BY (exchange, canonical_symbol, window_start)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS k2.ohlcv_5m (
    exchange          LowCardinality(String),
    canonical_symbol  LowCardinality(String),
    window_start      DateTime,
    open_time         AggregateFunction(argMin, DateTime, Tuple(DateTime, UInt16, UInt64)),
    open_time_ms      AggregateFunction(argMin, UInt16, Tuple(DateTime, UInt16, UInt64)),
    open_price        AggregateFunction(argMin, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    close_time        AggregateFunction(argMax, DateTime, Tuple(DateTime, UInt16, UInt64)),
    close_time_ms     AggregateFunction(argMax, UInt16, Tuple(DateTime, UInt16, UInt64)),
    close_price       AggregateFunction(argMax, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    high_price        AggregateFunction(max, Decimal(38, 8)),
    low_price         AggregateFunction(min, Decimal(38, 8)),
    volume            AggregateFunction(sum, Decimal(38, 8)),
    quote_volume      AggregateFunction(sum, Decimal(38, 8)),
    trade_count       AggregateFunction(count)
) ENGINE = AggregatingMergeTree()
PARTITION BY (exchange, toYYYYMM(window_start))
ORDER BY (exchange, canonical_symbol, window_start)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS k2.ohlcv_15m (
    exchange          LowCardinality(String),
    canonical_symbol  LowCardinality(String),
    window_start      DateTime,
    open_time         AggregateFunction(argMin, DateTime, Tuple(DateTime, UInt16, UInt64)),
    open_time_ms      AggregateFunction(argMin, UInt16, Tuple(DateTime, UInt16, UInt64)),
    open_price        AggregateFunction(argMin, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    close_time        AggregateFunction(argMax, DateTime, Tuple(DateTime, UInt16, UInt64)),
    close_time_ms     AggregateFunction(argMax, UInt16, Tuple(DateTime, UInt16, UInt64)),
    close_price       AggregateFunction(argMax, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    high_price        AggregateFunction(max, Decimal(38, 8)),
    low_price         AggregateFunction(min, Decimal(38, 8)),
    volume            AggregateFunction(sum, Decimal(38, 8)),
    quote_volume      AggregateFunction(sum, Decimal(38, 8)),
    trade_count       AggregateFunction(count)
) ENGINE = AggregatingMergeTree()
PARTITION BY (exchange, toYYYYMM(window_start))
ORDER BY (exchange, canonical_symbol, window_start)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS k2.ohlcv_30m (
    exchange          LowCardinality(String),
    canonical_symbol  LowCardinality(String),
    window_start      DateTime,
    open_time         AggregateFunction(argMin, DateTime, Tuple(DateTime, UInt16, UInt64)),
    open_time_ms      AggregateFunction(argMin, UInt16, Tuple(DateTime, UInt16, UInt64)),
    open_price        AggregateFunction(argMin, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    close_time        AggregateFunction(argMax, DateTime, Tuple(DateTime, UInt16, UInt64)),
    close_time_ms     AggregateFunction(argMax, UInt16, Tuple(DateTime, UInt16, UInt64)),
    close_price       AggregateFunction(argMax, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    high_price        AggregateFunction(max, Decimal(38, 8)),
    low_price         AggregateFunction(min, Decimal(38, 8)),
    volume            AggregateFunction(sum, Decimal(38, 8)),
    quote_volume      AggregateFunction(sum, Decimal(38, 8)),
    trade_count       AggregateFunction(count)
) ENGINE = AggregatingMergeTree()
PARTITION BY (exchange, toYYYYMM(window_start))
ORDER BY (exchange, canonical_symbol, window_start)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS k2.ohlcv_1h (
    exchange          LowCardinality(String),
    canonical_symbol  LowCardinality(String),
    window_start      DateTime,
    open_time         AggregateFunction(argMin, DateTime, Tuple(DateTime, UInt16, UInt64)),
    open_time_ms      AggregateFunction(argMin, UInt16, Tuple(DateTime, UInt16, UInt64)),
    open_price        AggregateFunction(argMin, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    close_time        AggregateFunction(argMax, DateTime, Tuple(DateTime, UInt16, UInt64)),
    close_time_ms     AggregateFunction(argMax, UInt16, Tuple(DateTime, UInt16, UInt64)),
    close_price       AggregateFunction(argMax, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    high_price        AggregateFunction(max, Decimal(38, 8)),
    low_price         AggregateFunction(min, Decimal(38, 8)),
    volume            AggregateFunction(sum, Decimal(38, 8)),
    quote_volume      AggregateFunction(sum, Decimal(38, 8)),
    trade_count       AggregateFunction(count)
) ENGINE = AggregatingMergeTree()
PARTITION BY (exchange, toYYYYMM(window_start))
ORDER BY (exchange, canonical_symbol, window_start)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS k2.ohlcv_1d (
    exchange          LowCardinality(String),
    canonical_symbol  LowCardinality(String),
    window_start      DateTime,
    open_time         AggregateFunction(argMin, DateTime, Tuple(DateTime, UInt16, UInt64)),
    open_time_ms      AggregateFunction(argMin, UInt16, Tuple(DateTime, UInt16, UInt64)),
    open_price        AggregateFunction(argMin, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    close_time        AggregateFunction(argMax, DateTime, Tuple(DateTime, UInt16, UInt64)),
    close_time_ms     AggregateFunction(argMax, UInt16, Tuple(DateTime, UInt16, UInt64)),
    close_price       AggregateFunction(argMax, Decimal(38, 8), Tuple(DateTime, UInt16, UInt64)),
    high_price        AggregateFunction(max, Decimal(38, 8)),
    low_price         AggregateFunction(min, Decimal(38, 8)),
    volume            AggregateFunction(sum, Decimal(38, 8)),
    quote_volume      AggregateFunction(sum, Decimal(38, 8)),
    trade_count       AggregateFunction(count)
) ENGINE = AggregatingMergeTree()
PARTITION BY (exchange, toYYYYMM(window_start))
ORDER BY (exchange, canonical_symbol, window_start)
SETTINGS index_granularity = 8192;

-- ─── Bronze → silver ─────────────────────────────────────────────────────────────────────────────────
-- Binance symbols are glued (BTCUSDT → BTC/USDT); Kraken sends its native pair (XBT/USD; a glued XBTUSD
-- is understood too) and calls bitcoin XBT and dogecoin XDG: canonical BTC/USD, DOGE/USD.

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.bronze_binance_to_silver_mv
TO k2.silver_trades AS
SELECT
    generateUUIDv4()                                        AS message_id,
    concat('BINANCE-', toString(sequence_number))           AS trade_id,
    toLowCardinality('binance')                             AS exchange,
    toLowCardinality(symbol)                                AS symbol,
    toLowCardinality(multiIf(
        endsWith(symbol, 'USDT'), concat(substring(symbol, 1, length(symbol) - 4), '/USDT'),
        endsWith(symbol, 'USDC'), concat(substring(symbol, 1, length(symbol) - 4), '/USDC'),
        endsWith(symbol, 'BTC'),  concat(substring(symbol, 1, length(symbol) - 3), '/BTC'),
        symbol))                                            AS canonical_symbol,
    CAST('crypto' AS Enum8('equities' = 1, 'crypto' = 2, 'futures' = 3, 'options' = 4)) AS asset_class,
    toLowCardinality(multiIf(
        endsWith(symbol, 'USDT'), 'USDT',
        endsWith(symbol, 'USDC'), 'USDC',
        endsWith(symbol, 'BTC'),  'BTC',
        ''))                                                AS currency,
    CAST(price AS Decimal(38, 8))                           AS price,
    CAST(quantity AS Decimal(38, 8))                        AS quantity,
    CAST(quote_volume AS Decimal(38, 8))                    AS quote_volume,
    CAST('UNKNOWN' AS Enum8('BUY' = 1, 'SELL' = 2, 'SELL_SHORT' = 3, 'UNKNOWN' = 4)) AS side,
    CAST([] AS Array(String))                               AS trade_conditions,
    exchange_timestamp                                      AS timestamp,
    exchange_timestamp_ms                                   AS timestamp_ms,
    ingestion_timestamp,
    now()                                                   AS processed_at,
    CAST(sequence_number AS Nullable(UInt64))               AS source_sequence,
    CAST(kafka_offset AS Nullable(UInt64))                  AS platform_sequence,
    concat('{"kafka_offset":"', toString(kafka_offset),
           '","kafka_partition":"', toString(kafka_partition), '"}') AS vendor_data,
    toUInt8(price > 0 AND quantity > 0)                     AS is_valid,
    arrayConcat(
        if(price <= 0,    ['invalid_price'],  CAST([] AS Array(String))),
        if(quantity <= 0, ['invalid_volume'], CAST([] AS Array(String)))) AS validation_errors
FROM k2.bronze_trades_binance;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.bronze_kraken_to_silver_mv
TO k2.silver_trades AS
SELECT
    generateUUIDv4()                                        AS message_id,
    concat('KRAKEN-', toString(sequence_number))            AS trade_id,
    toLowCardinality('kraken')                              AS exchange,
    toLowCardinality(symbol)                                AS symbol,
    toLowCardinality(concat(
        transform(
            if(position(symbol, '/') > 0, splitByChar('/', symbol)[1], substring(symbol, 1, length(symbol) - 3)),
            ['XBT', 'XDG'], ['BTC', 'DOGE'],
            if(position(symbol, '/') > 0, splitByChar('/', symbol)[1], substring(symbol, 1, length(symbol) - 3))),
        '/',
        if(position(symbol, '/') > 0, splitByChar('/', symbol)[2], substring(symbol, length(symbol) - 2, 3))
    ))                                                      AS canonical_symbol,
    CAST('crypto' AS Enum8('equities' = 1, 'crypto' = 2, 'futures' = 3, 'options' = 4)) AS asset_class,
    toLowCardinality(
        if(position(symbol, '/') > 0, splitByChar('/', symbol)[2], substring(symbol, length(symbol) - 2, 3))) AS currency,
    CAST(price AS Decimal(38, 8))                           AS price,
    CAST(quantity AS Decimal(38, 8))                        AS quantity,
    CAST(quote_volume AS Decimal(38, 8))                    AS quote_volume,
    CAST('UNKNOWN' AS Enum8('BUY' = 1, 'SELL' = 2, 'SELL_SHORT' = 3, 'UNKNOWN' = 4)) AS side,
    CAST([] AS Array(String))                               AS trade_conditions,
    exchange_timestamp                                      AS timestamp,
    exchange_timestamp_ms                                   AS timestamp_ms,
    ingestion_timestamp,
    now()                                                   AS processed_at,
    CAST(sequence_number AS Nullable(UInt64))               AS source_sequence,
    CAST(kafka_offset AS Nullable(UInt64))                  AS platform_sequence,
    concat('{"kafka_offset":"', toString(kafka_offset),
           '","kafka_partition":"', toString(kafka_partition), '"}') AS vendor_data,
    toUInt8(price > 0 AND quantity > 0)                     AS is_valid,
    arrayConcat(
        if(price <= 0,    ['invalid_price'],  CAST([] AS Array(String))),
        if(quantity <= 0, ['invalid_volume'], CAST([] AS Array(String)))) AS validation_errors
FROM k2.bronze_trades_kraken;

-- ─── Silver → gold ───────────────────────────────────────────────────────────────────────────────────
-- Only valid trades. A trade's order key is (timestamp, timestamp_ms, platform_sequence): open is the first
-- trade by it, close the last; trades in the same millisecond are ordered by ingest position, never by
-- whichever row a merge keeps. 18.16 has no toStartOfInterval: 30-minute windows come from the epoch second.
--
-- Three views feed each candle table. 18.16 does not cascade materialized views through a TO table: rows
-- the bronze→silver views write into silver_trades do not reach views defined on silver_trades. A view
-- defined on a *view* does receive that view's output, so each candle table has one view per bronze→silver
-- view (`ohlcv_<i>_binance_mv`, `ohlcv_<i>_kraken_mv`) plus the production one on silver_trades
-- (`ohlcv_<i>_mv`, for rows inserted into silver directly). Every trade reaches each candle table once.

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_1m_mv
TO k2.ohlcv_1m AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfMinute(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.silver_trades
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_1m_binance_mv
TO k2.ohlcv_1m AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfMinute(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_binance_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_1m_kraken_mv
TO k2.ohlcv_1m AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfMinute(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_kraken_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_5m_mv
TO k2.ohlcv_5m AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfFiveMinute(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.silver_trades
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_5m_binance_mv
TO k2.ohlcv_5m AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfFiveMinute(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_binance_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_5m_kraken_mv
TO k2.ohlcv_5m AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfFiveMinute(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_kraken_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_15m_mv
TO k2.ohlcv_15m AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfFifteenMinutes(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.silver_trades
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_15m_binance_mv
TO k2.ohlcv_15m AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfFifteenMinutes(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_binance_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_15m_kraken_mv
TO k2.ohlcv_15m AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfFifteenMinutes(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_kraken_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_30m_mv
TO k2.ohlcv_30m AS
SELECT
    exchange,
    canonical_symbol,
    toDateTime(intDiv(toUInt32(timestamp), 1800) * 1800) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.silver_trades
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_30m_binance_mv
TO k2.ohlcv_30m AS
SELECT
    exchange,
    canonical_symbol,
    toDateTime(intDiv(toUInt32(timestamp), 1800) * 1800) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_binance_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_30m_kraken_mv
TO k2.ohlcv_30m AS
SELECT
    exchange,
    canonical_symbol,
    toDateTime(intDiv(toUInt32(timestamp), 1800) * 1800) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_kraken_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_1h_mv
TO k2.ohlcv_1h AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfHour(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.silver_trades
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_1h_binance_mv
TO k2.ohlcv_1h AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfHour(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_binance_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_1h_kraken_mv
TO k2.ohlcv_1h AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfHour(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_kraken_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_1d_mv
TO k2.ohlcv_1d AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfDay(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.silver_trades
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_1d_binance_mv
TO k2.ohlcv_1d AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfDay(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_binance_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;

CREATE MATERIALIZED VIEW IF NOT EXISTS k2.ohlcv_1d_kraken_mv
TO k2.ohlcv_1d AS
SELECT
    exchange,
    canonical_symbol,
    toStartOfDay(timestamp) AS window_start,
    argMinState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time,
    argMinState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_time_ms,
    argMinState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS open_price,
    argMaxState(timestamp,    (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time,
    argMaxState(timestamp_ms, (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_time_ms,
    argMaxState(price,        (timestamp, timestamp_ms, assumeNotNull(platform_sequence))) AS close_price,
    maxState(price)        AS high_price,
    minState(price)        AS low_price,
    sumState(quantity)     AS volume,
    sumState(quote_volume) AS quote_volume,
    countState()           AS trade_count
FROM k2.bronze_kraken_to_silver_mv
WHERE is_valid = 1
GROUP BY exchange, canonical_symbol, window_start;
