// A two-worker step: the worker holding the table dies at a fault while the other is turned away as busy;
// then two more race to recover; then every invariant is checked.
import { isTableLocked } from '../../state/locks.js';
import { UsageError } from '../../core/errors.js';
import { faultSimulates, type CrashFault } from '../catalogue.js';
import { isKilledAtFault } from '../child.js';
import { FaultProxy, targetOf, throughProxy } from '../fault-proxy.js';
import { brokenChecks, outcomeOfChecks, type ChildRun, type DrillOutcome, type DrillStep } from '../report.js';
import type { DrillSession, SandboxTable } from '../sandbox.js';

/** Polls `predicate` until it holds or `timeoutMs` has passed; whether it held. */
async function waitFor(predicate: () => Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function concurrentStep(
  session: DrillSession,
  index: number,
  s: SandboxTable,
  fault: CrashFault,
  cutoffSec: number | null,
): Promise<DrillStep> {
  const began = performance.now();
  const lagMs = cutoffSec === null ? null : session.lagFor(s.table, cutoffSec);
  const runsOut: ChildRun[] = [];
  const notes: string[] = [];
  let outcome: DrillOutcome = 'held';
  // Worker 1 reaches ClickHouse through a proxy: it checks its services, claims the table (PostgreSQL), and
  // the moment the drill sees the claim the proxy holds every ClickHouse byte, so worker 1 waits on its next
  // ClickHouse request for as long as the drill wants. (Held from the start, its service check before the
  // claim would wait instead.) Meanwhile worker 2 must be turned away as busy. Then the proxy lets go and
  // worker 1 runs on until it dies at the fault.
  const chUrl = session.options.env.CLICKHOUSE_URL;
  if (!chUrl) throw new UsageError('the two-worker drill needs CLICKHOUSE_URL (a proxy goes in front of it)');
  const proxy = await FaultProxy.start({ target: targetOf(chUrl), protocol: 'tcp' });
  let killed: ChildRun;
  try {
    let firstDone = false;
    const first = session.offload(index, 'killed', s, { fault, lagMs, env: { CLICKHOUSE_URL: throughProxy(chUrl, proxy) } }).then((r) => {
      firstDone = true;
      return r;
    });
    const claimed = await waitFor(async () => firstDone || (await isTableLocked(session.pool, s.table.name)), 60_000, 10);
    if (claimed) proxy.hold();
    const holds = claimed && !firstDone;
    if (holds) {
      const second = await session.offload(index, 'second-worker', s, { lagMs });
      runsOut.push(second);
      if (second.exitCode === 5) notes.push('the second worker was turned away as busy while the first held the table');
      else {
        outcome = 'broken';
        notes.push(`the second worker was not turned away while the first held the table: ${second.outcome}`);
      }
    } else {
      outcome = 'inconclusive';
      notes.push(`the first worker never held the table (${firstDone ? 'it ended first' : 'no lock within 60 s'})`);
    }
    proxy.release();
    killed = await first;
  } finally {
    proxy.release();
    await proxy.close();
  }
  runsOut.unshift(killed);
  if (!isKilledAtFault(killed)) {
    if (outcome === 'held') outcome = 'inconclusive';
    notes.push(`the first worker was not killed (${killed.outcome}): the fault point was not reached`);
  }
  // Two workers race to recover: one recovers and offloads, the other is busy or finds nothing left.
  const racers = await Promise.all([session.offload(index, 'racer', s, { lagMs }), session.offload(index, 'racer', s, { lagMs })]);
  runsOut.push(...racers);
  if (racers.some((r) => r.exitCode !== 0 && r.exitCode !== 5)) {
    outcome = 'broken';
    notes.push(`a recovering worker failed: ${racers.map((r) => r.outcome).join(' / ')}`);
  } else if (!racers.some((r) => r.exitCode === 0)) {
    outcome = 'broken';
    notes.push('neither recovering worker got the table');
  } else {
    notes.push(`recovering workers: ${racers.map((r) => r.outcome).join(' / ')}`);
  }
  const verification = await session.verify(index, s);
  if (outcomeOfChecks(verification) === 'broken') {
    outcome = 'broken';
    notes.push(brokenChecks(verification));
  }
  return {
    index,
    kind: 'concurrent',
    table: s.original.name,
    fault,
    simulates: `two workers on one table: the one holding it dies at ${fault} (${faultSimulates(fault, session.catalog.kind)}); the other must be turned away meanwhile, then two race to recover`,
    runs: runsOut,
    injected: null,
    verification,
    outcome,
    note: notes.join('; '),
    elapsedMs: Math.round(performance.now() - began),
  };
}
