// `offload drill`: kill the offload on purpose and prove exactly-once recovery (src/drill/).
//   offload drill --table T --fault P            one crash fault (or --transient F, or --concurrent)
//   offload drill --all-faults [--tables a,b]    every crash and transient fault, plus a two-worker step, per table
//   offload drill --random N --seed S            N kills at random points while new trades arrive
// Prints each step and each invariant with its numbers (or one JSON document with --json), writes the
// report as JSON and Markdown with --report <dir>, and exits 7 when an invariant broke.
import { InvalidArgumentError, type Command } from 'commander';
import { catalogFromEnv } from '../config/catalog.js';
import { durationMs, loadTablesConfig, findTable } from '../config/tables.js';
import { ExitCode, UsageError } from '../core/errors.js';
import { checkLine, writeReport, type DrillReport } from '../drill/report.js';
import {
  CRASH_FAULTS,
  crashFaultsFor,
  REST_TRANSIENT_FAULTS,
  TRANSIENT_FAULTS,
  defaultDrillTables,
  isCrashFault,
  isOffloadCrashFault,
  isTransientFault,
  OFFLOAD_CRASH_FAULTS,
  transientFaultsFor,
  type CrashFault,
  type TransientFault,
} from '../drill/catalogue.js';
import { cleanLeftoverSandboxes } from '../drill/cleanup.js';
import type { DrillEvent } from '../drill/events.js';
import { runFaultDrill } from '../drill/fault-drill.js';
import { runRandomDrill } from '../drill/random-drill.js';
import type { ServiceName } from '../core/errors.js';
import type { Env } from '../config/env.js';
import { openServices } from '../pipeline/services.js';
import type { LogFields } from './log-format.js';
import { formatCount, formatSeconds, logLine, printJson, println, type CommandContext } from './output.js';

