// `offload run --table T | --layer L | --all [--json] [--dry-run]`: offload tables exactly once.
// Human output: a progress line on a terminal, plain event lines otherwise. --json: one document at the end.
import type { Command } from 'commander';
import { findTable, loadTablesConfig, LAYERS, type Layer, type TableConfig } from '../config/tables.js';
import { ExitCode, exitCodeOf, overallExitCode, TableBusy, UsageError } from '../core/errors.js';
import { OffloadEvents, type OffloadEvent } from '../pipeline/events.js';
import { runLayers, type TableOutcome } from '../pipeline/layers.js';
import { openServices } from '../pipeline/services.js';
import type { LogFields } from './log-format.js';
import { formatCount, formatInstant, formatSeconds, logLine, printJson, println, type CommandContext } from './output.js';
import { abortOnSignals } from '../pipeline/schedule.js';
import { addMetricsOptions, metricsListenOf } from './metrics-options.js';
import { LivePainter, liveLine, type LiveTable } from './progress-line.js';
import { parseEvery, runEvery } from './run-every.js';

export interface RunCliOptions {
  config?: string;
  table?: string[];
  layer?: string;
  all?: boolean;
  json?: boolean;
  dryRun?: boolean;
  concurrency?: string;
  maxRows?: string;
  /** Interval mode: run on this fixed schedule until SIGTERM/SIGINT (run-every.ts). */
  every?: string;
  /** With --every: serve Prometheus metrics on this port (src/metrics/). */
  metricsPort?: string;
  metricsHost?: string;
}

function selectTables(tables: TableConfig[], options: RunCliOptions, file: string): TableConfig[] {
  const chosen = [options.table?.length ? 'table' : null, options.layer ? 'layer' : null, options.all ? 'all' : null].filter(Boolean);
  if (chosen.length !== 1) throw new UsageError('choose what to offload: --table T (repeatable), --layer bronze|silver|gold, or --all');
  if (options.table?.length) return options.table.map((t) => findTable({ file, tables }, t));
  if (options.layer) {
    if (!(LAYERS as readonly string[]).includes(options.layer))
      throw new UsageError(`--layer: "${options.layer}" is not a layer (bronze, silver, gold)`);
    return tables.filter((t) => t.layer === (options.layer as Layer));
  }
  return tables;
}

function wholeNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.replace(/[_,]/g, ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag}: expected a whole number ≥ 1, got "${text}"`);
  return n;
}

/** What a table's outcome looks like in --json (stable keys). */
function outcomeJson(o: TableOutcome): Record<string, unknown> {
  const base = { table: o.table, layer: o.layer, status: o.status };
  if (o.status === 'failed') return { ...base, error: o.error.message, exitCode: exitCodeOf(o.error) };
  if (o.status === 'skipped') return { ...base, reason: o.reason };
  const r = o.result;
  switch (r.status) {
    case 'committed':
      return {
        ...base,
        rows: r.rows,
        files: r.files,
        bytes: r.bytes,
        watermark: r.watermark,
        durationMs: r.durationMs,
        ...(r.held ? { held: r.held } : {}),
        batches: r.batches.map((b) => ({
          runId: b.runId,
          snapshotId: b.snapshotId,
          rows: b.rows,
          files: b.files,
          bytes: b.bytes,
          window: b.window,
          durationMs: b.durationMs,
          ...(b.replacedUtf8 ? { replacedUtf8: b.replacedUtf8 } : {}),
        })),
      };
    case 'up-to-date':
      return { ...base, rows: 0, watermark: r.watermark, durationMs: r.durationMs, ...(r.held ? { held: r.held } : {}) };
    case 'dry-run':
      return { ...base, window: r.window, estimatedRows: r.estimatedRows, batches: r.batches };
    case 'busy':
      return { ...base, rows: 0 };
  }
}

/** What a JSON log record of an event carries besides its message. */
function eventFields(e: OffloadEvent): LogFields {
  const level = e.kind === 'failed' ? 'error' : e.kind === 'log' ? e.level : e.kind === 'busy' || e.kind === 'skipped' ? 'warn' : 'info';
  const runId = 'runId' in e ? e.runId : undefined;
  return { level, event: e.kind === 'log' ? (e.code ?? 'log') : e.kind, table: e.table, runId };
}

/** Prints events: live lines on a terminal (stderr), or one plain line per meaningful event. */
function eventPrinter(ctx: CommandContext, options: RunCliOptions): { listener: (e: OffloadEvent) => void; finish(): void } {
  const isTTY = Boolean((ctx.stderr as { isTTY?: boolean }).isTTY) && !options.json;
  const live = new Map<string, LiveTable>();
  const painter = new LivePainter(ctx.stderr, () => (ctx.stderr as { columns?: number }).columns ?? 100);
  const draw = () => {
    if (isTTY) painter.paint([...live].map(([table, l]) => liveLine(table, l, Date.now())));
  };
  // The event being printed: what its JSON log record says besides the line.
  let fields: LogFields = {};
  // Between events too: the elapsed time goes on while a slice is encoded or a commit is under way.
  const redraw = isTTY ? setInterval(draw, 500) : undefined;
  redraw?.unref();
  const line = (text: string, toStderr = false) => {
    painter.clear();
    // --json keeps stdout for the document: event lines go to stderr then.
    logLine(options.json || toStderr ? ctx.stderr : ctx.stdout, text, fields);
    draw();
  };
  const liveOf = (table: string): LiveTable => {
    let l = live.get(table);
    if (!l) {
      l = { phase: 'starting', startedAt: Date.now(), progress: null, plannedRows: null };
      live.set(table, l);
    }
    return l;
  };
  const listener = (e: OffloadEvent) => {
    fields = eventFields(e);
    switch (e.kind) {
      case 'phase':
        liveOf(e.table).phase = e.phase;
        draw();
        return;
      case 'planned': {
        const l = liveOf(e.table);
        const isFirst = (e.batch ?? 1) === 1;
        if (isFirst) l.plannedRows = e.runRows ?? e.estimatedRows;
        line(
          isFirst
            ? `${e.table}: window (${formatInstant(e.window.lower.timestamp)}, ${formatInstant(e.window.upper.timestamp)}], ~${formatCount(e.runRows ?? e.estimatedRows)} rows${e.batches > 1 ? ` in ~${e.batches} batches` : ''}${e.runId ? `, run ${e.runId}` : ''}`
            : `${e.table}: batch ${e.batch}: ~${formatCount(e.estimatedRows)} rows up to ${formatInstant(e.window.upper.timestamp)}, run ${e.runId}`,
        );
        return;
      }
      case 'progress':
        liveOf(e.table).progress = e;
        draw();
        return;
      case 'finished':
        live.delete(e.table);
        if (e.batches > 1)
          line(
            `${e.table}: run finished: ${formatCount(e.rows)} rows in ${e.batches} commits, ${e.files} file(s) (${formatSeconds(e.durationMs)})`,
          );
        else draw();
        return;
      case 'committed':
        line(
          `${e.table}: committed ${formatCount(e.rows)} rows in ${e.files} file(s), snapshot ${e.snapshotId}, watermark ${formatInstant(e.watermark.timestamp)}${e.watermark.tieBreak !== null ? ` #${e.watermark.tieBreak}` : ''} (${formatSeconds(e.durationMs)})`,
        );
        return;
      case 'up-to-date':
        live.delete(e.table);
        line(
          `${e.table}: up to date (watermark ${formatInstant(e.watermark.timestamp)}${e.watermark.tieBreak !== null ? ` #${e.watermark.tieBreak}` : ''})`,
        );
        return;
      case 'busy':
        live.delete(e.table);
        line(`${e.table}: busy — another worker holds it; nothing done`);
        return;
      case 'skipped':
        live.delete(e.table);
        line(`${e.table}: skipped — ${e.reason}`);
        return;
      case 'failed':
        live.delete(e.table);
        line(`${e.table}: FAILED — ${e.error}`, true);
        return;
      case 'log':
        if (e.level !== 'info' || !isTTY) line(`${e.table ? `${e.table}: ` : ''}${e.message}`, e.level !== 'info');
        return;
    }
  };
  return {
    listener,
    finish: () => {
      clearInterval(redraw);
      painter.clear();
    },
  };
}

export async function run(options: RunCliOptions, ctx: CommandContext): Promise<TableOutcome[]> {
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const tables = selectTables(config.tables, options, config.file);
  const listen = metricsListenOf(options);
  if (listen && options.every === undefined) {
    throw new UsageError(
      '--metrics-port needs --every: a one-shot run ends before Prometheus could scrape it (`offload serve-metrics` serves metrics on its own)',
    );
  }
  if (options.every !== undefined) {
    if (options.dryRun) throw new UsageError('--every cannot be combined with --dry-run');
    parseEvery(options.every);
    const services = openServices(ctx.env, 'run --every');
    try {
      // A service down or refusing at start is one line and its exit code, not a schedule of failing ticks.
      await services.require(['PostgreSQL', 'ClickHouse', 'S3']);
      const layerOptions = {
        concurrency: wholeNumber(options.concurrency, '--concurrency'),
        maxRowsPerBatch: wholeNumber(options.maxRows, '--max-rows'),
      };
      // The metrics' status refresh runs between ticks, on the same connections as the offloads.
      const metrics = listen && { ...listen, config: { ...config, tables }, sources: services.statusSources(config) };
      await runEvery(tables, services.offloadDeps(), { every: options.every, json: options.json, layerOptions, metrics }, ctx);
    } finally {
      await services.close();
    }
    return [];
  }
  const services = openServices(ctx.env, 'run');
  const events = new OffloadEvents();
  const printer = eventPrinter(ctx, options);
  events.on(printer.listener);
  let outcomes: TableOutcome[];
  // SIGTERM/SIGINT: no further table starts and a run not yet committing is abandoned; a commit under way completes.
  const stop = new AbortController();
  const disposeSignals = abortOnSignals(stop, () =>
    logLine(ctx.stderr, 'offload: still stopping — waiting for the commit under way to finish', { level: 'warn', event: 'stopping' }),
  );
  try {
    // Every service the offload needs, checked before any table is claimed: one line per cause, not one per table.
    await services.require(['PostgreSQL', 'ClickHouse', 'S3']);
    outcomes = await runLayers(tables, services.offloadDeps(), {
      signal: stop.signal,
      events,
      dryRun: options.dryRun,
      concurrency: wholeNumber(options.concurrency, '--concurrency'),
      maxRowsPerBatch: wholeNumber(options.maxRows, '--max-rows'),
    });
  } finally {
    disposeSignals();
    printer.finish();
    await services.close();
  }
  if (options.json) {
    printJson(ctx.stdout, { results: outcomes.map(outcomeJson) });
  } else if (options.dryRun) {
    for (const o of outcomes) {
      if (o.status !== 'dry-run') continue;
      const r = o.result as Extract<TableOutcome, { result: unknown }>['result'] & { status: 'dry-run' };
      println(
        ctx.stdout,
        r.window
          ? `${o.table}: would offload ~${formatCount(r.estimatedRows)} rows in (${formatInstant(r.window.lower.timestamp)}, ${formatInstant(r.window.upper.timestamp)}]${r.batches > 1 ? ` in ~${r.batches} batches` : ''}`
          : `${o.table}: up to date, nothing to offload`,
      );
    }
  }
  // The exit code: the failures' own (3 before 4 before their common code, else 1); busy (5) when nothing failed.
  const failed = outcomes.filter((o): o is Extract<TableOutcome, { status: 'failed' }> => o.status === 'failed');
  if (failed.length > 0) {
    ctx.exitCode = overallExitCode(failed.map((o) => exitCodeOf(o.error)));
    // An internal error was printed as the table's FAILED line; its stack only on request.
    if (ctx.env.OFFLOAD_DEBUG === '1')
      for (const o of failed) if (exitCodeOf(o.error) === ExitCode.internal) println(ctx.stderr, o.error.stack);
  } else if (outcomes.some((o) => o.status === 'busy'))
    ctx.exitCode = new TableBusy(outcomes.find((o) => o.status === 'busy')!.table).exitCode;
  else if (outcomes.some((o) => o.status === 'skipped')) ctx.exitCode = ExitCode.failed;
  // Rows held back: every other row went, but these need a person (the warning says where and why).
  else if (outcomes.some((o) => 'result' in o && 'held' in o.result && o.result.held)) ctx.exitCode = ExitCode.failed;
  return outcomes;
}

export function registerRun(program: Command, ctx: CommandContext): void {
  const command = program
    .command('run')
    .description('offload tables to Iceberg exactly once: one table, a layer, or all (bronze → silver → gold)')
    .option('-t, --table <name>', 'a configured table (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-l, --layer <layer>', 'every table of a layer: bronze, silver or gold')
    .option('-a, --all', 'every table, layer by layer; a failed layer stops the layers made from it')
    .option('--dry-run', 'plan only: print the window and a row estimate, write nothing')
    .option('--json', "print one JSON document with every table's outcome (events go to stderr)")
    .option('--concurrency <n>', 'tables of one layer offloaded at once (default 2)')
    .option(
      '--every <duration>',
      'keep running: offload on this fixed schedule (e.g. 15m) until SIGTERM or Ctrl-C, which stop after the commit under way; one log line per table per tick (--json: JSON lines)',
    )
    .option('--max-rows <n>', 'most rows one commit takes; larger windows are cut at whole timestamps (default 20000000)')
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)');
  addMetricsOptions(command, 'with --every: serve Prometheus metrics at http://<host>:<port>/metrics (README "Monitoring")')
    .addHelpText(
      'after',
      '\nExit code 0 when every table committed or was up to date; 5 when a table was busy (another worker holds it); ' +
        "when tables failed, their failures' code: 3 if any is a configuration problem, else 4 if a service could not be reached, " +
        'else their common code (6 conflict, 7 invariant), else 1; 1 when a table was skipped, or held back rows ClickHouse refuses to read ' +
        '(every other row committed; the HELD BACK line says where and why). A service that is down or refuses ' +
        'the settings is found before any table is claimed: one line, exit 3 or 4. ' +
        'With --every: 0 once stopped by SIGTERM or Ctrl-C (failed tables are in the log lines and retried on the next tick); 3 when the metrics port is in use.',
    )
    .action(async (options: RunCliOptions) => {
      await run(options, ctx);
    });
}
