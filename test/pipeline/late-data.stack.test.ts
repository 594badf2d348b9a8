// Late data made visible (issue: a silver row at the watermark's second and a late trade that changed
// closed candles were never offloaded and invisible — Δ counted neither the candle change nor where the
// rows were). Status shows, per table, rows that arrived at or below the watermark after it was committed
// and the partitions holding them, and for candle tables the closed windows whose values changed after
// they were offloaded; `offload status` prints the `offload repair` command of each partition.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { quoteIdentifier } from '../../src/clickhouse/sql.js';
import { collectStatus } from '../../src/pipeline/status.js';
import type { TableStatus } from '../../src/pipeline/status-model.js';
import { insertBronze, offload, openBench, projectTables, runCli, writeConfigFile, type Bench } from '../support/offload-stack.js';

let bench: Bench;
before(async () => {
  bench = await openBench('late');
});
after(async () => {
  await bench?.close();
});

const trade = (time: string, offset: number, price = '100.00000000') => ({
  exchange_timestamp: `2025-07-01 ${time}`,
  event_time: `2025-07-01 ${time}`,
  ingestion_timestamp: `2025-07-01 ${time}`,
  kafka_offset: String(offset),
  sequence_number: String(offset),
  price,
});

const lateOf = (t: TableStatus | undefined) => {
  assert.ok(t?.late?.ok, `late data of ${t?.name}: ${JSON.stringify(t?.late)}`);
  return t.late.value;
};

describe('late data in status', () => {
  it('a late silver row at the watermark second and a late trade changing a closed candle are shown with their repair', async () => {
    const tables = projectTables(bench).filter((t) => ['bronze_trades_binance', 'silver_trades', 'ohlcv_1m'].includes(t.name));
    const config = { file: 'test', tables };
    const sources = { config, clickhouse: bench.ch, pool: bench.pool, catalog: bench.catalog, io: bench.io };
    await insertBronze(bench, 'bronze_trades_binance', [trade('10:01:10', 1), trade('10:03:10', 2), trade('10:07:10', 3)]);
    for (const t of tables) assert.equal((await offload(bench, t)).status, 'committed', t.name);

    const clean = await collectStatus(sources);
    for (const t of clean.tables)
      assert.deepEqual(lateOf(t), { rows: 0, partitions: [], changedWindows: [], changedPartitions: [] }, t.name);

    // A silver row at the watermark's own second (10:07:10), arriving after that watermark was committed.
    await bench.ch.command(
      `INSERT INTO ${quoteIdentifier(bench.chDatabase)}.silver_trades (message_id, trade_id, exchange, symbol, canonical_symbol, asset_class, currency, price, quantity, quote_volume, side, trade_conditions, timestamp, timestamp_ms, ingestion_timestamp) VALUES ('00000000-0000-0000-0000-000000000017', 'late-at-wm', 'binance', 'BTCUSDT', 'BTC/USDT', 'crypto', 'USDT', 100, 1, 100, 'BUY', [], toDateTime('2025-07-01 10:07:10', 'UTC'), 500, toDateTime('2025-07-01 10:20:00', 'UTC'))`,
    );
    // A late trade in a closed candle (10:03): same candle count, its low and trade count change.
    await insertBronze(bench, 'bronze_trades_binance', [trade('10:03:40', 4, '1.23000000')]);

    const s = await collectStatus(sources);
    const byName = new Map(s.tables.map((t) => [t.name, t]));
    assert.deepEqual(lateOf(byName.get('bronze_trades_binance')), {
      rows: 1,
      partitions: [{ path: 'exchange_timestamp_day=2025-07-01', clickhouseRows: 4, icebergRows: 3 }],
      changedWindows: [],
      changedPartitions: [],
    });
    assert.deepEqual(lateOf(byName.get('silver_trades')), {
      rows: 2,
      partitions: [{ path: 'timestamp_day=2025-07-01/exchange=binance/asset_class=crypto', clickhouseRows: 5, icebergRows: 3 }],
      changedWindows: [],
      changedPartitions: [],
    });
    const candles = lateOf(byName.get('ohlcv_1m'));
    assert.equal(candles.rows, 0, 'no new candle: Δ alone would not show it');
    assert.deepEqual(candles.changedWindows, ['2025-07-01T10:03:00.000000Z', '2025-07-01T10:07:00.000000Z']);
    assert.deepEqual(candles.changedPartitions, ['window_start_month=2025-07/exchange=binance']);

    // The same as the operator reads it, with the one command that repairs each partition.
    const r = await runCli(bench, ['status'], { config: await writeConfigFile(tables) });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^ohlcv_1m .* 2 windows /m);
    assert.match(
      r.stdout,
      /^silver_trades: 2 rows arrived at or below the watermark after it was committed \(timestamp_day=2025-07-01\/exchange=binance\/asset_class=crypto: 2\)$/m,
    );
    assert.match(
      r.stdout,
      /^ {2}repair: offload repair --table silver_trades --partition timestamp_day=2025-07-01\/exchange=binance\/asset_class=crypto$/m,
    );
    assert.match(r.stdout, /^ohlcv_1m: 2 closed windows changed after it was offloaded \(2025-07-01 10:03:00, 2025-07-01 10:07:00\)$/m);
    assert.match(r.stdout, /^ {2}repair: offload repair --table ohlcv_1m --partition window_start_month=2025-07\/exchange=binance$/m);
    const json = await runCli(bench, ['status', '--json'], { config: await writeConfigFile(tables) });
    const doc = JSON.parse(json.stdout) as { tables: TableStatus[] };
    assert.deepEqual(lateOf(doc.tables.find((t) => t.name === 'ohlcv_1m')).changedWindows, candles.changedWindows);
  });
});
