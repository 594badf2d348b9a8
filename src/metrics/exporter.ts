// The metrics of one process, ready to serve: registry, collector, per-tick refresher and the /metrics
// endpoint, for the configured tables. `offload run --every … --metrics-port` feeds it its events;
// `offload serve-metrics` only refreshes it.
import type { OffloadConfig } from '../config/tables.js';
import type { StatusSources } from '../pipeline/status.js';
import { MetricsCollector } from './collect.js';
import { MetricsRefresher, type RefreshSummary } from './refresh.js';
import { createOffloadMetrics } from './registry.js';
import { serveMetrics } from './server.js';

export interface MetricsListen {
  port: number;
  host?: string;
}

/** What the status refresh reads: ClickHouse, PostgreSQL, the catalog and the files. */
export type MetricsSources = Omit<Required<StatusSources>, 'config' | 'lateMemo'>;

export interface MetricsExporter {
  url: string;
  collector: MetricsCollector;
  refresh(): Promise<RefreshSummary>;
  close(): Promise<void>;
}

/** Binds the endpoint first, so a port in use fails before any work starts. */
export async function startMetricsExporter(
  config: OffloadConfig,
  sources: MetricsSources,
  listen: MetricsListen,
): Promise<MetricsExporter> {
  const metrics = createOffloadMetrics();
  const server = await serveMetrics(metrics.registry, listen);
  const collector = new MetricsCollector(metrics, config.tables);
  // Named one by one, not spread: the command's Services hands its connections out through getters.
  const { clickhouse, pool, catalog, io, warehouse } = sources;
  const refresher = new MetricsRefresher({ config, clickhouse, pool, catalog, io, warehouse }, collector);
  return { url: server.url, collector, refresh: () => refresher.refresh(), close: () => server.close() };
}
