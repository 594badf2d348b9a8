// Test files are outside tsconfig.json, so the JSX transform is named here.
/** @jsxRuntime automatic @jsxImportSource react */
// The TUI shows late data (rows at or below the watermark that arrived after it, candles changed after
// they were offloaded) on the selected table's line and in its details, with the repair command; the
// details also count orphan files and name the gc that removes them.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TableDetails } from '../../src/ui/backend.js';
import { closeApps, openApp } from '../support/ui/app.js';
import { sampleDetails } from '../support/ui/fixtures.js';
import { MemoryBackend } from '../support/ui/memory-backend.js';
import { KEY, waitForFrame } from '../support/ui/terminal.js';

afterEach(closeApps);

class LateBackend extends MemoryBackend {
  constructor() {
    super();
    const binance = this.report.tables.find((t) => t.name === 'bronze_trades_binance')!;
    binance.late = {
      ok: true,
      value: {
        rows: 0,
        partitions: [],
        changedWindows: ['2026-02-11T10:03:00.000000Z'],
        changedPartitions: ['window_start_month=2026-02/exchange=binance'],
      },
    };
  }

  override async loadDetails(table: string): Promise<TableDetails> {
    this.detailsLoads.push(table);
    return {
      ...sampleDetails(table),
      files: {
        ok: true,
        value: {
          table,
          exists: true,
          dataFiles: 4,
          dataBytes: 4096,
          partitions: 2,
          maxFilesPerPartition: 2,
          smallFiles: 4,
          orphanFiles: 3,
          orphanBytes: 3072,
        },
      },
    };
  }
}

describe('late data in the TUI', () => {
  it('on the selected table line and in its details, with the repair; orphan files in the details', async () => {
    const { press, ui, frame } = await openApp(new LateBackend(), { columns: 200, rows: 30 });
    assert.match(
      frame(),
      /\[1\/9\] 1 closed window changed after it was offloaded \(2026-02-11 10:03:00\) · repair: offload repair --table bronze_trades_binance --partition window_start_month=2026-02\/exchange=binance/,
    );
    await press(KEY.enter);
    const f = await waitForFrame(ui, (x) => x.includes('7301234567890123456'));
    assert.match(f, /bronze_trades_binance: 1 closed window changed after it was offloaded \(2026-02-11 10:03:00\)/);
    assert.match(f, / {2}repair: offload repair --table bronze_trades_binance --partition window_start_month=2026-02\/exchange=binance/);
    assert.match(f, /3 orphan files \(3\.0 KB\) older than gc's safety age: `offload gc` deletes them, `offload gc --dry-run` lists them/);
  });
});
