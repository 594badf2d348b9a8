// Candle tables: only fully closed windows are offloaded (a 1h candle only once its hour and the lag have
// passed), read through the re-aggregating query so each candle is one correct row, and each closed candle
// reaches Iceberg exactly once — including trades that arrived late but inside the lag.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { candleSelectSql } from '../../src/dev/schema.js';
import { assertAgree, chTime, insertBronze, offload, openBench, pyicebergSkip, tableConfig, type Bench } from '../support/offload-stack.js';

let bench: Bench;
before(async () => {
  bench = await openBench('candles');
});
after(async () => {
  await bench?.close();
});

const H0 = new Date('2025-07-01T10:00:00Z');
const plus = (minutes: number) => new Date(H0.getTime() + minutes * 60_000);

function trade(minutes: number, price: string, offset: number, quantity = '0.50000000') {
  const t = chTime(plus(minutes));
  return {
    exchange_timestamp: t,
    event_time: t,
    ingestion_timestamp: t,
    exchange_timestamp_ms: 0,
    symbol: 'BTCUSDT',
    price,
    quantity,
    quote_volume: '1.00000000',
    kafka_offset: String(offset),
    sequence_number: String(offset),
  };
}

describe('candle tables', { skip: pyicebergSkip || undefined }, () => {
  it('offloads a 1h candle only after its hour and the lag, as one re-aggregated row, exactly once', async () => {
    const cfg = tableConfig(bench, {
      name: 'ohlcv_1h',
      layer: 'gold',
      query: candleSelectSql('ohlcv_1h', { database: bench.chDatabase }),
      cursor: 'window_start',
      lag: '5m',
      closedWindow: '1h',
      target: 'cold.gold_ohlcv_1h',
      partitionBy: ['month(window_start)', 'exchange'],
    });
    // Two inserts into the hour (two partial state rows at rest), and one trade in the next hour.
    await insertBronze(bench, 'bronze_trades_binance', [trade(10, '100.00000000', 1), trade(20, '120.00000000', 2)]);
    await insertBronze(bench, 'bronze_trades_binance', [trade(65, '90.00000000', 3)]);

    const open = await offload(bench, cfg, { now: plus(30) });
    assert.equal(open.status, 'up-to-date', 'the hour is still open');
    const inLag = await offload(bench, cfg, { now: plus(62) });
    assert.equal(inLag.status, 'up-to-date', 'the hour closed 2 minutes ago: inside the 5-minute lag');

    // A trade of that hour arrives late, inside the lag: it must be part of the candle.
    await insertBronze(bench, 'bronze_trades_binance', [trade(50, '80.00000000', 4)]);
    const closed = await offload(bench, cfg, { now: plus(66) });
    assert.equal(closed.status, 'committed');
    assert.equal(closed.status === 'committed' && closed.rows, 1, 'one candle: the closed hour');
    assert.deepEqual(closed.status === 'committed' && closed.watermark, { timestamp: '2025-07-01T10:00:00.000000Z', tieBreak: null });
    const agree = await assertAgree(bench, cfg);
    assert.equal(agree.icebergRows, 1);
    const candle = agree.read.rows[0];
    assert.equal(candle.exchange, 'binance');
    assert.equal(candle.canonical_symbol, 'BTC/USDT');
    assert.equal(candle.window_start, '2025-07-01T10:00:00.000000');
    assert.equal(candle.open_price, '100.00000000');
    assert.equal(candle.close_price, '80.00000000');
    assert.equal(candle.high_price, '120.00000000');
    assert.equal(candle.low_price, '80.00000000');
    assert.equal(candle.volume, '1.50000000');
    assert.equal(candle.trade_count, '3');

    const again = await offload(bench, cfg, { now: plus(70) });
    assert.equal(again.status, 'up-to-date', 'the closed candle is not offloaded twice');
    const next = await offload(bench, cfg, { now: plus(126) });
    assert.equal(next.status === 'committed' && next.rows, 1, 'the next hour, once it closed');
    assert.equal((await assertAgree(bench, cfg)).icebergRows, 2);
  });
});
