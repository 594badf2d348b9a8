// `offload run … --every <duration>`: the chosen tables offloaded on a fixed schedule in the foreground until
// SIGTERM or Ctrl-C (src/pipeline/schedule.ts has the loop). One log line per table per tick on stdout;
// --json makes them JSON lines. Exit code 0 once stopped cleanly. With metrics, each tick's events feed
// them and the status is refreshed after each tick (src/metrics/).
import { secretsOf } from '../config/env.js';
import { scrubSecrets } from '../config/redact.js';
import { durationMs, type OffloadConfig, type TableConfig } from '../config/tables.js';
import { UsageError } from '../core/errors.js';
import { OffloadEvents } from '../pipeline/events.js';
import { runLayers, type LayerRunOptions } from '../pipeline/layers.js';
import type { OffloadDeps } from '../pipeline/offload.js';
import {
  abortOnSignals,
  formatScheduleJson,
  formatScheduleLine,
  runOnSchedule,
  type ScheduleLogLine,
  type ScheduleSummary,
} from '../pipeline/schedule.js';
import { startMetricsExporter, type MetricsListen, type MetricsSources } from '../metrics/exporter.js';
import { isJsonLog } from './log-format.js';
import { logLine, println, type CommandContext } from './output.js';
import { scheduleRecord } from './schedule-log.js';

/** `--every` text → milliseconds, or a usage error saying what is expected. */
export function parseEvery(text: string): number {
  const ms = durationMs(text);
  if (ms === null || ms <= 0)
    throw new UsageError(`--every: "${text}" is not a positive duration (expected e.g. "90s", "15m", "1h", "1h30m")`);
  return ms;
}

export interface RunEveryOptions {
  every: string;
  json?: boolean;
  /** Passed to each tick's layered run (concurrency, batch size). */
  layerOptions: Omit<LayerRunOptions, 'events' | 'signal'>;
  /** Serve Prometheus metrics of `config`'s tables here, their status read through `sources`. */
  metrics?: MetricsListen & { config: OffloadConfig; sources: MetricsSources };
}

export async function runEvery(
  tables: TableConfig[],
  deps: OffloadDeps,
  options: RunEveryOptions,
  ctx: CommandContext,
): Promise<ScheduleSummary> {
  const everyMs = parseEvery(options.every);
  const secrets = secretsOf(ctx.env);
  const scrub = (line: ScheduleLogLine): ScheduleLogLine => {
    if (line.event === 'table' && line.error) return { ...line, error: scrubSecrets(line.error, secrets) };
    if (line.event === 'table' && line.reason) return { ...line, reason: scrubSecrets(line.reason, secrets) };
    if (line.event === 'log') return { ...line, message: scrubSecrets(line.message, secrets) };
    if (line.event === 'tick-finished' && line.error) return { ...line, error: scrubSecrets(line.error, secrets) };
    return line;
  };
  const log = (line: ScheduleLogLine) => {
    const clean = scrub(line);
    if (isJsonLog(ctx.stdout)) {
      const { message, fields } = scheduleRecord(clean);
      ctx.stdout.record(message, fields);
    } else println(ctx.stdout, options.json ? formatScheduleJson(clean) : formatScheduleLine(clean));
  };

  // Bound before the first tick: a port in use stops the command before any offload starts.
  const exporter = options.metrics
    ? await startMetricsExporter(options.metrics.config, options.metrics.sources, options.metrics)
    : undefined;
  if (exporter)
    logLine(ctx.stderr, `offload: serving Prometheus metrics at ${exporter.url}`, { event: 'metrics-serving', url: exporter.url });
  const stop = new AbortController();
  const dispose = abortOnSignals(stop, (signal) =>
    logLine(ctx.stderr, `offload: ${signal} again: still stopping — waiting for the commit under way to finish`, {
      level: 'warn',
      event: 'stopping',
    }),
  );
  try {
    return await runOnSchedule({
      everyMs,
      tables,
      stop: stop.signal,
      log,
      tick: async ({ signal, emit }) => {
        const events = new OffloadEvents();
        events.on(emit);
        if (exporter) events.on((e) => exporter.collector.onEvent(e));
        const outcomes = await runLayers(tables, deps, { ...options.layerOptions, events, signal });
        exporter?.collector.settle(outcomes);
        // Once a stop is asked for, the process ends without another round of status queries.
        if (exporter && !signal.aborted) await exporter.refresh();
      },
    });
  } finally {
    dispose();
    await exporter?.close();
  }
}
