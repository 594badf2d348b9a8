// A live table on the real stack: trades keep arriving (the trade generator's follow mode, stamped with the
// current time, well within the lag) while the table is offloaded. One run fixes its upper bound H when it
// plans and ends: one commit, one data file per partition, the watermark at or below the H it planned,
// nothing lost or duplicated against ClickHouse up to the watermark, and the trades that arrived meanwhile
// left for the next run — which also ends. Its progress only rises, towards the row count it planned.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { microsFromIso } from '../../src/core/watermark.js';
import { followTrades, seedTrades } from '../../src/dev/seed.js';
import { OffloadEvents, type OffloadEvent } from '../../src/pipeline/events.js';
import { readOverview } from '../../src/pipeline/history.js';
import { assertAgree, bronzeConfig, offload, openBench, pyicebergSkip, type Bench } from '../support/offload-stack.js';

let bench: Bench;
let stopTrades: AbortController;
let following: Promise<number>;
let arrived = 0;

before(async () => {
  bench = await openBench('live');
  const end = new Date(Date.now() - 10_000);
  await seedTrades(bench.ch, { rows: 100_000, start: new Date(end.getTime() - 3 * 3_600_000), end, database: bench.chDatabase });
  stopTrades = new AbortController();
  following = followTrades(bench.ch, {
    // Several inserts a second: a run of this table takes about a second (Native extraction), and trades
    // must land while it runs; few enough not to pile up parts the server must merge before the drop.
    rate: 200,
    intervalMs: 150,
    database: bench.chDatabase,
    signal: stopTrades.signal,
    onBatch: (_rows, total) => (arrived = total),
  });
});

after(async () => {
  stopTrades?.abort();
  await following?.catch(() => undefined);
  await bench?.close();
});

/** Polls `check` until it holds (the trickle is running) or fails after `ms`. */
async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms / 1000}s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function offloadWhileTradesArrive(lag: string) {
  const cfg = bronzeConfig(bench, 'binance', { lag });
  const seen: OffloadEvent[] = [];
  const events = new OffloadEvents();
  events.on((e) => seen.push(e));
  const arrivedBefore = arrived;
  const result = await offload(bench, cfg, { events });
  return { cfg, result, seen, arrivedDuring: arrived - arrivedBefore };
}

describe('a live table: trades arriving during the run', { skip: pyicebergSkip || undefined }, () => {
  it('one run ends in one commit, one file per partition, up to the H it planned; nothing lost or duplicated', async () => {
    await until('trades arriving', () => arrived > 0);
    const { cfg, result, seen, arrivedDuring } = await offloadWhileTradesArrive('2s');
    assert.ok(arrivedDuring > 0, 'trades arrived while the run ran');
    assert.equal(result.status, 'committed');
    assert.ok(result.status === 'committed');
    const of = <K extends OffloadEvent['kind']>(kind: K) => seen.filter((e): e is Extract<OffloadEvent, { kind: K }> => e.kind === kind);
    assert.equal(of('committed').length, 1, 'exactly one commit');
    assert.equal(of('finished').length, 1);
    assert.equal(result.batches.length, 1);

    const planned = of('planned');
    assert.equal(planned.length, 1);
    const upper = microsFromIso(planned[0].window.upper.timestamp);
    assert.ok(
      microsFromIso(result.watermark.timestamp) <= upper,
      `watermark ${result.watermark.timestamp} ≤ H ${planned[0].window.upper.timestamp}`,
    );

    const overview = await readOverview(bench, cfg);
    assert.ok(overview && overview.partitions.length >= 1);
    for (const p of overview.partitions) assert.equal(p.fileCount, 1, `one file in ${p.path} (below the target size)`);
    assert.equal(result.files, overview.partitions.length);

    // Progress: the total is the run's planned count from the first event; rows only rise, to every row taken.
    const progress = of('progress');
    assert.ok(progress.length >= 2, `progress events: ${progress.length}`);
    assert.equal(progress[0].totalRows, planned[0].runRows);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].rows >= progress[i - 1].rows, `rows went back at event ${i}`);
    assert.equal(progress.at(-1)!.rows, result.rows);

    const agree = await assertAgree(bench, cfg);
    assert.equal(agree.icebergRows, result.rows);
    // Trades newer than H arrived and wait in ClickHouse for the next run.
    const [newer] = await bench.ch.query<{ n: string }>(
      `SELECT toString(count()) AS n FROM ${bench.chDatabase}.bronze_trades_binance WHERE exchange_timestamp > toDateTime(${Number(upper / 1_000_000n)}, 'UTC')`,
    );
    assert.ok(Number(newer.n) > 0, 'rows newer than H were left for the next run');
  });

  it('the next run ends too, in one commit, and takes only what arrived since', async () => {
    await new Promise((r) => setTimeout(r, 3000)); // a few seconds of trades past the lag
    const { cfg, result, seen } = await offloadWhileTradesArrive('2s');
    assert.equal(result.status, 'committed');
    assert.ok(result.status === 'committed');
    assert.equal(seen.filter((e) => e.kind === 'committed').length, 1);
    assert.ok(result.rows > 0, 'the trades that arrived since');
    assert.ok(result.files <= 2, `files: ${result.files} (one per day partition touched)`);
    await assertAgree(bench, cfg);
  });
});
