// `offload serve-metrics --metrics-port P [--metrics-host H] [--interval 60s]`: Prometheus metrics of the
// configured tables without offloading — watermarks, freshness lag, pending rows, busy tables, runs under
// way, files and orphans — refreshed on an interval, for tables another process (cron, Prefect, another
// machine's `run --every`) offloads. Runs in the foreground until SIGTERM or Ctrl-C; exit code 0 then.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { durationMs, findTable, loadTablesConfig } from '../config/tables.js';
import { UsageError } from '../core/errors.js';
import { startMetricsExporter } from '../metrics/exporter.js';
import type { RefreshSummary } from '../metrics/refresh.js';
import { abortOnSignals } from '../pipeline/schedule.js';
import { openServices } from '../pipeline/services.js';
import { addMetricsOptions, metricsListenOf, type MetricsCliOptions } from './metrics-options.js';
import { logLine, type CommandContext } from './output.js';

export interface ServeMetricsOptions extends MetricsCliOptions {
  config?: string;
  table?: string[];
  interval: string;
}

/** The refresh's problems as one line each (nothing when all went well). */
function problemsOf(r: RefreshSummary): string[] {
  return [...r.servicesDown.map((s) => `${s.service}: ${s.error}`), ...r.filesUnknown.map((f) => `${f.table}: files not read: ${f.error}`)];
}

export async function serveMetricsCommand(options: ServeMetricsOptions, ctx: CommandContext): Promise<void> {
  const listen = metricsListenOf(options);
  if (!listen) throw new UsageError('serve-metrics: give --metrics-port P (the port Prometheus scrapes)');
  const intervalMs = durationMs(options.interval);
  if (intervalMs === null || intervalMs < 1000)
    throw new UsageError(`--interval: "${options.interval}" is not a duration of at least 1s (e.g. 30s, 1m)`);
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const tables = options.table?.length ? options.table.map((t) => findTable(config, t)) : config.tables;

  const services = openServices(ctx.env, 'serve-metrics');
  const stop = new AbortController();
  const dispose = abortOnSignals(stop);
  try {
    const exporter = await startMetricsExporter({ ...config, tables }, services.statusSources(config), listen);
    logLine(
      ctx.stdout,
      `serving Prometheus metrics of ${tables.length} tables at ${exporter.url}, refreshed every ${options.interval}; SIGTERM or Ctrl-C stops`,
      {
        event: 'metrics-serving',
        url: exporter.url,
      },
    );
    try {
      let refreshes = 0;
      while (!stop.signal.aborted) {
        const r = await exporter.refresh();
        refreshes++;
        for (const p of problemsOf(r))
          logLine(ctx.stderr, `offload: refresh ${refreshes}: ${p}`, { level: 'warn', event: 'refresh-problem' });
        await sleep(intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
      }
      logLine(ctx.stdout, `stopped after ${refreshes} refreshes`, { event: 'stopped', refreshes });
    } finally {
      await exporter.close();
    }
  } finally {
    dispose();
    await services.close();
  }
}

export function registerServeMetrics(program: Command, ctx: CommandContext): void {
  const command = program
    .command('serve-metrics')
    .description('serve Prometheus metrics of the configured tables without offloading (for tables offloaded elsewhere)')
    .option('-t, --table <name>', 'a configured table (repeatable; default: all)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--interval <duration>', 'how often watermarks, row counts and files are read again', '60s')
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)');
  addMetricsOptions(command, 'serve the metrics at http://<host>:<port>/metrics (required)')
    .addHelpText(
      'after',
      '\nRuns until SIGTERM or Ctrl-C, then exits 0; 3 when the metrics port is in use. What each metric means: README "Monitoring".',
    )
    .action(async (options: ServeMetricsOptions) => {
      await serveMetricsCommand(options, ctx);
    });
}
