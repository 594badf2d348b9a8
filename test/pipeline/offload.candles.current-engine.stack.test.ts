// Candles on the current engine (reference flaw 4). Production's ohlcv_* are SummingMergeTree tables fed
// per insert block by views: a candle touched by several inserts has several partial rows until the parts
// merge, and then only one partial row's open, close, high and low survive. Shown here on ohlcv_1m with the
// production DDL and view: trades arrive in three inserts such that no single insert holds all of a
// candle's extremes. Before the merge, folding the partial rows gives the true candles; after it, no read of
// the table can. Re-aggregated from silver_trades, and from the AggregatingMergeTree variant with -Merge,
// the candles stay exact — and those are what the offload reads (pipeline function, pyiceberg checks).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { validateTablesConfig, type TableConfig } from '../../src/config/tables.js';
import { ClickHouseSource } from '../../src/clickhouse/client.js';
import { migrate } from '../../src/state/migrate.js';
import { createPool } from '../../src/state/pool.js';
import { offloadTable, type OffloadDeps } from '../../src/pipeline/offload.js';
import { offloadDepsOn } from '../../src/pipeline/services.js';
import { startChdbServer, type ChdbServer } from '../support/chdb-server.js';
import { openWarehouse, pyiceberg, pyicebergSkip, sortRows, type PyRead, type Warehouse } from '../support/iceberg-tables.js';
import { freshPostgresDatabase } from '../support/stack.js';
import {
  aggregatingCandleDdl,
  CANDLES,
  candlesFromAggregatingQuery,
  candlesFromSilverQuery,
  candlesFromSummingQuery,
  candleViews,
  DATABASE,
  expectedCandles,
  productionDdl,
  silverInput,
  utcDayStart,
  type Micros,
  type SilverTrade,
} from '../support/k2-production.js';

const ONE_MINUTE = CANDLES[0];
const NOON = utcDayStart(new Date(), 2) + 12n * 3_600_000_000n;
const at = (seconds: number, micros = 0): Micros => NOON + BigInt(seconds) * 1_000_000n + BigInt(micros);

let n = 0;
function trade(exchange: string, symbol: string, ts: Micros, price: string, quantity: string, isValid = true): SilverTrade {
  n++;
  return {
    message_id: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    trade_id: `${exchange.toUpperCase()}-${1000 + n}`,
    exchange,
    symbol: symbol.replace('/', ''),
    canonical_symbol: symbol,
    asset_class: 'crypto',
    currency: symbol.split('/')[1],
    price,
    quantity,
    quote_volume: `${n}.00000001`,
    side: 'UNKNOWN',
    trade_conditions: [],
    timestamp: ts,
    ingestion_timestamp: ts,
    processed_at: ts,
    source_sequence: String(n),
    platform_sequence: null,
    vendor_data: {},
    is_valid: isValid,
    validation_errors: isValid ? [] : ['invalid_price'],
  };
}

// Candle A (binance BTC/USDT, 12:00) gets a partial row from each insert; none holds all four extremes.
// Candle B (kraken BTC/USD, 12:00) from inserts 1 and 3; candle C (binance BTC/USDT, 12:01) from insert 2 only.
const INSERTS: SilverTrade[][] = [
  [
    trade('binance', 'BTC/USDT', at(20), '100.00000000', '1.00000000'),
    trade('binance', 'BTC/USDT', at(30, 500_000), '101.00000000', '2.00000000'),
    trade('kraken', 'BTC/USD', at(10), '200.00000000', '0.50000000'),
    trade('kraken', 'BTC/USD', at(50), '210.00000000', '0.25000000'),
  ],
  [
    trade('binance', 'BTC/USDT', at(0, 1), '99.00000000', '0.00000001'), // A's open
    trade('binance', 'BTC/USDT', at(40), '150.12345678', '3.00000000'), // A's high
    trade('binance', 'BTC/USDT', at(61), '120.00000000', '1.00000000'),
  ],
  [
    trade('binance', 'BTC/USDT', at(59, 999_999), '98.50000000', '4.00000000'), // A's close
    trade('binance', 'BTC/USDT', at(45), '50.00000001', '5.00000000'), // A's low
    trade('binance', 'BTC/USDT', at(44), '99999999.99999999', '1.00000000', false), // invalid: in no candle
    trade('kraken', 'BTC/USD', at(5), '190.00000000', '0.10000000'), // B's open and low
    trade('kraken', 'BTC/USD', at(55), '220.00000000', '0.10000000'), // B's close and high
  ],
];
const TRADES = INSERTS.flat();
const TRUTH = sortRows(expectedCandles(TRADES, ONE_MINUTE));

