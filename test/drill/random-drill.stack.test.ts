// The random drill: 30 kills at random fault points across repeated offloads of a bronze, a silver and a
// gold table while new trades keep arriving (the seed generator, stamped now, offloaded within the drill's
// short lag). After the last kill every table recovers and every invariant holds, with its numbers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CRASH_FAULTS } from '../../src/drill/catalogue.js';
import { CLEAN_RUN, runRandomDrill } from '../../src/drill/random-drill.js';
import type { DrillReport } from '../../src/drill/report.js';
import { describeStep, freshDrillStack, type DrillStack } from '../support/drill-stack.js';

const KILLS = 30;
const TABLES = ['bronze_trades_binance', 'silver_trades', 'ohlcv_1m'];

let stack: DrillStack;
let report: DrillReport;

before(async () => {
  stack = await freshDrillStack('drillrandom', { trades: 6_000, hours: 3, endAgoMs: 30_000 });
  report = await runRandomDrill({ kills: KILLS, seed: '1', tables: TABLES, tradesPerSec: 100, lagMs: 3000 }, stack.options());
});

after(async () => {
  await stack?.drop();
});

describe('random drill', () => {
  it(`kills the offload ${KILLS} times at random fault points while trades arrive`, () => {
    assert.equal(report.totals.kills, KILLS);
    const kills = report.steps.filter((s) => s.runs[0].signal === 'SIGKILL');
    assert.equal(kills.length, KILLS);
    for (const s of kills) assert.equal(s.runs[0].outcome, `killed at ${s.fault}`);
    // Random means several fault points and several tables were hit.
    assert.ok(new Set(kills.map((s) => s.fault)).size >= 5, `fault points hit: ${[...new Set(kills.map((s) => s.fault))].join(', ')}`);
    assert.ok(new Set(kills.map((s) => s.table)).size >= 2);
    for (const s of report.steps) assert.notEqual(s.outcome, 'broken', describeStep(s));
    assert.ok(report.totals.tradesInserted > 100, `trades arrived during the drill: ${report.totals.tradesInserted}`);
    // Clean offloads in between commit what is pending, so later kills hit tables with history.
    const clean = report.steps.filter((s) => s.fault === CLEAN_RUN);
    assert.ok(clean.length > 0, 'some offloads ran without a fault');
    for (const s of clean) assert.equal(s.runs[0].exitCode, 0, describeStep(s));
    assert.ok(report.steps.every((s) => s.fault === CLEAN_RUN || (CRASH_FAULTS as readonly string[]).includes(s.fault)));
  });

  it('then every table recovers: zero lost, zero duplicated, watermark = snapshot, nothing running, gc clean', () => {
    assert.deepEqual(
      report.final.map((f) => f.table),
      TABLES,
    );
    for (const f of report.final) {
      const by = Object.fromEntries(f.verification.checks.map((c) => [c.name, c]));
      for (const c of f.verification.checks) assert.notEqual(c.status, 'broken', `${f.table}: ${c.name}: ${c.detail}`);
      assert.equal(by['rows-lost'].numbers.lost, 0);
      assert.equal(by['rows-duplicated'].numbers.duplicated, 0);
      assert.equal(by['rows-duplicated'].numbers.unexpected, 0);
      assert.ok(Number(by['rows-lost'].numbers.clickhouseRowsUpToWatermark) > 0);
      assert.equal(by['rows-lost'].numbers.icebergRows, by['rows-lost'].numbers.clickhouseRowsUpToWatermark);
      assert.equal(by['no-run-left-running'].numbers.running, 0);
      assert.equal(by['orphans-collected'].numbers.left, 0);
    }
    assert.equal(report.outcome, 'held');
  });

  it('offloaded trades that arrived during the drill, not only the seeded history', () => {
    const bronze = report.final.find((f) => f.table === 'bronze_trades_binance')!;
    const rows = bronze.verification.clickhouseRows!;
    // 60 % of the seeded trades are Binance's; more than that means arrivals were offloaded too.
    assert.ok(rows > Math.floor(stack.seeded * 0.6), `bronze rows ${rows} vs ${Math.floor(stack.seeded * 0.6)} seeded`);
  });
});
