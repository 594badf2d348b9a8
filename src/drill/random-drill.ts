// Random drills: N kills at random fault points across repeated offloads of random tables, while new trades
// keep arriving in the sources (the seed data generator); the checks after the last one.
import { followTrades } from '../dev/seed.js';
import { Random } from '../dev/trades.js';
import { UsageError } from '../core/errors.js';
import { CRASH_FAULTS, faultSimulates, type CrashFault } from './catalogue.js';
import { isKilledAtFault } from './child.js';
import { buildReport, type ChildRun, type DrillReport, type DrillStep } from './report.js';
import { DrillSession, type DrillOptions } from './sandbox.js';

export interface RandomDrillPlan {
  kills: number;
  seed: string;
  tables: string[];
  /** Trades per second inserted into the seed schema while the drill runs (0: none). */
  tradesPerSec: number;
  /** When the sources are not the seed schema: run without new trades (true) instead of refusing (default). */
  isTradesOptional?: boolean;
  /** The sandbox's lag during the random drill (default 5 s): new trades become eligible quickly. */
  lagMs: number;
  /** Give up when this many runs did not reach their fault (default 4 × kills + 10). */
  maxAttempts?: number;
}

/** In a random drill, the share of offloads that run without a fault (and the label of their steps). */
export const CLEAN_RUN_SHARE = 0.25;
export const CLEAN_RUN = 'none (clean run)';

/** The seed schema's database the sources read from (where generated trades go), or null. */
async function seedDatabaseOf(session: DrillSession): Promise<string | null> {
  const candidates = new Set<string>();
  for (const t of session.options.config.tables)
    if (t.sourceTable && /^bronze_trades_/.test(t.sourceTable.table)) candidates.add(t.sourceTable.database);
  for (const db of candidates) {
    if (await session.clickhouse.tableExists({ database: db, table: 'bronze_trades_binance' })) return db;
  }
  return null;
}

/**
 * N kills at random fault points across repeated offloads of the tables (side by side) while trades keep
 * arriving; after each kill the table's next run recovers what it finds; at the end every table gets a
 * clean run and every invariant is checked.
 */