let server: ChdbServer;
let ch: ClickHouseSource;

/** A candle query's rows in canonical form (timestamps with six digits, decimals with their scale). */
async function candles(query: string): Promise<Array<Record<string, unknown>>> {
  const ts = (c: string) =>
    `concat(formatDateTime(${c}, '%Y-%m-%dT%H:%i:%S', 'UTC'), '.', leftPad(toString(toUnixTimestamp64Micro(${c}) % 1000000), 6, '0'))`;
  return sortRows(
    await ch.query(
      `SELECT exchange, canonical_symbol, ${['window_start', 'open_time', 'close_time'].map((c) => `${ts(c)} AS ${c}`).join(', ')},
        open_price, close_price, high_price, low_price, volume, quote_volume, toString(trade_count) AS trade_count
       FROM (${query})`,
      // Decimals as JSON strings with every digit of their scale: the canonical text.
      { settings: { output_format_decimal_trailing_zeros: 1, output_format_json_quote_decimals: 1 } },
    ),
  );
}

const candleKey = (c: Record<string, unknown>) => `${c.exchange} ${c.canonical_symbol} ${c.window_start}`;

before(async () => {
  server = await startChdbServer();
  ch = new ClickHouseSource({ url: server.url, username: 'default', password: '', database: 'default' }, { env: {} });
  await ch.command(`CREATE DATABASE ${DATABASE}`);
  const ddl = productionDdl().filter((s) => /\.(silver_trades|ohlcv_1m) \(/.test(s));
  for (const sql of [...ddl, candleViews()[0], ...aggregatingCandleDdl()]) await ch.command(sql);
  for (const rows of INSERTS) {
    await ch.run((c) => c.insert({ table: `${DATABASE}.silver_trades`, format: 'JSONEachRow', values: rows.map(silverInput) }));
  }
});

after(async () => {
  await ch?.close();
  await server?.stop();
});

describe('candles from the production SummingMergeTree', () => {
  it('three candles, computed here from the trades', () => {
    assert.equal(TRUTH.length, 3);
    const a = TRUTH.find((c) => c.exchange === 'binance' && String(c.window_start).endsWith('12:00:00.000000'))!;
    assert.deepEqual(
      [a.open_price, a.high_price, a.low_price, a.close_price, a.volume, a.trade_count, a.open_time, a.close_time],
      [
        '99.00000000',
        '150.12345678',
        '50.00000001',
        '98.50000000',
        '15.00000001',
        '6',
        a.window_start,
        String(a.window_start).replace('12:00:00.000000', '12:00:59.999000'),
      ],
    );
  });

  it('before any merge, folding the partial rows gives the true candles', async () => {
    const [{ rows }] = await ch.query<{ rows: string }>(`SELECT toString(count()) AS rows FROM ${DATABASE}.ohlcv_1m`);
    assert.equal(Number(rows), 6, 'A: 3 partial rows, B: 2, C: 1');
    assert.deepEqual(await candles(candlesFromSummingQuery(ONE_MINUTE)), TRUTH);
  });

  it('after the parts merge, one partial row’s open/close/high/low is all that is left: the true candle cannot be read back', async () => {
    await ch.command(`OPTIMIZE TABLE ${DATABASE}.ohlcv_1m FINAL`);
    const [{ rows }] = await ch.query<{ rows: string }>(`SELECT toString(count()) AS rows FROM ${DATABASE}.ohlcv_1m`);
    assert.equal(Number(rows), 3, 'one row per candle');
    const merged = new Map((await candles(candlesFromSummingQuery(ONE_MINUTE))).map((c) => [candleKey(c), c]));
    assert.deepEqual([...merged.keys()].sort(), TRUTH.map(candleKey).sort());
    for (const want of TRUTH) {
      const got = merged.get(candleKey(want))!;
      // The summed columns survive a merge.
      assert.deepEqual([got.volume, got.quote_volume, got.trade_count], [want.volume, want.quote_volume, want.trade_count]);
    }
    // Candle A came from three inserts and none of its partial rows holds all of its true O/H/L/C: whichever
    // one the merge kept, the candle read back is wrong.
    const a = TRUTH.find((c) => c.exchange === 'binance' && String(c.window_start).endsWith('12:00:00.000000'))!;
    const got = merged.get(candleKey(a))!;
    const wrong = ['open_price', 'close_price', 'high_price', 'low_price'].filter((k) => got[k] !== a[k]);
    assert.notDeepEqual(wrong, [], 'the merge kept the true OHLC of candle A');
  });

  it('re-aggregated from silver_trades, and from the AggregatingMergeTree variant with -Merge, the candles are exact after merges too', async () => {
    await ch.command(`OPTIMIZE TABLE ${DATABASE}.ohlcv_1m_agg FINAL`);
    assert.deepEqual(await candles(candlesFromSilverQuery(ONE_MINUTE)), TRUTH);
    assert.deepEqual(await candles(candlesFromAggregatingQuery()), TRUTH);
  });
});

describe('the offload of candles on the current engine', { skip: pyicebergSkip }, () => {
  let pgDb: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let pool: pg.Pool;
  let warehouse: Warehouse;
  let deps: OffloadDeps;

  before(async () => {
    pgDb = await freshPostgresDatabase('candles');
    pool = createPool({ connectionString: pgDb.url }, { max: 6 });
    await migrate(pool);
    warehouse = await openWarehouse('s3');
    deps = offloadDepsOn({ clickhouse: ch, pool, io: warehouse.io, warehouse: warehouse.url });
  });

  after(async () => {
    await pool?.end();
    await pgDb?.drop();
    await warehouse?.close();
  });

  const config = (name: string, query: string): TableConfig =>
    validateTablesConfig(
      {
        tables: [
          {
            name,
            layer: 'gold',
            query,
            cursor: 'window_start',
            lag: '5m',
            closedWindow: '1m',
            target: `cold.gold_${name}`,
            partitionBy: ['month(window_start)', 'exchange'],
          },
        ],
      },
      'candles-test',
    ).tables[0];

  for (const [name, query, what] of [
    ['ohlcv_1m', candlesFromSilverQuery(ONE_MINUTE), 'production candles re-aggregated from silver_trades'],
    ['ohlcv_1m_agg', candlesFromAggregatingQuery(), 'the AggregatingMergeTree variant read with -Merge'],
  ] as const) {
    it(`${what}: offloaded once, pyiceberg reads the true candles`, async () => {
      const cfg = config(name, query);
      const first = await offloadTable(cfg, deps);
      assert.equal(first.status, 'committed');
      assert.equal(first.status === 'committed' && first.rows, TRUTH.length);
      const again = await offloadTable(cfg, deps);
      assert.equal(again.status, 'up-to-date');
      const read = await pyiceberg<PyRead>({ catalogUrl: pgDb.url, catalogName: 'offload', warehouse }, ['read', cfg.target]);
      assert.deepEqual(sortRows(read.rows), TRUTH);
    });
  }
});
