// The options that expose Prometheus metrics, shared by `offload run --every` and `offload serve-metrics`.
import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import type { MetricsListen } from '../metrics/exporter.js';
import { DEFAULT_METRICS_HOST, parseMetricsPort } from '../metrics/server.js';

export interface MetricsCliOptions {
  metricsPort?: string;
  metricsHost?: string;
}

export function addMetricsOptions(command: Command, portHelp: string): Command {
  return command
    .option('--metrics-port <port>', portHelp)
    .option(
      '--metrics-host <address>',
      `address the metrics endpoint listens on (default ${DEFAULT_METRICS_HOST}; 0.0.0.0 for every interface)`,
    );
}

/** Where to serve metrics, or undefined when no --metrics-port was given. */
export function metricsListenOf(options: MetricsCliOptions): MetricsListen | undefined {
  if (options.metricsPort === undefined) {
    if (options.metricsHost !== undefined) throw new UsageError('--metrics-host needs --metrics-port');
    return undefined;
  }
  const host = options.metricsHost ?? DEFAULT_METRICS_HOST;
  if (host.trim() === '') throw new UsageError('--metrics-host: expected an address such as 127.0.0.1 or 0.0.0.0');
  return { port: parseMetricsPort(options.metricsPort), host };
}
