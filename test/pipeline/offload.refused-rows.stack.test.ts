// Rows ClickHouse refuses to read (issue: a 38-digit price in silver overflows the candle query's cast to
// Decimal(18, 8), ClickHouse error 407, every run): with the default `refusedRows: hold`, `offload run --all`
// holds back the rows of that one cursor value, offloads every other row of every table (a symbol that is
// not UTF-8 among them, written with U+FFFD), says which rows it changed or held back and why (one HELD BACK line, exit 1, never 70), `status` shows them until ClickHouse reads them again,
// and the next run forgets them once they are fixed at the source.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { quoteIdentifier } from '../../src/clickhouse/sql.js';
import * as watermarks from '../../src/state/watermarks.js';
import type { StatusReport } from '../../src/pipeline/status-model.js';
import {
  assertAgree,
  insertBronze,
  openBench,
  projectTables,
  pyicebergSkip,
  runCli,
  writeConfigFile,
  type Bench,
} from '../support/offload-stack.js';

let bench: Bench;
before(async () => {
  bench = await openBench('refused');
});
after(async () => {
  await bench?.close();
});

const trade = (minute: number, offset: number) => {
  const t = `2025-07-01 10:${String(minute).padStart(2, '0')}:10`;
  return { exchange_timestamp: t, event_time: t, ingestion_timestamp: t, kafka_offset: String(offset), sequence_number: String(offset) };
};

describe('rows ClickHouse refuses to read', { skip: pyicebergSkip || undefined }, () => {
  it('run --all holds them back, offloads every other row of every table, names them; status shows them until fixed', async () => {
    // And a symbol that is not UTF-8 (ClickHouse strings are bytes): written with U+FFFD, counted, never a stop.
    const notUtf8 = { ...trade(9, 4), symbol: 'BT\\xC3CUS\\xFFDT' };
    await insertBronze(bench, 'bronze_trades_binance', [trade(1, 1), trade(3, 2), trade(7, 3), notUtf8]);
    // A price of 38 digits: valid in silver's Decimal(38, 8), an overflow in the candles' Decimal(18, 8).
    await bench.ch.command(
      `INSERT INTO ${quoteIdentifier(bench.chDatabase)}.silver_trades (message_id, trade_id, exchange, symbol, canonical_symbol, asset_class, currency, price, quantity, quote_volume, side, trade_conditions, timestamp, timestamp_ms, ingestion_timestamp) VALUES ('00000000-0000-0000-0000-000000000038', 'huge', 'binance', 'BTCUSDT', 'BTC/USDT', 'crypto', 'USDT', 123456789012345678901234567890.12345678, 1, 1, 'BUY', [], toDateTime('2025-07-01 10:05:30', 'UTC'), 0, toDateTime('2025-07-01 10:05:30', 'UTC'))`,
    );
    const tables = projectTables(bench);
    const config = await writeConfigFile(tables);
    const r = await runCli(bench, ['run', '--all'], { config });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.exitCode, 1, out);
    assert.doesNotMatch(out, /internal|FAILED/i, 'no table failed');

    const held = (table: string) => out.split('\n').find((l) => l.startsWith(`${table}: HELD BACK`)) ?? '';
    assert.match(
      held('ohlcv_1m'),
      /^ohlcv_1m: HELD BACK 1 row at window_start = 2025-07-01 10:05:00 that ClickHouse refuses \(ClickHouse error 407: Decimal convert overflow\); every other row goes on \(refusedRows: hold\)\. Change or delete them at the source \(see them: the table's query with WHERE `window_start` = toDateTime\('2025-07-01 10:05:00', 'UTC'\)\); the next run reads them again$/,
    );
    // The unit held is the cursor value: the hour's other candle (the symbol replaced) waits with it.
    assert.match(held('ohlcv_1h'), /HELD BACK 2 rows at window_start = 2025-07-01 10:00:00 .*ClickHouse error 407/);
    for (const t of ['bronze_trades_binance', 'silver_trades', 'ohlcv_1m']) assert.match(out, new RegExp(`${t}: committed`), out);
    assert.match(out, /bronze_trades_binance: 1 value not valid UTF-8 committed with U\+FFFD .*\(symbol: 1\)/);
    assert.match(out, /silver_trades: 2 values not valid UTF-8 committed with U\+FFFD .*\(symbol: 1, canonical_symbol: 1\)/);

    // Every other candle is committed: the watermark passed the held window.
    const mark = await watermarks.read(bench.pool, 'ohlcv_1m');
    assert.equal(mark?.watermark.timestamp, '2025-07-01T10:09:00.000000Z');
    assert.notEqual(mark?.status, 'failed');
    assert.equal(
      (await watermarks.read(bench.pool, 'silver_trades'))?.watermark.timestamp,
      '2025-07-01T10:09:10.000000Z',
      'silver took all five rows',
    );

    // status: the held rows, where and why, until ClickHouse reads them again.
    const st = await runCli(bench, ['status', '--json'], { config });
    const report = JSON.parse(st.stdout) as StatusReport;
    const oneMinute = report.tables.find((t) => t.name === 'ohlcv_1m')!;
    assert.deepEqual(
      oneMinute.held.map((h) => [h.at, h.rows, h.error]),
      [['2025-07-01T10:05:00.000000Z', 1, 'ClickHouse error 407: Decimal convert overflow']],
    );
    assert.equal(oneMinute.iceberg.ok && oneMinute.iceberg.value.rows, 4, 'the candles of 10:01, 10:03, 10:07 and 10:09');
    const human = await runCli(bench, ['status'], { config });
    assert.match(human.stdout, /^ohlcv_1m\s.*\b1 held\b/m, human.stdout);
    assert.match(
      human.stdout,
      /^ohlcv_1m: 1 row at window_start = 2025-07-01 10:05:00 that ClickHouse refuses \(ClickHouse error 407: Decimal convert overflow\), held back since /m,
    );

    // Fixed at the source: the next run reads the value again and forgets it; nothing is left to take.
    const candles = `${quoteIdentifier(bench.chDatabase)}.ohlcv_1m`;
    const at = `window_start = toDateTime('2025-07-01 10:05:00', 'UTC')`;
    await bench.ch.command(`ALTER TABLE ${candles} DELETE WHERE ${at}`);
    // 18.16 runs the mutation in the background (no mutations_sync): wait for it, with a deadline.
    for (const deadline = Date.now() + 60_000; ; await new Promise((ok) => setTimeout(ok, 200))) {
      const [{ n }] = await bench.ch.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${candles} WHERE ${at}`);
      if (n === '0') break;
      assert.ok(Date.now() < deadline, 'the mutation deleting the candle of 10:05 did not finish in 60 s');
    }
    const again = await runCli(bench, ['run', '--table', 'ohlcv_1m'], { config });
    assert.equal(again.exitCode, 0, `${again.stdout}\n${again.stderr}`);
    assert.match(
      `${again.stdout}\n${again.stderr}`,
      /rows at window_start = 2025-07-01 10:05:00, held back since .*, are gone at the source/,
    );
    const after = JSON.parse((await runCli(bench, ['status', '--json'], { config })).stdout) as StatusReport;
    assert.deepEqual(after.tables.find((t) => t.name === 'ohlcv_1m')!.held, []);
    const byName = new Map(tables.map((t) => [t.name, t]));
    assert.equal((await assertAgree(bench, byName.get('ohlcv_1m')!)).icebergRows, 4, 'Iceberg and ClickHouse agree');
  });
});
