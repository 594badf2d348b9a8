// The TUI's backend on the real stack: the details of a table read from a real catalog, real
// metadata on S3 and the real run history, mapped to what the details screen lists.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as runs from '../../src/state/runs.js';
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
    writeFileSync(join(dir, 'offload.config.json'), JSON.stringify({ tables: [table('trades'), table('not_yet_offloaded')] }));
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
});
