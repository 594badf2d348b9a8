// `offload status` after offloads: Iceberg rows from the current snapshot's summary (no scan) next to
// ClickHouse rows up to the watermark, Δ = 0 when they agree, pending rows past the watermark, last run, busy;
// and a commit landing between the reads never shows as a Δ.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tryLockTable } from '../../src/state/locks.js';
import type { Catalog } from '../../src/iceberg/catalog.js';
import { collectStatus } from '../../src/pipeline/status.js';
import type { TableStatus } from '../../src/pipeline/status-model.js';
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
    assert.deepEqual(empty.iceberg, { ok: true, value: { exists: false, rows: 0, snapshotId: null, snapshotAt: null, watermark: null } });

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

  // Reads happen in this order: the state store, the catalog, the snapshot's metadata file, the ClickHouse
  // count. A commit is made to land at each gap a real one could hit.
  for (const when of ['before the snapshot is read', 'after the snapshot is read'] as const) {
    it(`a commit landing ${when} shows no false Δ: counts up to the watermark of the snapshot shown`, async () => {
      const name = when.startsWith('before') ? 'status_race_a' : 'status_race_b';
      const source = await bronzeLikeTable(bench, name);
      const cfg = bronzeConfig(bench, 'binance', { name, source, target: `cold.${name}` });
      const config = { file: 'test', tables: [cfg] };
      const now = new Date('2025-08-02T12:00:00Z');
      const row = (offset: number, secondsBefore: number) => {
        const t = chTime(new Date(now.getTime() - secondsBefore * 1000));
        return { exchange_timestamp: t, event_time: t, ingestion_timestamp: t, kafka_offset: String(offset) };
      };
      await insertBronze(bench, source, [row(1, 3000), row(2, 3000), row(3, 2900)]);
      assert.equal((await offload(bench, cfg, { now })).status, 'committed');
      // 39 more rows, old enough for the next run: the commit that lands mid-status takes them.
      await insertBronze(
        bench,
        source,
        Array.from({ length: 39 }, (_, i) => row(10 + i, 2000 - i)),
      );
      let landed = false;
      const commitNow = async () => {
        if (landed) return;
        landed = true;
        const r = await offload(bench, cfg, { now });
        assert.equal(r.status === 'committed' && r.rows, 39);
      };
      const catalog: Catalog = Object.create(bench.catalog);
      catalog.loadTable = async (ident) => {
        if (when.startsWith('before')) await commitNow();
        const loaded = await bench.catalog.loadTable(ident);
        if (when.startsWith('after')) await commitNow();
        return loaded;
      };

      const t: TableStatus = (await collectStatus({ config, clickhouse: bench.ch, pool: bench.pool, catalog, io: bench.io })).tables[0];
      assert.ok(landed, 'the commit landed during the status');
      assert.ok(t.iceberg.ok && t.clickhouse.ok && t.watermark.ok);
      const expectedRows = when.startsWith('before') ? 42 : 3;
      assert.equal(t.iceberg.value.rows, expectedRows, 'the snapshot read');
      assert.equal(t.clickhouse.value.rowsUpToWatermark, expectedRows, 'ClickHouse counted up to that snapshot’s watermark');
      assert.equal(t.delta, 0);
      assert.deepEqual(
        { timestamp: t.watermark.value.timestamp, tieBreak: t.watermark.value.tieBreak },
        t.iceberg.value.watermark,
        'the watermark shown is the one the counts belong to',
      );
      const after = (await collectStatus({ config, clickhouse: bench.ch, pool: bench.pool, catalog: bench.catalog, io: bench.io }))
        .tables[0];
      assert.equal(after.iceberg.ok && after.iceberg.value.rows, 42);
      assert.equal(after.delta, 0);
    });
  }
});
