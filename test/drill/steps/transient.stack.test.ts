// Transient faults in front of the real services (the loopback fault proxy): S3 errors and timeouts, a
// PostgreSQL COMMIT whose answer is lost, a ClickHouse response reset mid-stream. The run under the fault
// retries or fails cleanly (a documented exit code, never a crash or a hang), the next run recovers, and
// no row is lost or duplicated.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TRANSIENT_FAULTS } from '../../../src/drill/catalogue.js';
import { runFaultDrill } from '../../../src/drill/fault-drill.js';
import type { DrillReport } from '../../../src/drill/report.js';
import { checkOf, describeStep, freshDrillStack, type DrillStack } from '../../support/drill-stack.js';

let stack: DrillStack;
let report: DrillReport;

before(async () => {
  stack = await freshDrillStack('drilltransient', { trades: 12_000, hours: 6 });
  // Every transient fault on a bronze table, and the ambiguous commit on a gold one too.
  report = await runFaultDrill(
    { tables: ['bronze_trades_kraken'], crash: [], transient: [...TRANSIENT_FAULTS], concurrent: null },
    stack.options(),
  );
  const gold = await runFaultDrill({ tables: ['ohlcv_5m'], crash: [], transient: ['pg-drop'], concurrent: null }, stack.options());
  report.steps.push(...gold.steps.map((s) => ({ ...s, index: report.steps.length + s.index })));
});

after(async () => {
  await stack?.drop();
});

describe('transient-fault drill', () => {
  it('injects each fault, and every invariant holds afterwards', () => {
    assert.deepEqual(
      report.steps.map((s) => `${s.table}:${s.fault}`),
      [...TRANSIENT_FAULTS.map((f) => `bronze_trades_kraken:${f}`), 'ohlcv_5m:pg-drop'],
    );
    for (const s of report.steps) {
      assert.equal(s.outcome, 'held', describeStep(s));
      assert.ok((s.injected ?? 0) >= 1, `${s.fault}: injected ${s.injected} time(s)`);
      assert.equal(checkOf(s, 'rows-lost').numbers.lost, 0);
      assert.equal(checkOf(s, 'rows-duplicated').numbers.duplicated, 0);
      assert.ok(Number(checkOf(s, 'rows-lost').numbers.clickhouseRowsUpToWatermark) > 0, describeStep(s));
    }
  });

  it('the run under the fault retries or fails cleanly; the next run succeeds', () => {
    for (const s of report.steps) {
      const [faulty, recovery] = s.runs;
      assert.equal(faulty.role, 'faulty');
      assert.equal(faulty.signal, null, `${s.fault}: no crash, no hang (${faulty.outcome})`);
      assert.notEqual(faulty.exitCode, 70, `${s.fault}: not an internal error (${faulty.outcome})`);
      assert.ok([0, 1, 4, 6].includes(faulty.exitCode!), `${s.fault}: a documented exit code (${faulty.outcome})`);
      assert.equal(recovery.exitCode, 0, describeStep(s));
    }
  });

  it('S3 errors and timeouts on data uploads are retried: the run commits', () => {
    for (const fault of ['s3-500', 's3-503', 's3-timeout']) {
      const s = report.steps.find((x) => x.fault === fault)!;
      assert.equal(s.runs[0].exitCode, 0, describeStep(s));
      assert.equal(s.runs[0].outcome, 'committed');
    }
  });

  it("a COMMIT whose answer is lost committed exactly once: the watermark is the snapshot's and nothing is redone twice", () => {
    for (const s of report.steps.filter((x) => x.fault === 'pg-drop')) {
      assert.equal(checkOf(s, 'watermark-matches-snapshot').status, 'held', describeStep(s));
      const runs = checkOf(s, 'no-run-left-running');
      assert.equal(runs.numbers.running, 0);
      assert.equal(checkOf(s, 'rows-duplicated').numbers.duplicated, 0);
    }
  });
});