export interface DrillCliOptions {
  config?: string;
  table?: string;
  tables?: string;
  fault?: string;
  transient?: string;
  concurrent?: boolean;
  allFaults?: boolean;
  random?: number;
  seed: string;
  tradesRate: number;
  lag: string;
  transientFaults: boolean;
  keep?: boolean;
  pyiceberg: boolean;
  report?: string;
  json?: boolean;
  clean?: boolean;
  minAge: string;
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

function nonNegative(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number ≥ 0');
  return n;
}

function listOf(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Progress as the drill goes: one block per step, one line per invariant. */
function progressPrinter(ctx: CommandContext, isJson: boolean): (e: DrillEvent) => void {
  const out = isJson ? ctx.stderr : ctx.stdout;
  const randomSteps = new Map<number, string>();
  // The event being printed: what its JSON log record says besides the line.
  let fields: LogFields = {};
  const say = (text: string, to = out) => logLine(to, text, fields);
  return (e) => {
    fields = {
      event: e.kind,
      table: 'table' in e ? e.table : 'run' in e ? e.run.table : undefined,
      level: e.kind === 'log' ? e.level : 'info',
    };
    switch (e.kind) {
      case 'drill-started':
        say(
          `drill: ${e.drill === 'random' ? `${e.steps} random kills` : `${e.steps} steps`} on ${e.tables.join(', ')} (sandbox namespace ${e.sandbox})`,
        );
        return;
      case 'step-started':
        if (e.step === 'random') {
          randomSteps.set(e.index, `[${e.index}] ${e.table} · ${e.fault}`);
          return;
        }
        say(`\n[${e.index}/${e.total}] ${e.table} · ${e.fault}${e.step === 'concurrent' ? ' (two workers)' : ''} — ${e.simulates}`);
        return;
      case 'child-exited': {
        const r = e.run;
        const label = randomSteps.get(e.index);
        if (label && (r.role === 'killed' || r.role === 'run')) {
          say(`${label}: ${r.outcome} (${formatSeconds(r.durationMs)})`);
          return;
        }
        say(
          `  ${r.role.padEnd(13)} ${r.outcome}${r.rows !== null ? ` · ${formatCount(r.rows)} rows` : ''} (${formatSeconds(r.durationMs)})`,
        );
        return;
      }
      case 'fault-injected':
        say(`  injected      ${e.detail}`);
        return;
      case 'check':
        say(`  ${checkLine(e.check)}`);
        return;
      case 'step-finished':
        if (e.step.kind === 'random') return;
        say(`  → ${e.step.outcome}${e.step.note ? `: ${e.step.note}` : ''} (${formatSeconds(e.step.elapsedMs)})`);
        return;
      case 'log':
        say(`drill: ${e.message}`, ctx.stderr);
        return;
      default:
        return;
    }
  };
}

function printSummary(ctx: CommandContext, report: DrillReport): void {
  const t = report.totals;
  println(ctx.stdout);
  println(
    ctx.stdout,
    `drill ${report.outcome === 'held' ? 'passed: every invariant held' : report.outcome === 'broken' ? 'FAILED: an invariant was broken' : 'inconclusive'}` +
      ` — ${t.steps} steps, ${t.kills} kills (SIGKILL), ${t.transientInjected} transient faults injected, ${t.offloadProcesses} offload processes;` +
      ` ${t.invariantsHeld}/${t.invariantsChecked} invariants held${t.invariantsSkipped ? ` (${t.invariantsSkipped} skipped)` : ''};` +
      ` ${formatCount(t.rowsChecked)} rows compared${t.tradesInserted ? `; ${formatCount(t.tradesInserted)} trades arrived meanwhile` : ''}; ${formatSeconds(report.elapsedMs)}`,
  );
  for (const s of report.steps.filter((x) => x.outcome !== 'held'))
    println(ctx.stdout, `  ${s.outcome}: step ${s.index} ${s.table} ${s.fault}: ${s.note}`);
  for (const f of report.final) {
    println(ctx.stdout, `final checks of ${f.table}:`);
    for (const c of f.verification.checks) println(ctx.stdout, `  ${checkLine(c)}`);
  }
}

/**
 * The services a drill needs, checked before it starts: a drill against a service that is down would only
 * report invariants it could not check (and leave a sandbox it cannot remove); one line and 3 or 4 instead.
 */
async function requireServices(env: Env, purpose: 'drill' | 'drill --clean', needs: readonly ServiceName[]): Promise<void> {
  const services = openServices(env, purpose);
  try {
    await services.require(needs);
  } finally {
    await services.close();
  }
}

/** `offload drill --clean`: removes sandboxes that drills killed before their own cleanup left behind. */
async function clean(options: DrillCliOptions, ctx: CommandContext): Promise<void> {
  const minAgeMs = durationMs(options.minAge);
  if (minAgeMs === null) throw new UsageError(`--min-age: "${options.minAge}" is not a duration (e.g. 1h, 30m, 0s)`);
  await requireServices(ctx.env, 'drill --clean', ['PostgreSQL', 'S3']);
  const r = await cleanLeftoverSandboxes({ env: ctx.env, minAgeMs });
  if (options.json) printJson(ctx.stdout, r);
  else
    println(
      ctx.stdout,
      r.namespaces.length === 0 && r.watermarkRows === 0
        ? `no drill sandbox older than ${options.minAge} left behind`
        : `removed ${r.namespaces.length} sandbox namespace(s) (${r.namespaces.join(', ') || '—'}): ${r.tables} table(s), ${formatCount(r.files)} file(s), ${r.watermarkRows} watermark row(s), ${r.runRows} run row(s)`,
    );
}

export async function drill(options: DrillCliOptions, ctx: CommandContext): Promise<DrillReport | null> {
  if (options.clean) {
    await clean(options, ctx);
    return null;
  }
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  // The transient faults that apply to the configured catalog (a REST catalog adds its lost commit answer).
  const transientFaults = transientFaultsFor(catalogFromEnv(ctx.env).kind);
  const modes = [
    options.fault || options.transient ? 'fault' : null,
    options.allFaults ? 'all' : null,
    options.random !== undefined ? 'random' : null,
  ].filter(Boolean);
  if (modes.length !== 1) {
    throw new UsageError(
      'drill: choose one of --fault P / --transient F (with --table T), --all-faults, or --random N (see `offload drill --help`)',
    );
  }
  const tables = options.table ? [options.table, ...listOf(options.tables)] : listOf(options.tables);
  for (const t of tables) findTable(config, t);
  await requireServices(ctx.env, 'drill', ['PostgreSQL', 'ClickHouse', 'S3']);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const common = {
    config,
    env: ctx.env,
    onEvent: progressPrinter(ctx, options.json === true),
    signal: controller.signal,
    keepSandbox: options.keep === true,
    pyiceberg: options.pyiceberg,
  };
  let report: DrillReport;
  try {
    if (options.random !== undefined) {
      const lagMs = durationMs(options.lag);
      if (lagMs === null) throw new UsageError(`--lag: "${options.lag}" is not a duration (e.g. 5s)`);
      report = await runRandomDrill(
        {
          kills: options.random,
          seed: options.seed,
          tables: tables.length > 0 ? tables : defaultDrillTables(config),
          tradesPerSec: options.tradesRate,
          lagMs,
        },
        common,
      );
    } else if (options.allFaults) {
      report = await runFaultDrill(
        {
          tables: tables.length > 0 ? tables : defaultDrillTables(config),
          crash: crashFaultsFor(catalogFromEnv(ctx.env).kind),
          transient: options.transientFaults ? transientFaults : [],
          concurrent: 'mid-extract',
        },
        common,
      );
    } else {
      if (tables.length === 0) throw new UsageError('drill: --fault and --transient need --table T');
      const crash: CrashFault[] = [];
      const transient: TransientFault[] = [];
      for (const f of listOf(options.fault)) {
        if (!isCrashFault(f)) throw new UsageError(`--fault: "${f}" is not a fault point (${CRASH_FAULTS.join(', ')})`);
        const ofCatalog = crashFaultsFor(catalogFromEnv(ctx.env).kind);
        if (!ofCatalog.includes(f))
          throw new UsageError(
            `--fault: "${f}" is not a fault point on this catalog (${ofCatalog.join(', ')}): compact and repair need the JDBC catalog`,
          );
        crash.push(f);
      }
      for (const f of listOf(options.transient)) {
        if (!isTransientFault(f) || !transientFaults.includes(f))
          throw new UsageError(`--transient: "${f}" is not a transient fault of this catalog (${transientFaults.join(', ')})`);
        transient.push(f);
      }
      const concurrent = options.concurrent ? (crash.shift() ?? 'mid-extract') : null;
      if (concurrent && !isOffloadCrashFault(concurrent))
        throw new UsageError(`--concurrent: "${concurrent}" is not a fault point of the offload (${OFFLOAD_CRASH_FAULTS.join(', ')})`);
      report = await runFaultDrill({ tables, crash, transient, concurrent }, common);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  if (options.report) {
    const paths = await writeReport(report, options.report);
    println(ctx.stderr, `drill: report written to ${paths.markdown} and ${paths.json}`);
  }
  if (options.json) printJson(ctx.stdout, report);
  else printSummary(ctx, report);
  ctx.exitCode = report.outcome === 'held' ? ExitCode.ok : report.outcome === 'broken' ? ExitCode.invariant : ExitCode.failed;
  return report;
}

export function registerDrill(program: Command, ctx: CommandContext): void {
  program
    .command('drill')
    .description(
      'failure-recovery drills: kill the offload at a fault point (a real SIGKILL), recover, and check that no row was lost or duplicated',
    )
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .option('-t, --table <name>', 'the table to drill (with --fault / --transient)')
    .option('--tables <a,b,…>', 'tables for --all-faults / --random (default: the first table of each layer)')
    .option('-f, --fault <point[,point…]>', `crash fault point(s): ${CRASH_FAULTS.join(', ')}`)
    .option(
      '--transient <fault[,fault…]>',
      `transient fault(s) through a loopback proxy: ${TRANSIENT_FAULTS.join(', ')} (a REST catalog also: ${REST_TRANSIENT_FAULTS.join(', ')})`,
    )
    .option(
      '--concurrent',
      'two workers on the table: the first dies at --fault (default mid-extract) while it holds the table, the second must be turned away',
    )
    .option('--all-faults', 'every crash fault, every transient fault and a two-worker step, on each table')
    .option('--no-transient-faults', 'with --all-faults: crash faults and the two-worker step only')
    .option('--random <n>', 'N kills at random fault points across repeated offloads while new trades arrive', positiveInteger)
    .option('--seed <s>', 'random seed for --random (same seed, same sequence of tables and fault points)', '1')
    .option('--trades-rate <r>', 'trades per second inserted into the seed schema during --random (0: none)', nonNegative, 200)
    .option('--lag <duration>', 'the lag of the sandbox tables during --random, so arriving trades are offloaded within the drill', '5s')
    .option('--keep', 'keep the sandbox (its Iceberg tables, files, watermark rows and run history) for inspection')
    .option('--clean', 'remove sandboxes left behind by drills that were killed before cleaning up (older than --min-age)')
    .option('--min-age <duration>', 'with --clean: only sandboxes at least this old (a drill running now is never touched)', '1h')
    .option('--no-pyiceberg', 'skip the independent pyiceberg reader check')
    .option('--report <dir>', 'also write the report as JSON and Markdown into this directory')
    .option('--json', 'print the report as one JSON document (progress goes to stderr)')
    .addHelpText(
      'after',
      `
A drill offloads the configured tables' sources into a sandbox (its own Iceberg namespace, watermark rows
and run history, removed afterwards), never into the tables themselves. Each step runs \`offload run\` in a
child process that dies by SIGKILL at the armed fault point (or meets a transient fault through a loopback
proxy), runs it again to recover, then checks: rows lost = 0 and rows duplicated = 0 (ClickHouse rows up to
the watermark vs Iceberg rows, as multisets), watermark = the current snapshot's offload.watermark, no run
left running, metadata readable, the table loads in pyiceberg (when the venv is installed), orphan files
found and removed by \`offload gc\`. What each fault simulates: docs/drills.md.

Exit code 0 when every invariant held, 7 when one broke, 1 when inconclusive (a fault point never reached);
3 or 4 before it starts when a service refuses the settings or cannot be reached.

Examples:
  offload drill --table bronze_trades_binance --fault inside-commit
  offload drill --table ohlcv_1m --transient pg-drop
  offload drill --all-faults --tables bronze_trades_binance,ohlcv_1m --report drill-reports/
  offload drill --random 30 --seed 1 --json
  offload drill --clean`,
    )
    .action(async (options: DrillCliOptions) => {
      await drill(options, ctx);
    });
}
