// Recovery on the stack's REST catalog, where the table is the truth and PostgreSQL its mirror: a
// watermark exactly one run behind the newest offload snapshot (a process that died between the REST commit
// and its PostgreSQL update) is recorded from the snapshot summary, with its run id; a watermark further
// behind, or ahead of the table, is an InvariantViolation and nothing is touched.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantViolation } from '../../src/core/errors.js';
import { EPOCH, sameWatermark, type Watermark } from '../../src/core/watermark.js';
import * as watermarks from '../../src/state/watermarks.js';
import { bronzeConfig, bronzeLikeTable, chTime, insertBronze, offload, openBench, type Bench } from '../support/offload-stack.js';
import { restCatalogSkip } from '../support/rest-catalog.js';

let bench: Bench;

describe('recovery on a REST catalog: PostgreSQL mirrors the table', { skip: restCatalogSkip || undefined }, () => {
  before(async () => {
    bench = await openBench('recrest', { catalog: 'rest' });
  });
  after(async () => {
    await bench?.close();
  });

  it('records the one run PostgreSQL missed; refuses a watermark further behind or ahead', async () => {
    const source = await bronzeLikeTable(bench, 'rec_src');
    const cfg = bronzeConfig(bench, 'binance', { name: 'rec_src', source, target: 'cold.rec_src' });
    const commit = async (start: Date, offset: number) => {
      await insertBronze(
        bench,
        source,
        Array.from({ length: 40 }, (_, i) => {
          const t = chTime(new Date(start.getTime() + i * 1000));
          return { exchange_timestamp: t, event_time: t, ingestion_timestamp: t, kafka_offset: String(offset + i) };
        }),
      );
      const r = await offload(bench, cfg);
      assert.ok(r.status === 'committed', JSON.stringify(r));
      return { watermark: r.watermark, runId: r.batches[r.batches.length - 1].runId };
    };
    const first = await commit(new Date('2025-10-01T00:00:00Z'), 0);
    const second = await commit(new Date('2025-10-02T00:00:00Z'), 100);
    const setWatermark = (w: Watermark, runId: string) => watermarks.advance(bench.pool, cfg.name, w, { rowCount: 0, runId });
    const current = async () => (await watermarks.read(bench.pool, cfg.name))!;

    // As if the process died right after the second run's REST commit: PostgreSQL still at the first.
    await setWatermark(first.watermark, first.runId);
    const recovered = await offload(bench, cfg);
    assert.equal(recovered.status, 'up-to-date');
    assert.ok(sameWatermark((await current()).watermark, second.watermark), 'the watermark is the newest snapshot’s');
    assert.equal((await current()).committedRunId, second.runId, 'with the run id the snapshot carries');

    // Two runs behind (a watermark reset by hand): not fixed up.
    await setWatermark(EPOCH, first.runId);
    await assert.rejects(offload(bench, cfg), InvariantViolation);
    assert.ok(sameWatermark((await current()).watermark, EPOCH), 'nothing touched');

    // Ahead of the table: not fixed up either.
    const ahead = { timestamp: '2030-01-01T00:00:00.000000Z', tieBreak: '1' };
    await setWatermark(ahead, second.runId);
    await assert.rejects(offload(bench, cfg), InvariantViolation);
    assert.ok(sameWatermark((await current()).watermark, ahead), 'nothing touched');
  });
});
