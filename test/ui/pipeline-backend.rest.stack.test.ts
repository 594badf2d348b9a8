// The TUI's backend on the stack's REST catalog (the installation's one setting OFFLOAD_CATALOG_URI): an
// offload started from the screen commits through the REST catalog; the status rows, the catalog's service
// line, the details (snapshots, partitions, run history) and the drill menu (with rest-drop) come from it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OffloadEvent } from '../../src/pipeline/events.js';
import { PipelineBackend } from '../../src/ui/pipeline-backend.js';
import { bronzeConfig, bronzeLikeTable, chTime, insertBronze, openBench, writeConfigFile, type Bench } from '../support/offload-stack.js';
import { restCatalogEnv, restCatalogSkip } from '../support/rest-catalog.js';
import { stackEnv } from '../support/stack.js';

const ROWS = 60;

describe('pipeline backend on the REST catalog', { skip: restCatalogSkip || undefined }, () => {
  let bench: Bench;
  let backend: PipelineBackend;

  before(async () => {
    bench = await openBench('tuirest', { catalog: 'rest' });
    const source = await bronzeLikeTable(bench, 'tui_src');
    const cfg = bronzeConfig(bench, 'binance', { name: 'tui_src', source, target: 'cold.tui_src' });
    const t0 = new Date('2025-11-01T00:00:00Z');
    await insertBronze(
      bench,
      source,
      Array.from({ length: ROWS }, (_, i) => {
        const t = chTime(new Date(t0.getTime() + i * 60_000));
        return { exchange_timestamp: t, event_time: t, ingestion_timestamp: t, kafka_offset: String(i) };
      }),
    );
    backend = new PipelineBackend({
      config: await writeConfigFile([cfg]),
      env: { ...stackEnv(), DATABASE_URL: bench.pgUrl, ...restCatalogEnv() },
    });
  });

  after(async () => {
    await backend?.close();
    await bench?.close();
  });

  it('runs an offload from the screen, then shows it in status and details', async () => {
    const events: OffloadEvent[] = [];
    await backend.run({ kind: 'table', table: 'tui_src' }, (e) => events.push(e), new AbortController().signal);
    const committed = events.filter((e) => e.kind === 'committed');
    assert.equal(committed.length, 1, JSON.stringify(events.filter((e) => e.kind === 'log')));

    const status = await backend.loadStatus();
    const service = status.services.find((s) => s.name === 'Iceberg');
    assert.ok(service?.ok && /REST catalog/.test(service.url), JSON.stringify(status.services));
    const row = status.tables[0];
    assert.ok(row.iceberg.ok && row.iceberg.value.exists && row.iceberg.value.rows === ROWS, JSON.stringify(row.iceberg));
    assert.equal(row.delta, 0);
    assert.equal(row.lastRun?.status, 'committed');

    const d = await backend.loadDetails('tui_src');
    assert.ok(d.snapshots.ok, d.snapshots.ok ? '' : d.snapshots.error);
    assert.deepEqual(
      d.snapshots.value.map((s) => [s.addedRecords, s.runId !== null, s.watermark !== null]),
      [[ROWS, true, true]],
    );
    assert.ok(d.partitions.ok, d.partitions.ok ? '' : d.partitions.error);
    assert.equal(
      d.partitions.value.reduce((n, p) => n + p.records, 0),
      ROWS,
    );
    assert.ok(d.runs.ok, d.runs.ok ? '' : d.runs.error);
    assert.deepEqual(
      d.runs.value.map((r) => r.status),
      ['committed'],
    );
  });

  it('offers the REST catalog’s drills: rest-drop among the transient faults', () => {
    const faults = backend.drillMenu().faults.map((f) => f.id);
    assert.ok(faults.includes('rest-drop'), faults.join(', '));
  });
});
