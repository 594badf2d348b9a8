// `offload status` after offloads: Iceberg rows from the current snapshot's summary (no scan) next to
// ClickHouse rows up to the watermark, Δ = 0 when they agree, pending rows past the watermark, last run, busy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tryLockTable } from '../../src/state/locks.js';
import { collectStatus } from '../../src/pipeline/status.js';
import { bronzeConfig, bronzeLikeTable, chTime, insertBronze, offload, openBench, type Bench } from '../support/offload-stack.js';

let bench: Bench;
before(async () => {
  bench = await openBench('status');
});
after(async () => {
  await bench?.close();
});

describe('status', () => {
  it('shows Iceberg rows from the snapshot summary, Δ = 0 up to the watermark, pending rows, last run and busy', async () => {
    const source = await bronzeLikeTable(bench, 'status_src');
    const cfg = bronzeConfig(bench, 'binance', { name: 'status_src', source, target: 'cold.status_src' });
    const config = { file: 'test', tables: [cfg] };
    const sources = { config, clickhouse: bench.ch, pool: bench.pool, catalog: bench.catalog, io: bench.io };

    const empty = (await collectStatus(sources)).tables[0];
    assert.deepEqual(empty.iceberg, { ok: true, value: { exists: false, rows: 0, snapshotId: null, snapshotAt: null } });

    const now = new Date('2025-08-01T12:00:00Z');
    const row = (offset: number, secondsBefore: number) => {
      const t = chTime(new Date(now.getTime() - secondsBefore * 1000));
      return { exchange_timestamp: t, event_time: t, ingestion_timestamp: t, kafka_offset: String(offset) };
    };
    // 3 rows old enough, 2 inside the lag (pending after the run).
    await insertBronze(bench, source, [row(1, 900), row(2, 900), row(3, 800), row(4, 60), row(5, 30)]);
    const r = await offload(bench, cfg, { now });
    assert.equal(r.status === 'committed' && r.rows, 3);

    const s = (await collectStatus(sources)).tables[0];
    assert.ok(s.iceberg.ok && s.iceberg.value.exists);
    assert.equal(s.iceberg.ok && s.iceberg.value.rows, 3);
    assert.equal(s.iceberg.ok && s.iceberg.value.snapshotId, r.status === 'committed' ? r.batches[0].snapshotId : null);
    assert.deepEqual(s.clickhouse.ok && s.clickhouse.value, { totalRows: 5, rowsUpToWatermark: 3, pendingRows: 2 });
    assert.equal(s.delta, 0);
    assert.equal(s.lastRun?.status, 'committed');
    assert.equal(s.lastRun?.rows, 3);
    assert.equal(s.isBusy, false);
    assert.ok(s.watermark.ok && s.watermark.value.timestamp === '2025-08-01T11:46:40.000000Z' && s.watermark.value.tieBreak === '3');

    const lock = await tryLockTable(bench.pool, cfg.name);
    try {
      assert.equal((await collectStatus(sources)).tables[0].isBusy, true);
    } finally {
      await lock?.release();
    }
  });
});
