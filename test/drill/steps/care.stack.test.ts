// Every fault point of compaction and repair, on a bronze table: `offload compact` / `offload repair` dies
// there by SIGKILL, a plain offload recovers (the dead run found committed or aborted), the command runs again
// to its end, and no row is lost or duplicated — ClickHouse rows up to the watermark against the Iceberg rows,
// partition by partition — the watermark is the snapshot's, nothing is left running, pyiceberg reads the table.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runFaultDrill } from '../../../src/drill/fault-drill.js';
import type { DrillReport } from '../../../src/drill/report.js';
import { COMPACT_FAULT_POINTS, REPAIR_FAULT_POINTS } from '../../../src/pipeline/faults.js';
import { checkOf, describeStep, freshDrillStack, type DrillStack } from '../../support/drill-stack.js';

const TABLE = 'bronze_trades_binance';
const FAULTS = [...COMPACT_FAULT_POINTS, ...REPAIR_FAULT_POINTS];

let stack: DrillStack;
let report: DrillReport;

before(async () => {
  stack = await freshDrillStack('drillcare', { trades: 6_000, hours: 6 });
  report = await runFaultDrill({ tables: [TABLE], crash: [...FAULTS], transient: [], concurrent: null }, stack.options());
});

after(async () => {
  await stack?.drop();
});

describe('crash drill: every fault point of compaction and repair', () => {
  it('runs one step per fault point, and every invariant holds', () => {
    assert.deepEqual(
      report.steps.map((s) => s.fault),
      FAULTS,
    );
    for (const s of report.steps) assert.equal(s.outcome, 'held', describeStep(s));
    assert.equal(report.outcome, 'held');
    assert.equal(report.totals.invariantsBroken, 0);
  });

  it('kills offload compact / offload repair by SIGKILL at the armed point; a plain offload recovers and the command then succeeds', () => {
    for (const s of report.steps) {
      const killed = s.runs.find((r) => r.role === 'killed');
      assert.ok(killed, describeStep(s));
      assert.equal(killed.signal, 'SIGKILL', describeStep(s));
      assert.equal(killed.outcome, `killed at ${s.fault}`, 'the process said which fault point it died at');
      const recovery = s.runs.find((r) => r.role === 'recovery');
      assert.equal(recovery?.exitCode, 0, describeStep(s));
      const again = s.runs[s.runs.length - 1];
      assert.equal(again.role, 'run');
      assert.equal(again.exitCode, 0, describeStep(s));
    }
  });

  it('loses and duplicates nothing, and leaves no run running', () => {
    for (const s of report.steps) {
      const lost = checkOf(s, 'rows-lost');
      const dup = checkOf(s, 'rows-duplicated');
      assert.equal(lost.numbers.lost, 0, describeStep(s));
      assert.equal(dup.numbers.duplicated, 0, describeStep(s));
      assert.equal(dup.numbers.unexpected, 0, describeStep(s));
      assert.ok(Number(lost.numbers.clickhouseRowsUpToWatermark) > 0, describeStep(s));
      assert.equal(Number(lost.numbers.icebergRows), Number(lost.numbers.clickhouseRowsUpToWatermark), describeStep(s));
      assert.equal(checkOf(s, 'watermark-matches-snapshot').status, 'held', describeStep(s));
      const r = checkOf(s, 'no-run-left-running');
      assert.equal(r.numbers.running, 0, describeStep(s));
      // The killed run was resolved: committed when it died after COMMIT, aborted before.
      if (s.fault.endsWith('-after-commit')) assert.ok(Number(r.numbers.committed) >= 1, describeStep(s));
      else assert.ok(Number(r.numbers.aborted) >= 1, describeStep(s));
    }
  });

  it('repairs the partition it names', () => {
    for (const s of report.steps.filter((x) => x.fault.startsWith('repair-'))) assert.match(s.note, /^repaired \S+=\S+/, describeStep(s));
  });
});
