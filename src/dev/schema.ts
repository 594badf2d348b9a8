// The k2 seed schema on the local ClickHouse (dev/clickhouse/schema.sql) and the one correct way to read
// its candle tables. The SQL file is the source of truth; this module applies it to any database name.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseSettings } from '@clickhouse/client';
import type { ClickHouseSource } from '../clickhouse/client.js';
import { quoteIdentifier } from '../clickhouse/sql.js';

/** The database the seed schema is written for. */
export const SEED_DATABASE = 'k2';

export const BRONZE_TABLES = ['bronze_trades_binance', 'bronze_trades_kraken'] as const;
export const SILVER_TABLES = ['silver_trades'] as const;
export const CANDLE_TABLES = ['ohlcv_1m', 'ohlcv_5m', 'ohlcv_15m', 'ohlcv_30m', 'ohlcv_1h', 'ohlcv_1d'] as const;
export type CandleTable = (typeof CANDLE_TABLES)[number];

/** The nine tables of the seed, in layer order (= the watermark rows' table_name values). */
export const SEED_TABLES = [...BRONZE_TABLES, ...SILVER_TABLES, ...CANDLE_TABLES] as const;
export type SeedTable = (typeof SEED_TABLES)[number];

/** dev/clickhouse/schema.sql, found from this module both in src/ (tsx) and in dist/ (built). */
export const SEED_SCHEMA_FILE = fileURLToPath(new URL('../../dev/clickhouse/schema.sql', import.meta.url));

/**
 * The statements of the seed schema for `database` (default `k2`), in order. The file separates statements
 * with a semicolon at the end of a line and qualifies every name with `k2.`; both are relied on here.
 */
export function seedSchemaStatements(database: string = SEED_DATABASE, sql: string = readFileSync(SEED_SCHEMA_FILE, 'utf8')): string[] {
  const db = quoteIdentifier(database);
  return sql
    .replace(/^\s*--.*$/gm, '')
    .split(/;[ \t]*$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => s.replace(/\bDATABASE IF NOT EXISTS k2$/, `DATABASE IF NOT EXISTS ${db}`).replace(/\bk2\./g, `${db}.`));
}

/**
 * Creates the seed schema in `database` (default `k2`): nine tables and the views that fill silver and the
 * candles from bronze. Idempotent (every statement is IF NOT EXISTS). Returns the number of statements run.
 */
export async function applySeedSchema(source: ClickHouseSource, database: string = SEED_DATABASE): Promise<number> {
  const statements = seedSchemaStatements(database);
  // LowCardinality is experimental on 18.x: the stack's profile enables it; sending it makes that optional.
  const settings: ClickHouseSettings | undefined = (await source.capabilities()).lowCardinalityExperimental
    ? { allow_experimental_low_cardinality_type: 1 }
    : undefined;
  for (const statement of statements) await source.command(statement, { settings });
  return statements.length;
}

/** The time interval of a candle table: ohlcv_15m → 15 minutes in seconds. */
export function candleIntervalSeconds(table: CandleTable): number {
  const m = /^ohlcv_(\d+)([mhd])$/.exec(table);
  if (!m) throw new Error(`${table} is not a candle table`);
  return Number(m[1]) * { m: 60, h: 3600, d: 86400 }[m[2] as 'm' | 'h' | 'd'];
}

export interface CandleSelectOptions {
  /** Database of the candle table (default `k2`). */
  database?: string;
  /**
   * A condition on the candle key only (exchange, canonical_symbol, window_start), applied before the
   * re-aggregation; e.g. `window_start > toDateTime('…', 'UTC') AND window_start <= toDateTime('…', 'UTC')`.
   * Filtering on the key before GROUP BY is exact: every partial row of a candle has the same key.
   */
  where?: string;
}

/**
 * The read query of a candle table: one correct row per (exchange, canonical_symbol, window_start), whatever
 * state of merging the table is in. The AggregatingMergeTree keeps -State columns, possibly in several
 * partial rows per candle; this folds them with -Merge and GROUP BY. Output columns are the production
 * candle columns (open/close/high/low Decimal(18,8), volume Decimal(38,8), trade_count UInt64) plus
 * open_time_ms / close_time_ms, the millisecond parts of open_time / close_time.
 * Open is the first valid trade by (timestamp, timestamp_ms, platform_sequence), close the last.
 * Never read these tables with a plain SELECT: it returns aggregate states, several partial rows per candle.
 * Whether a candle is closed is not decided here: the offload bounds window_start by its closed window.
 */
export function candleSelectSql(table: CandleTable, options: CandleSelectOptions = {}): string {
  if (!(CANDLE_TABLES as readonly string[]).includes(table)) throw new Error(`${table} is not a candle table`);
  const from = `${quoteIdentifier(options.database ?? SEED_DATABASE)}.${quoteIdentifier(table)}`;
  return [
    'SELECT',
    '    exchange,',
    '    canonical_symbol,',
    '    window_start,',
    '    argMinMerge(open_time) AS open_time,',
    '    argMinMerge(open_time_ms) AS open_time_ms,',
    '    CAST(argMinMerge(open_price) AS Decimal(18, 8)) AS open_price,',
    '    argMaxMerge(close_time) AS close_time,',
    '    argMaxMerge(close_time_ms) AS close_time_ms,',
    '    CAST(argMaxMerge(close_price) AS Decimal(18, 8)) AS close_price,',
    '    CAST(maxMerge(high_price) AS Decimal(18, 8)) AS high_price,',
    '    CAST(minMerge(low_price) AS Decimal(18, 8)) AS low_price,',
    '    sumMerge(volume) AS volume,',
    '    sumMerge(quote_volume) AS quote_volume,',
    '    countMerge(trade_count) AS trade_count',
    `FROM ${from}`,
    ...(options.where ? [`WHERE ${options.where}`] : []),
    'GROUP BY exchange, canonical_symbol, window_start',
  ].join('\n');
}
