// Two workers on one table, one killed mid-run: while the first holds the table, the second is turned
// away as busy and writes nothing; the first dies by SIGKILL at its fault; then two workers race to recover
// — one recovers and offloads, the other is busy or finds nothing left — and no row is lost or duplicated.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runFaultDrill } from '../../../src/drill/fault-drill.js';
import type { DrillReport } from '../../../src/drill/report.js';
import { checkOf, describeStep, freshDrillStack, type DrillStack } from '../../support/drill-stack.js';

let stack: DrillStack;
let report: DrillReport;

before(async () => {
  stack = await freshDrillStack('drillconcurrent', { trades: 8_000, hours: 4 });
  report = await runFaultDrill(
    { tables: ['bronze_trades_binance', 'silver_trades'], crash: [], transient: [], concurrent: 'mid-extract' },
    stack.options(),
  );
});

after(async () => {
  await stack?.drop();
});

describe('concurrency drill', () => {
  it('turns the second worker away while the first holds the table, then recovers with zero lost and zero duplicated', () => {
    assert.equal(report.steps.length, 2);
    for (const s of report.steps) {
      assert.equal(s.outcome, 'held', describeStep(s));
      const [killed, second, ...racers] = s.runs;
      assert.equal(killed.signal, 'SIGKILL', describeStep(s));
      assert.equal(killed.outcome, 'killed at mid-extract');
      assert.equal(second.role, 'second-worker');
      assert.equal(second.exitCode, 5, `busy while the first held the table: ${second.outcome}`);
      assert.equal(racers.length, 2);
      assert.deepEqual(racers.map((r) => r.exitCode).sort(), racers.some((r) => r.exitCode === 5) ? [0, 5] : [0, 0], describeStep(s));
      assert.ok(
        racers.some((r) => r.outcome === 'committed'),
        'one racer recovered and offloaded the window',
      );
      assert.equal(checkOf(s, 'rows-lost').numbers.lost, 0);
      assert.equal(checkOf(s, 'rows-duplicated').numbers.duplicated, 0);
      assert.ok(Number(checkOf(s, 'rows-lost').numbers.clickhouseRowsUpToWatermark) > 0);
      assert.equal(checkOf(s, 'no-run-left-running').numbers.running, 0);
      assert.ok(Number(checkOf(s, 'no-run-left-running').numbers.aborted) >= 1, 'the killed run was aborted by recovery');
    }
  });
});
