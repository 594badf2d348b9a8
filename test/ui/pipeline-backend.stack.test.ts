// The TUI's backend on the real stack: the details of a table read from a real catalog, real
// metadata on S3 and the real run history, mapped to what the details screen lists.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as runs from '../../src/state/runs.js';
import * as watermarks from '../../src/state/watermarks.js';
import { commitStaged, createTable, stageAppend, type Table } from '../../src/iceberg/table.js';
import {
  openCatalog,
  openDuck,
  openWarehouse,
  tradesSchema,
  tradesSpec,
  tradesSql,
  writeRows,
  type CatalogDatabase,
  type Warehouse,
} from '../support/iceberg-tables.js';
import { stackEnv } from '../support/stack.js';
import type { DuckDBSession } from '../../src/iceberg/parquet.js';
import { PipelineBackend } from '../../src/ui/pipeline-backend.js';

describe('pipeline backend: table details on the real stack', () => {
  let db: CatalogDatabase;
  let warehouse: Warehouse;
  let duck: DuckDBSession;
  let dir: string;
  let backend: PipelineBackend;

  before(async () => {
    [db, warehouse, duck] = await Promise.all([openCatalog('tuidetails'), openWarehouse('s3'), openDuck()]);
    dir = mkdtempSync(join(tmpdir(), 'offload-tui-backend-'));
    const table = (name: string) => ({
      name,
      layer: 'bronze',
      source: `k2.${name}`,
      cursor: 'exchange_timestamp',
      target: `cold.${name}`,
      partitionBy: ['day(exchange_timestamp)', 'exchange'],
    });
    writeFileSync(
      join(dir, 'offload.config.json'),
      JSON.stringify({ tables: [{ ...table('trades'), compaction: { minFiles: 2, minAge: '0s' } }, table('not_yet_offloaded')] }),
    );
    backend = new PipelineBackend({
      config: join(dir, 'offload.config.json'),
      env: { ...stackEnv(), DATABASE_URL: db.url, OFFLOAD_WAREHOUSE: warehouse.url },
    });

    const schema = tradesSchema();
    let t: Table = await createTable(
      db.catalog,
      warehouse.io,
      { namespace: 'cold', name: 'trades' },
      { schema, spec: tradesSpec(schema), warehouse: warehouse.url },
    );
    const append = async (firstId: number, count: number, runId: string, watermark: string) => {
      const files = await writeRows(duck, t, warehouse.io, tradesSql(firstId, count), { prefix: runId });
      t = await commitStaged(
        db.pool,
        db.catalog,
        await stageAppend(t, warehouse.io, files, { summaryProperties: { 'offload.run-id': runId, 'offload.watermark': watermark } }),
      );
    };
    await append(1, 200, 'run-one', '2026-02-11T00:00:00.000000Z#200');
    await append(201, 50, 'run-two', '2026-02-12T00:00:00.000000Z#250');
    const failed = await runs.start(db.pool, { table: 'trades', icebergTable: 'cold.trades' });
    await runs.markFailed(db.pool, failed.runId, 'S3 PutObject: 503 Slow Down');
  });

  after(async () => {
    await backend?.close();
    duck?.close();
    await Promise.allSettled([db?.close(), warehouse?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the snapshots newest first with added rows, files, totals and offload.watermark', async () => {
    const d = await backend.loadDetails('trades');
    assert.ok(d.snapshots.ok, d.snapshots.ok ? '' : d.snapshots.error);
    assert.deepEqual(
      d.snapshots.value.map((s) => [s.operation, s.addedRecords, s.totalRecords, s.watermark, s.runId]),
      [
        ['append', 50, 250, '2026-02-12T00:00:00.000000Z#250', 'run-two'],
        ['append', 200, 200, '2026-02-11T00:00:00.000000Z#200', 'run-one'],
      ],
    );
    for (const s of d.snapshots.value) {
      assert.match(s.snapshotId, /^\d+$/);
      assert.ok(s.addedFiles >= 1);
      assert.ok(Date.parse(s.committedAt) > Date.now() - 600_000);
    }
  });

  it('counts the records of every partition from the manifests: 250 in all', async () => {
    const d = await backend.loadDetails('trades');
    assert.ok(d.partitions.ok, d.partitions.ok ? '' : d.partitions.error);
    assert.equal(
      d.partitions.value.reduce((sum, p) => sum + p.records, 0),
      250,
    );
    assert.ok(
      d.partitions.value.every((p) => /^exchange_timestamp_day=2026-02-1[012]\/exchange=(binance|kraken|coinbase)$/.test(p.partition)),
      JSON.stringify(d.partitions.value.map((p) => p.partition)),
    );
    // Every file of a trickle this small is small; no other engine wrote delete files.
    assert.ok(d.partitions.value.every((p) => p.smallFiles === p.files && p.deleteFiles === 0));
  });

  it('shows the run history and the configuration', async () => {
    const d = await backend.loadDetails('trades');
    assert.ok(d.runs.ok, d.runs.ok ? '' : d.runs.error);
    assert.equal(d.runs.value.length, 1);
    assert.equal(d.runs.value[0].status, 'failed');
    assert.equal(d.runs.value[0].error, 'S3 PutObject: 503 Slow Down');
    const config = Object.fromEntries(d.config.map((e) => [e.key, e.value]));
    assert.equal(config.target, 'cold.trades');
    assert.equal(config['partition by'], 'day(exchange_timestamp), exchange');
    assert.equal(config['tie-break'], '(none)');
    assert.equal(config.lag, '5m');
  });

  it('a table not offloaded yet has no snapshots and no partitions, which is not an error', async () => {
    const d = await backend.loadDetails('not_yet_offloaded');
    assert.deepEqual(d.snapshots, { ok: true, value: [] });
    assert.deepEqual(d.partitions, { ok: true, value: [] });
    assert.deepEqual(d.runs, { ok: true, value: [] });
  });

  it('c: compacts the table by its policy, each partition reported as it is done, rows unchanged', async () => {
    // Compaction keeps the watermark, so it starts only from one PostgreSQL and the snapshot agree on.
    await watermarks.ensure(db.pool, ['trades']);
    await watermarks.advance(
      db.pool,
      'trades',
      { timestamp: '2026-02-12T00:00:00.000000Z', tieBreak: '250' },
      { rowCount: 50, runId: randomUUID() },
    );
    const before = await backend.loadDetails('trades');
    assert.ok(before.partitions.ok);
    const twoFiles = before.partitions.value.filter((p) => p.files >= 2).length;
    assert.ok(twoFiles > 0, 'both appends wrote to some partition');
    const progress: Array<{ done: number; total: number; partition?: string }> = [];
    const outcome = await backend.care(
      'compact',
      'trades',
      (p) => progress.push({ done: p.done, total: p.total, partition: p.partition?.partition }),
      new AbortController().signal,
    );
    assert.equal(outcome.status, 'compacted', outcome.summary);
    assert.equal(outcome.partitions.filter((p) => p.status === 'compacted').length, twoFiles);
    assert.deepEqual(progress[0], { done: 0, total: twoFiles, partition: undefined }, 'the plan first');
    assert.deepEqual(
      progress.slice(1).map((p) => p.done),
      Array.from({ length: twoFiles }, (_, i) => i + 1),
    );
    const after = await backend.loadDetails('trades');
    assert.ok(after.partitions.ok);
    assert.ok(after.partitions.value.every((p) => p.files === 1));
    assert.equal(
      after.partitions.value.reduce((sum, p) => sum + p.records, 0),
      250,
    );
  });
});
