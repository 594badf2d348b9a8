// The k2 seed schema on the real ClickHouse 18.16: bronze inserts flow through the views into silver and
// all six candle tables, and every candle read back through candleSelectSql() equals the candle computed
// here, in TypeScript, from the silver rows (open = first trade by time then ingest position, close = last,
// high/low, volume and quote volume sums, count) — also while the tables hold unmerged partial rows.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { clickhouseSourceFromEnv, type ClickHouseSource } from '../../src/clickhouse/client.js';
import { qualifiedName } from '../../src/clickhouse/sql.js';
import {
  applySeedSchema,
  CANDLE_TABLES,
  candleIntervalSeconds,
  candleSelectSql,
  seedSchemaStatements,
  SEED_TABLES,
  type CandleTable,
} from '../../src/dev/schema.js';
import { seedTrades } from '../../src/dev/seed.js';
import { freshClickHouseDatabase, stackEnv } from '../support/stack.js';

let db: Awaited<ReturnType<typeof freshClickHouseDatabase>>;
let ch: ClickHouseSource;
const ROWS = 60_000;
const START = new Date('2026-01-05T22:00:00Z');
const END = new Date('2026-01-07T02:00:00Z'); // crosses two day boundaries: 1d candles and daily partitions

const t = (table: string) => qualifiedName({ database: db.name, table });

before(async () => {
  db = await freshClickHouseDatabase('seedschema');
  ch = clickhouseSourceFromEnv(stackEnv());
  await applySeedSchema(ch, db.name);
  // Small chunks: many INSERTs, so every candle table holds several partial rows per candle at rest.
  await seedTrades(ch, { rows: ROWS, start: START, end: END, seed: 'ohlc', database: db.name, chunkRows: 4_000 });
  // Trades the views must not count in candles: zero price or zero quantity.
  await ch.command(
    `INSERT INTO ${t('bronze_trades_binance')} (exchange_timestamp, exchange_timestamp_ms, sequence_number, symbol, price, quantity, quote_volume, event_time, event_time_ms, kafka_offset, kafka_partition) VALUES ` +
      `(toDateTime('2026-01-06 12:00:00', 'UTC'), 1, 999999990, 'BTCUSDT', 0, 1, 0, toDateTime('2026-01-06 12:00:00', 'UTC'), 1, 999999990, 0), ` +
      `(toDateTime('2026-01-06 12:00:00', 'UTC'), 2, 999999991, 'BTCUSDT', 1000000, 0, 0, toDateTime('2026-01-06 12:00:00', 'UTC'), 2, 999999991, 0)`,
  );
});

after(async () => {
  await ch?.close();
  await db?.drop();
});