export async function runRandomDrill(plan: RandomDrillPlan, options: DrillOptions): Promise<DrillReport> {
  if (plan.tables.length === 0) throw new UsageError('drill: no tables to drill');
  if (!(plan.kills > 0)) throw new UsageError('drill --random: the number of kills must be at least 1');
  const startedAt = new Date();
  const session = new DrillSession(options, plan.tables);
  const steps: DrillStep[] = [];
  const final: DrillReport['final'] = [];
  let tradesInserted = 0;
  const stopTrades = new AbortController();
  let trades: Promise<number> | null = null;
  try {
    await session.prepare();
    if (plan.tradesPerSec > 0) {
      const database = await seedDatabaseOf(session);
      if (!database && !plan.isTradesOptional)
        throw new UsageError(
          'drill --random: new trades go into the seed schema (bronze_trades_*), which the configured sources are not; use --trades-rate 0',
        );
      if (!database) session.log('warn', 'the sources are not the seed schema: no new trades arrive during this drill');
      else session.log('info', `inserting about ${plan.tradesPerSec} trades/s into ${database} while the drill runs`);
      trades = !database
        ? null
        : followTrades(session.clickhouse, {
            rate: plan.tradesPerSec,
            database,
            seed: `drill/${plan.seed}`,
            intervalMs: 250,
            signal: stopTrades.signal,
            onBatch: (_n, total) => {
              tradesInserted = total;
              session.emit({ kind: 'trades', inserted: total });
            },
          });
    }
    session.emit({ kind: 'drill-started', drill: 'random', steps: plan.kills, tables: plan.tables, sandbox: session.namespace });
    const maxAttempts = plan.maxAttempts ?? plan.kills * 4 + 10;
    let kills = 0;
    let inFlight = 0;
    let attempts = 0;
    let index = 0;
    // Every table has its own loop of offloads, side by side (as several workers would run them); each
    // offload gets a random fault point. A loop starts an offload only while the kills so far plus the
    // offloads in flight are fewer than asked, so the drill ends with exactly `kills` kills.
    const loop = async (name: string, random: Random) => {
      const s = session.sandbox(name);
      while (kills + inFlight < plan.kills && attempts < maxAttempts && !options.signal?.aborted) {
        attempts++;
        // About one offload in four runs without a fault and commits what is pending, so kills land on
        // tables with history as well as on first windows and on recoveries.
        const isClean = random.next() < CLEAN_RUN_SHARE;
        const fault: CrashFault | null = isClean ? null : CRASH_FAULTS[random.int(CRASH_FAULTS.length)];
        if (!isClean) inFlight++;
        const i = ++index;
        const label = fault ?? CLEAN_RUN;
        const simulates = fault
          ? faultSimulates(fault, session.catalog.kind)
          : 'an offload without a fault: it recovers what the last kill left and commits what is pending';
        session.emit({ kind: 'step-started', index: i, total: plan.kills, table: name, fault: label, step: 'random', simulates });
        const began = performance.now();
        let run: ChildRun;
        try {
          run = await session.offload(i, fault ? 'killed' : 'run', s, { fault, lagMs: plan.lagMs });
        } finally {
          if (!isClean) inFlight--;
        }
        const step: DrillStep = {
          index: i,
          kind: 'random',
          table: name,
          fault: label,
          simulates,
          runs: [run],
          injected: null,
          verification: null,
          outcome: 'held',
          note: '',
          elapsedMs: 0,
        };
        let rest = 0;
        if (isClean) {
          if (run.exitCode === 0) step.note = `clean run: ${run.outcome}`;
          else {
            step.outcome = 'broken';
            step.note = `a clean offload failed: ${run.outcome}`;
          }
        } else if (isKilledAtFault(run)) {
          kills++;
          step.note = `kill ${kills} of ${plan.kills}`;
        } else if (run.exitCode === 0) {
          step.note = `the run ended before the fault point (${run.outcome})`;
          // Nothing new yet (aggregates close a window a minute at best): let trades arrive first.
          if (/up.to.date/i.test(run.outcome)) rest = 3_000;
        } else {
          step.outcome = 'broken';
          step.note = `an offload failed: ${run.outcome}`;
          rest = 1_000;
        }
        step.elapsedMs = Math.round(performance.now() - began);
        steps.push(step);
        session.emit({ kind: 'step-finished', step });
        if (rest > 0) await new Promise((r) => setTimeout(r, rest));
      }
    };
    await Promise.all(plan.tables.map((name) => loop(name, new Random(`drill/${plan.seed}/${name}`))));
    steps.sort((a, b) => a.index - b.index);
    if (kills < plan.kills) session.log('warn', `only ${kills} of ${plan.kills} kills in ${attempts} runs`);

    // The end: trades stop, every table gets a clean run (it recovers what the last kill left), then the checks.
    stopTrades.abort();
    if (trades) tradesInserted = await trades;
    trades = null;
    for (const name of plan.tables) {
      const s = session.sandbox(name);
      index++;
      const run = await session.offload(index, 'recovery', s, { lagMs: plan.lagMs });
      const verification = await session.verify(index, s);
      if (run.exitCode !== 0) {
        verification.checks.push({
          name: 'no-run-left-running',
          status: 'broken',
          numbers: { exitCode: run.exitCode },
          detail: `the final recovery run failed: ${run.outcome}`,
        });
      }
      final.push({ table: name, verification });
    }
  } finally {
    stopTrades.abort();
    if (trades) tradesInserted = await trades.catch(() => tradesInserted);
    await session.cleanUp().catch((err) => session.log('warn', `cleaning up the sandbox: ${(err as Error).message}`));
    await session.close();
  }
  const report = buildReport('random', startedAt, session.environment(), steps, final, tradesInserted, {
    kills: plan.kills,
    seed: plan.seed,
    tables: plan.tables,
    tradesPerSec: plan.tradesPerSec,
    lag: `${plan.lagMs}ms`,
    keepSandbox: options.keepSandbox === true,
  });
  if (report.totals.kills < plan.kills && report.outcome === 'held') report.outcome = 'inconclusive';
  session.emit({ kind: 'drill-finished', report });
  return report;
}
