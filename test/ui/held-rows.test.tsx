// Test files are outside tsconfig.json, so the JSX transform is named here.
/** @jsxRuntime automatic @jsxImportSource react */
// The TUI shows rows a table holds back (ClickHouse refuses to read them): the count in the row's STATE,
// where and why on the selected table's line, and what to do in its details.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeApps, openApp } from '../support/ui/app.js';
import { MemoryBackend } from '../support/ui/memory-backend.js';
import { KEY, waitForFrame } from '../support/ui/terminal.js';

afterEach(closeApps);

class HeldBackend extends MemoryBackend {
  constructor() {
    super();
    const candles = this.report.tables.find((t) => t.name === 'ohlcv_15m')!;
    candles.cursor = 'window_start';
    candles.held = [
      {
        at: '2026-02-11T10:05:00.000000Z',
        rows: 2,
        error: 'ClickHouse error 407: Decimal convert overflow',
        see: "see them: the table's query with WHERE `window_start` = toDateTime('2026-02-11 10:05:00', 'UTC')",
        heldAt: '2026-02-11T11:00:00.000Z',
      },
    ];
  }
}

describe('held rows in the TUI', () => {
  it('the count in the row, where and why on the selected line, what to do in the details', async () => {
    const { press, ui, frame } = await openApp(new HeldBackend(), { columns: 220, rows: 30 });
    assert.match(frame(), /ohlcv_15m .* 2 held /);
    const at = frame()
      .split('\n')
      .findIndex((l) => l.includes('ohlcv_15m'));
    const first = frame()
      .split('\n')
      .findIndex((l) => l.includes('bronze_trades_binance'));
    for (let i = first; i < at; i++) await press('j');
    const line = await waitForFrame(ui, (x) => /\[\d\/9\] 2 rows at window_start/.test(x));
    assert.match(
      line,
      /\[\d\/9\] 2 rows at window_start = 2026-02-11 10:05:00 that ClickHouse refuses \(ClickHouse error 407: Decimal convert overflow\), held back since 2026-02-11 11:00:00; see them/,
    );
    await press(KEY.enter);
    const details = await waitForFrame(ui, (x) => x.includes('fix: change or delete them in ClickHouse'));
    assert.match(details, /ohlcv_15m: 2 rows at window_start = 2026-02-11 10:05:00 that ClickHouse refuses/);
  });
});