async function count(table: string, where = '1'): Promise<number> {
  const [r] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${t(table)} WHERE ${where}`);
  return Number(r.n);
}

interface SilverRow {
  exchange: string;
  canonical_symbol: string;
  ts: string; // epoch seconds
  ms: string;
  seq: string;
  price: string;
  quantity: string;
  quote_volume: string;
}

interface Candle {
  exchange: string;
  canonical_symbol: string;
  window_start: number;
  open_time: number;
  open_time_ms: number;
  open_price: bigint;
  close_time: number;
  close_time_ms: number;
  close_price: bigint;
  high_price: bigint;
  low_price: bigint;
  volume: bigint;
  quote_volume: bigint;
  trade_count: number;
}

const units = (s: string) => BigInt(s.includes('.') ? s.replace(/\.(\d*)$/, (_m, f: string) => f.padEnd(8, '0')) : `${s}00000000`);

/** Candles computed here, from silver, without any ClickHouse aggregate function. */
function expectedCandles(rows: SilverRow[], intervalSec: number): Map<string, Candle> {
  const out = new Map<string, Candle>();
  // Trade order: timestamp, millisecond, then ingest position (platform_sequence).
  const sorted = [...rows].sort(
    (a, b) => Number(a.ts) - Number(b.ts) || Number(a.ms) - Number(b.ms) || Number(BigInt(a.seq) - BigInt(b.seq)),
  );
  for (const r of sorted) {
    const ts = Number(r.ts);
    const window = ts - (ts % intervalSec);
    const key = `${r.exchange}|${r.canonical_symbol}|${window}`;
    const price = units(r.price);
    const c = out.get(key);
    if (!c) {
      out.set(key, {
        exchange: r.exchange,
        canonical_symbol: r.canonical_symbol,
        window_start: window,
        open_time: ts,
        open_time_ms: Number(r.ms),
        open_price: price,
        close_time: ts,
        close_time_ms: Number(r.ms),
        close_price: price,
        high_price: price,
        low_price: price,
        volume: units(r.quantity),
        quote_volume: units(r.quote_volume),
        trade_count: 1,
      });
    } else {
      c.close_time = ts;
      c.close_time_ms = Number(r.ms);
      c.close_price = price;
      if (price > c.high_price) c.high_price = price;
      if (price < c.low_price) c.low_price = price;
      c.volume += units(r.quantity);
      c.quote_volume += units(r.quote_volume);
      c.trade_count += 1;
    }
  }
  return out;
}

async function candlesFromClickHouse(table: CandleTable): Promise<Map<string, Candle>> {
  const rows = await ch.query<Record<string, string | number>>(
    `SELECT exchange, canonical_symbol, toUnixTimestamp(window_start) AS window_start,
            toUnixTimestamp(open_time) AS open_time, open_time_ms, toString(open_price) AS open_price,
            toUnixTimestamp(close_time) AS close_time, close_time_ms, toString(close_price) AS close_price,
            toString(high_price) AS high_price, toString(low_price) AS low_price,
            toString(volume) AS volume, toString(quote_volume) AS quote_volume, trade_count
       FROM (${candleSelectSql(table, { database: db.name })})`,
  );
  const out = new Map<string, Candle>();
  for (const r of rows) {
    const c: Candle = {
      exchange: String(r.exchange),
      canonical_symbol: String(r.canonical_symbol),
      window_start: Number(r.window_start),
      open_time: Number(r.open_time),
      open_time_ms: Number(r.open_time_ms),
      open_price: units(String(r.open_price)),
      close_time: Number(r.close_time),
      close_time_ms: Number(r.close_time_ms),
      close_price: units(String(r.close_price)),
      high_price: units(String(r.high_price)),
      low_price: units(String(r.low_price)),
      volume: units(String(r.volume)),
      quote_volume: units(String(r.quote_volume)),
      trade_count: Number(r.trade_count),
    };
    const key = `${c.exchange}|${c.canonical_symbol}|${c.window_start}`;
    assert.ok(!out.has(key), `${table}: candle ${key} appears twice — the read query must give one row per candle`);
    out.set(key, c);
  }
  return out;
}

async function validSilver(): Promise<SilverRow[]> {
  return ch.query<SilverRow>(
    `SELECT exchange, canonical_symbol, toString(toUnixTimestamp(timestamp)) AS ts, toString(timestamp_ms) AS ms,
            toString(assumeNotNull(platform_sequence)) AS seq, toString(price) AS price, toString(quantity) AS quantity,
            toString(quote_volume) AS quote_volume
       FROM ${t('silver_trades')} WHERE is_valid = 1`,
  );
}

function assertSameCandles(table: string, actual: Map<string, Candle>, expected: Map<string, Candle>): void {
  assert.equal(actual.size, expected.size, `${table}: number of candles`);
  let checked = 0;
  for (const [key, want] of expected) {
    const got = actual.get(key);
    assert.ok(got, `${table}: candle ${key} is missing`);
    assert.deepEqual(got, want, `${table}: candle ${key}`);
    checked++;
  }
  assert.equal(checked, expected.size);
}

describe('seed schema on ClickHouse 18.16', () => {
  it('creates the nine tables, and applying it again changes nothing', async () => {
    const tables = await ch.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${db.name}' ORDER BY name`);
    const names = tables.map((r) => r.name);
    for (const s of SEED_TABLES) assert.ok(names.includes(s), `${s} is missing`);
    assert.equal(names.filter((n) => n.endsWith('_mv')).length, 2 + 3 * 6, 'two bronze→silver views, three views per candle table');
    const before = await count('silver_trades');
    assert.equal(await applySeedSchema(ch, db.name), seedSchemaStatements(db.name).length);
    assert.equal(await count('silver_trades'), before, 'applying again must not touch data');
  });

  it('fills silver with every bronze trade, normalized', async () => {
    const bronze = (await count('bronze_trades_binance')) + (await count('bronze_trades_kraken'));
    assert.equal(bronze, ROWS + 2);
    assert.equal(await count('silver_trades'), ROWS + 2);
    assert.equal(await count('silver_trades', 'is_valid = 0'), 2);
    const [ids] = await ch.query<{ u: string; n: string }>(`SELECT uniqExact(message_id) AS u, count() AS n FROM ${t('silver_trades')}`);
    assert.equal(ids.u, ids.n, 'message_id is a fresh UUID per trade');
    const [binance] = await ch.query<{ bad: string }>(
      `SELECT countIf(trade_id != concat('BINANCE-', toString(source_sequence))) AS bad FROM ${t('silver_trades')} WHERE exchange = 'binance'`,
    );
    assert.equal(binance.bad, '0');
    const symbols = await ch.query<{ exchange: string; symbol: string; canonical_symbol: string; currency: string }>(
      `SELECT DISTINCT exchange, symbol, canonical_symbol, currency FROM ${t('silver_trades')} ORDER BY exchange, symbol`,
    );
    const canon = new Map(symbols.map((s) => [`${s.exchange}:${s.symbol}`, `${s.canonical_symbol} ${s.currency}`]));
    assert.equal(canon.get('kraken:XBT/USD'), 'BTC/USD USD', "Kraken's XBT is BTC");
    assert.equal(canon.get('kraken:XDG/USD'), 'DOGE/USD USD');
    assert.equal(canon.get('binance:BTCUSDT'), 'BTC/USDT USDT');
    assert.equal(canon.get('binance:DOGEUSDT'), 'DOGE/USDT USDT');
    const [invalid] = await ch.query<{ errs: string[] }>(
      `SELECT groupArray(arrayJoin(validation_errors)) AS errs FROM ${t('silver_trades')} WHERE is_valid = 0`,
    );
    assert.deepEqual([...invalid.errs].sort(), ['invalid_price', 'invalid_volume']);
  });

  it('fills all six candle tables, and each holds unmerged partial rows that only the read query folds', async () => {
    for (const table of CANDLE_TABLES) {
      const [stored] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${t(table)}`);
      const [candles] = await ch.query<{ n: string }>(`SELECT count() AS n FROM (${candleSelectSql(table, { database: db.name })})`);
      assert.ok(Number(candles.n) > 0, `${table} is empty`);
      if (table !== 'ohlcv_1m')
        assert.ok(
          Number(stored.n) > Number(candles.n),
          `${table}: expected partial rows at rest (${stored.n} stored, ${candles.n} candles)`,
        );
    }
  });

  it('reads back OHLCV equal to the candles computed from silver, for every interval', async () => {
    const silver = await validSilver();
    assert.equal(silver.length, ROWS);
    for (const table of CANDLE_TABLES) {
      assertSameCandles(table, await candlesFromClickHouse(table), expectedCandles(silver, candleIntervalSeconds(table)));
    }
  });

  it('breaks ties inside one millisecond by ingest position, not by whichever row a merge keeps', async () => {
    // Several fills of one order share a millisecond: the open is the first of them, the close the last.
    const [shared] = await ch.query<{ n: string }>(
      `SELECT count() AS n FROM (SELECT exchange, canonical_symbol, timestamp, timestamp_ms FROM ${t('silver_trades')}
        GROUP BY exchange, canonical_symbol, timestamp, timestamp_ms HAVING count() > 1 AND uniqExact(price) > 1)`,
    );
    assert.ok(Number(shared.n) > 100, `expected many milliseconds with several prices (found ${shared.n})`);
    // Fold every part, then compare again: merges must not change any candle.
    for (const table of CANDLE_TABLES) await ch.command(`OPTIMIZE TABLE ${t(table)} FINAL`);
    const silver = await validSilver();
    for (const table of ['ohlcv_1m', 'ohlcv_1h'] as const) {
      assertSameCandles(
        `${table} after OPTIMIZE FINAL`,
        await candlesFromClickHouse(table),
        expectedCandles(silver, candleIntervalSeconds(table)),
      );
    }
  });

  it('restricts the read query by the candle key before aggregating', async () => {
    const where = `window_start >= toDateTime('2026-01-06 00:00:00', 'UTC') AND window_start < toDateTime('2026-01-07 00:00:00', 'UTC')`;
    const [filtered] = await ch.query<{ n: string }>(
      `SELECT count() AS n FROM (${candleSelectSql('ohlcv_1h', { database: db.name, where })})`,
    );
    const [outer] = await ch.query<{ n: string }>(
      `SELECT count() AS n FROM (${candleSelectSql('ohlcv_1h', { database: db.name })}) WHERE ${where}`,
    );
    assert.equal(filtered.n, outer.n);
    assert.equal(Number(filtered.n), 24 * 10, '24 hours × 10 symbols');
  });
});
