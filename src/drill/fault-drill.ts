// Failure-recovery drills: kill the offload on purpose and prove that nothing was lost or duplicated.
//
// A drill never touches the configured tables: it offloads their sources into a sandbox (sandbox.ts). Every
// offload is a real `offload run --table T --json` child process (child.ts). A fault drill is a list of
// steps per table (steps/):
//
//   crash      the run is started with a fault point armed and dies there by SIGKILL (a real kill, not a
//              thrown exception); the next run recovers; then the invariants are checked (src/verify/).
//   transient  the run talks to one service through the fault proxy (fault-proxy.ts): S3 errors or stalls,
//              a PostgreSQL COMMIT whose answer is lost, a ClickHouse response reset mid-stream. It must
//              retry what is safe to retry or fail cleanly; the next run recovers; then the checks.
//   concurrent two workers on one table: the one holding the table dies at a fault, the other is turned
//              away as busy while it holds it, then two more race to recover; then the checks.
//
// Random drills (N kills while new trades arrive) are random-drill.ts.
//
// Each crash/transient/concurrent step gets a fresh slice of the source's history to work on: the drill
// sets the sandbox's lag so the run's cutoff (now − lag) falls at the next quantile of the cursor column,
// so every armed fault point is reached with real rows in flight, whatever state the sources are in.
import { UsageError } from '../core/errors.js';
import { mapLimit } from '../core/concurrency.js';
import { faultSimulates, type CrashFault, type TransientFault } from './catalogue.js';
import { buildReport, type DrillReport, type DrillStep } from './report.js';
import { DrillSession, type DrillOptions } from './sandbox.js';
import { concurrentStep } from './steps/concurrent.js';
import { crashStep } from './steps/crash.js';
import { transientStep } from './steps/transient.js';

export interface FaultDrillPlan {
  /** Configured table names. */
  tables: string[];
  crash: CrashFault[];
  transient: TransientFault[];
  /** Also a two-worker step per table, with this fault on the first worker. */
  concurrent: CrashFault | null;
}

export interface PlannedStep {
  index: number;
  kind: 'crash' | 'transient' | 'concurrent';
  table: string;
  fault: CrashFault | TransientFault;
}

export function planFaultSteps(plan: FaultDrillPlan): PlannedStep[] {
  const out: PlannedStep[] = [];
  let index = 0;
  for (const table of plan.tables) {
    for (const fault of plan.crash) out.push({ index: ++index, kind: 'crash', table, fault });
    for (const fault of plan.transient) out.push({ index: ++index, kind: 'transient', table, fault });
    if (plan.concurrent) out.push({ index: ++index, kind: 'concurrent', table, fault: plan.concurrent });
  }
  return out;
}

/**
 * Crash, transient and concurrency drills on each table: every step kills or disturbs a run, recovers,
 * and checks every invariant with its numbers. Tables are drilled side by side, steps of one table in order.
 */
export async function runFaultDrill(plan: FaultDrillPlan, options: DrillOptions): Promise<DrillReport> {
  if (plan.tables.length === 0) throw new UsageError('drill: no tables to drill');
  const startedAt = new Date();
  const session = new DrillSession(options, plan.tables);
  const steps = planFaultSteps(plan);
  const done: DrillStep[] = [];
  try {
    await session.prepare();
    session.emit({ kind: 'drill-started', drill: 'faults', steps: steps.length, tables: plan.tables, sandbox: session.namespace });
    // At least one table at a time, whatever `parallelTables` says.
    await mapLimit(plan.tables, Math.max(1, options.parallelTables ?? 3), async (name) => {
      const s = session.sandbox(name);
      const mine = steps.filter((p) => p.table === name);
      const cutoffs = await session.cutoffs(s.table, mine.length);
      if (cutoffs.length < mine.length) {
        session.log(
          'warn',
          `${name}: the source has too few distinct cursor values for ${mine.length} slices (${cutoffs.length}); later steps work on what is left`,
        );
      }
      for (const [i, p] of mine.entries()) {
        if (options.signal?.aborted) break;
        const cutoff = cutoffs[Math.min(i, cutoffs.length - 1)] ?? null;
        session.emit({
          kind: 'step-started',
          index: p.index,
          total: steps.length,
          table: name,
          fault: p.fault,
          step: p.kind,
          simulates: faultSimulates(p.fault, session.catalog.kind),
        });
        let step: DrillStep;
        try {
          step =
            p.kind === 'crash'
              ? await crashStep(session, p.index, s, p.fault as CrashFault, cutoff)
              : p.kind === 'transient'
                ? await transientStep(session, p.index, s, p.fault as TransientFault, cutoff)
                : await concurrentStep(session, p.index, s, p.fault as CrashFault, cutoff);
        } catch (err) {
          step = {
            index: p.index,
            kind: p.kind,
            table: name,
            fault: p.fault,
            simulates: faultSimulates(p.fault, session.catalog.kind),
            runs: [],
            injected: null,
            verification: null,
            outcome: 'broken',
            note: `the step could not run: ${session.scrub((err as Error).message)}`,
            elapsedMs: 0,
          };
        }
        done.push(step);
        session.emit({ kind: 'step-finished', step });
      }
    });
  } finally {
    await session.cleanUp().catch((err) => session.log('warn', `cleaning up the sandbox: ${(err as Error).message}`));
    await session.close();
  }
  done.sort((a, b) => a.index - b.index);
  const report = buildReport('faults', startedAt, session.environment(), done, [], 0, {
    tables: plan.tables,
    crashFaults: [...plan.crash],
    transientFaults: [...plan.transient],
    concurrent: plan.concurrent,
    keepSandbox: options.keepSandbox === true,
  });
  // Stopped before every step ran: what ran is reported, but the drill proved less than asked.
  if (done.length < steps.length && report.outcome === 'held') report.outcome = 'inconclusive';
  session.emit({ kind: 'drill-finished', report });
  return report;
}
