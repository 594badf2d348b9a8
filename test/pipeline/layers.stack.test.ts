// Run-all on the seeded schema: the nine configured tables (two bronze, silver, six candle tables) offloaded
// layer by layer; a second run adds nothing; every table agrees with ClickHouse up to its watermark and is
// read by pyiceberg. A failed layer stops the layers made from it, and the outcome says so.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { seedTrades } from '../../src/dev/seed.js';
import { OffloadEvents } from '../../src/pipeline/events.js';
import { runLayers } from '../../src/pipeline/layers.js';
import { assertAgree, openBench, projectTables, pyicebergSkip, tableConfig, type Bench } from '../support/offload-stack.js';

let bench: Bench;
before(async () => {
  bench = await openBench('layers');
});
after(async () => {
  await bench?.close();
});

describe('offload run --all', { skip: pyicebergSkip || undefined }, () => {
  it('offloads all nine tables bronze → silver → gold, then finds them all up to date', async () => {
    const end = new Date(Date.now() - 2 * 86_400_000);
    await seedTrades(bench.ch, { rows: 20_000, start: new Date(end.getTime() - 2 * 86_400_000), end, database: bench.chDatabase });
    const tables = projectTables(bench);
    assert.equal(tables.length, 9);
    const order: string[] = [];
    const events = new OffloadEvents();
    events.on((e) => e.kind === 'committed' && order.push(e.table));
    const first = await runLayers(tables, bench.deps, { events });
    assert.deepEqual(
      first.map((o) => [o.table, o.status, o.status === 'failed' ? o.error.message : '']),
      tables.map((t) => [t.name, 'committed', '']),
    );
    // Layer order: both bronze tables commit before silver, silver before any candle table.
    const pos = (n: string) => order.indexOf(n);
    assert.ok(Math.max(pos('bronze_trades_binance'), pos('bronze_trades_kraken')) < pos('silver_trades'));
    assert.ok(tables.filter((t) => t.layer === 'gold').every((t) => pos(t.name) > pos('silver_trades')));
    const rows = new Map(first.map((o) => [o.table, o.status === 'committed' && o.result.status === 'committed' ? o.result.rows : 0]));
    assert.equal(rows.get('bronze_trades_binance')! + rows.get('bronze_trades_kraken')!, 20_000);
    assert.equal(rows.get('silver_trades'), 20_000);

    const second = await runLayers(tables, bench.deps);
    assert.deepEqual(
      second.map((o) => o.status),
      tables.map(() => 'up-to-date'),
    );
    for (const t of tables) await assertAgree(bench, t);
  });

  it('stops the layers made from a failed one, and says why', async () => {
    const broken = tableConfig(bench, {
      name: 'bronze_broken',
      layer: 'bronze',
      source: 'no_such_table',
      cursor: 'ts',
      target: 'cold.bronze_broken',
    });
    const silver = tableConfig(bench, {
      name: 'silver_after',
      layer: 'silver',
      source: 'silver_trades',
      cursor: 'timestamp',
      target: 'cold.silver_after',
    });
    const outcomes = await runLayers([broken, silver], bench.deps);
    assert.equal(outcomes[0].status, 'failed');
    assert.match(outcomes[0].status === 'failed' ? outcomes[0].error.message : '', /no_such_table/);
    assert.equal(outcomes[1].status, 'skipped');
    assert.match(
      outcomes[1].status === 'skipped' ? outcomes[1].reason : '',
      /bronze layer failed \(bronze_broken: ClickHouse: table \S+\.no_such_table does not exist\)/,
      'the reason names the table and why it failed',
    );
  });
});
