// Crash steps of compaction and repair: the table is first offloaded (twice for compaction, so a partition
// holds several small files to rewrite), then `offload compact` or `offload repair` is started with its
// fault point armed and dies there by SIGKILL; a plain offload recovers (the dead run is found committed
// or aborted from the catalog), the compaction or repair is run again to its end, and then every
// invariant is checked — rows lost or duplicated first of all, since both rewrite the files that hold them.
import { readPartitionStats } from '../../iceberg/reader.js';
import { parseIdentifier } from '../../iceberg/types.js';
import { faultCommand } from '../../pipeline/faults.js';
import { FAULT_SIMULATES, type CrashFault } from '../catalogue.js';
import { isKilledAtFault } from '../child.js';
import { brokenChecks, outcomeOfChecks, type ChildRun, type DrillStep } from '../report.js';
import type { DrillSession, SandboxTable } from '../sandbox.js';

/** Any partition with two small files is compacted in a drill: the sandbox's policy, whatever the table's. */
const DRILL_COMPACTION = { compaction: { minFiles: 2, smallFileRatio: 1 } };

/** The newest partition of the sandbox table in Iceberg (by path), or null when it has none. */
async function newestPartition(session: DrillSession, s: SandboxTable): Promise<string | null> {
  const table = await session.catalog.loadTable(parseIdentifier(s.table.target));
  if (!table) return null;
  const stats = await readPartitionStats(session.io, table.metadata);
  return stats.length > 0 ? stats[stats.length - 1].path : null;
}

export async function careCrashStep(
  session: DrillSession,
  index: number,
  s: SandboxTable,
  fault: CrashFault,
  cutoffSec: number | null,
  previousCutoffSec: number | null,
): Promise<DrillStep> {
  const began = performance.now();
  const verb = faultCommand(fault) === 'compact' ? 'compact' : 'repair';
  const lagMs = cutoffSec === null ? null : session.lagFor(s.table, cutoffSec);
  const runs: ChildRun[] = [];
  // Setup: the step's slice offloaded, in two commits for compaction (two files in its partitions).
  const mid = verb === 'compact' && cutoffSec !== null ? await session.midpoint(s.table, previousCutoffSec, cutoffSec) : null;
  if (mid !== null) runs.push(await session.offload(index, 'run', s, { lagMs: session.lagFor(s.table, mid) }));
  runs.push(await session.offload(index, 'run', s, { lagMs }));
  const partition = verb === 'repair' ? await newestPartition(session, s) : null;
  const args = partition !== null ? ['--partition', partition] : [];
  const child = { verb, args, lagMs, config: DRILL_COMPACTION } as const;

  let note = '';
  const killed = verb === 'repair' && partition === null ? null : await session.offload(index, 'killed', s, { ...child, fault });
  if (killed) runs.push(killed);
  // After the kill: a plain offload recovers the dead run, then the compaction or repair runs to its end.
  const recovery = await session.offload(index, 'recovery', s, { lagMs });
  runs.push(recovery);
  const again = killed ? await session.offload(index, 'run', s, child) : null;
  if (again) runs.push(again);
  const verification = await session.verify(index, s);
  let outcome = outcomeOfChecks(verification);
  if (!killed || !isKilledAtFault(killed)) {
    outcome = outcome === 'broken' ? 'broken' : 'inconclusive';
    note = killed
      ? `the ${verb} was not killed (${killed.outcome}): the fault point was not reached`
      : 'the table had no partition to repair';
  } else if (recovery.exitCode !== 0) {
    outcome = 'broken';
    note = `the recovery run did not succeed: ${recovery.outcome}`;
  } else if (again && again.exitCode !== 0) {
    outcome = 'broken';
    note = `the ${verb} after recovery did not succeed: ${again.outcome}`;
  }
  if (outcome === 'broken' && !note) note = brokenChecks(verification);
  if (outcome === 'held' && partition) note = `repaired ${partition}`;
  return {
    index,
    kind: 'crash',
    table: s.original.name,
    fault,
    simulates: FAULT_SIMULATES[fault],
    runs,
    injected: null,
    verification,
    outcome,
    note,
    elapsedMs: Math.round(performance.now() - began),
  };
}
