// A crash step: the run is started with a fault point armed and dies there by SIGKILL (a real kill, not a
// thrown exception); the next run recovers; then every invariant is checked.
import { faultSimulates, type CrashFault } from '../catalogue.js';
import { isKilledAtFault } from '../child.js';
import { brokenChecks, outcomeOfChecks, type ChildRun, type DrillStep } from '../report.js';
import type { DrillSession, SandboxTable } from '../sandbox.js';

export async function crashStep(
  session: DrillSession,
  index: number,
  s: SandboxTable,
  fault: CrashFault,
  cutoffSec: number | null,
): Promise<DrillStep> {
  const began = performance.now();
  const lagMs = cutoffSec === null ? null : session.lagFor(s.table, cutoffSec);
  const runsOut: ChildRun[] = [];
  const killed = await session.offload(index, 'killed', s, { fault, lagMs });
  runsOut.push(killed);
  // After the kill: a run without faults must recover and end cleanly.
  const recovery = await session.offload(index, 'recovery', s, { lagMs });
  runsOut.push(recovery);
  const verification = await session.verify(index, s);
  let outcome = outcomeOfChecks(verification);
  let note = '';
  if (!isKilledAtFault(killed)) {
    outcome = outcome === 'broken' ? 'broken' : 'inconclusive';
    note = `the run was not killed (${killed.outcome}): the fault point was not reached`;
  } else if (recovery.exitCode !== 0) {
    outcome = 'broken';
    note = `the recovery run did not succeed: ${recovery.outcome}`;
  }
  if (outcome === 'broken' && !note) note = brokenChecks(verification);
  return {
    index,
    kind: 'crash',
    table: s.original.name,
    fault,
    simulates: faultSimulates(fault, session.catalog.kind),
    runs: runsOut,
    injected: null,
    verification,
    outcome,
    note,
    elapsedMs: Math.round(performance.now() - began),
  };
}
