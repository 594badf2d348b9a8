// The drills on the stack's Iceberg REST catalog, through the built CLI as an operator runs them with one
// setting changed (OFFLOAD_CATALOG_URI): `offload drill --all-faults` on a table (every crash fault point,
// every transient fault of a REST catalog including rest-drop — the commit's answer lost after the server
// applied it — and two workers) and a random drill. Every invariant holds, pyiceberg reading through the
// REST catalog.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { CRASH_FAULTS, transientFaultsFor } from '../../src/drill/catalogue.js';
import type { DrillReport } from '../../src/drill/report.js';
import { CLI } from '../support/cli-stack.js';
import { checkOf, describeStep, freshDrillStack, type DrillStack } from '../support/drill-stack.js';
import { restCatalogEnv, restCatalogSkip } from '../support/rest-catalog.js';

let stack: DrillStack;

/** `offload drill … --json`: its report, which must say every invariant held (else the steps that did not). */
const drill = async (args: string[]): Promise<DrillReport> => {
  const r = await execa(process.execPath, [CLI, 'drill', ...args, '--json'], {
    env: stack.env,
    extendEnv: false,
    reject: false,
    timeout: 1_200_000,
  });
  let report: DrillReport;
  try {
    report = JSON.parse(String(r.stdout)) as DrillReport;
  } catch {
    assert.fail(`drill ${args.join(' ')}: exit ${r.exitCode}, no report\n${String(r.stderr).slice(-3000)}`);
  }
  const notHeld = report.steps.filter((s) => s.outcome !== 'held').map(describeStep);
  assert.equal(report.outcome, 'held', notHeld.join('\n'));
  assert.equal(r.exitCode, 0, String(r.stderr).slice(-1000));
  return report;
};

describe('offload drill on the REST catalog', { skip: restCatalogSkip || undefined, concurrency: 1 }, () => {
  before(async () => {
    stack = await freshDrillStack('drillrest', { trades: 12_000, hours: 3 }, { env: restCatalogEnv() });
  });
  after(async () => {
    await stack?.drop();
  });

  it('--all-faults on a table: every crash and transient fault and two workers, every invariant held', async () => {
    const report = await drill(['--all-faults', '--tables', 'bronze_trades_kraken']);
    assert.match(report.environment.catalog ?? '', /REST/i, 'the drill ran on the REST catalog');
    const faults = report.steps.map((s) => s.fault);
    for (const f of [...CRASH_FAULTS, ...transientFaultsFor('rest')])
      assert.ok(faults.includes(f), `a step for ${f}: ${faults.join(', ')}`);
    for (const s of report.steps) {
      assert.equal(s.outcome, 'held', describeStep(s));
      assert.equal(checkOf(s, 'rows-lost').numbers.lost, 0, describeStep(s));
      assert.equal(checkOf(s, 'rows-duplicated').numbers.duplicated, 0, describeStep(s));
      assert.equal(checkOf(s, 'no-run-left-running').numbers.running, 0, describeStep(s));
    }
    const restDrop = report.steps.find((s) => s.fault === 'rest-drop')!;
    assert.ok((restDrop.injected ?? 0) >= 1, `a commit's answer was dropped after the server applied it: ${describeStep(restDrop)}`);
    assert.equal(report.totals.invariantsBroken, 0);
    assert.ok(report.totals.kills >= CRASH_FAULTS.length, `a SIGKILL per crash fault: ${report.totals.kills}`);
  });

  it('--random: kills at random fault points while trades arrive, then every invariant holds', async () => {
    const report = await drill(['--random', '8', '--seed', '5', '--tables', 'bronze_trades_binance,silver_trades', '--trades-rate', '50']);
    assert.equal(report.totals.kills, 8);
    for (const s of report.steps) assert.notEqual(s.outcome, 'broken', describeStep(s));
    assert.equal(report.totals.invariantsBroken, 0);
  });
});
