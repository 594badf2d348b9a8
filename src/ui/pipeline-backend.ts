// The TUI's backend on the real tool: status from the pipeline's status collector, offloads through
// the pipeline, details from the pipeline's readers. It holds the connections the pipeline is handed;
// it writes no SQL and reads no file itself.
import { clickhouseFromEnv, postgresFromEnv, secretsOf } from '../config/env.js';
import { scrubSecrets } from '../config/redact.js';
import { findTable, loadTablesConfig, type OffloadConfig, type TableConfig } from '../config/tables.js';
import { ClickHouseSource } from '../db/clickhouse.js';
import { createPool } from '../db/postgres.js';
import type { OffloadEvent } from '../pipeline/events.js';
import { collectStatus } from '../pipeline/status.js';
import type { StatusReport } from '../pipeline/status-model.js';
import type { ConfigEntry, OffloadBackend, RunScope, TableDetails } from './backend.js';

type Env = Record<string, string | undefined>;

export interface PipelineBackendOptions {
  config?: string;
  env: Env;
}

/** The table's configuration as the details screen lists it. */
export function configEntries(t: TableConfig, configFile: string): ConfigEntry[] {
  const entries: Array<[string, string | null]> = [
    ['name', t.name],
    ['layer', t.layer],
    ['source', t.source],
    ['query', t.query],
    ['cursor', t.cursor],
    ['tie-break', t.tieBreak ?? '(none)'],
    ['lag', t.lag],
    ['closed window', t.closedWindow],
    ['target', t.target],
    ['partition by', t.partitionBy.length > 0 ? t.partitionBy.join(', ') : '(unpartitioned)'],
    ['target file size', t.targetFileSize],
    ['comment', t.comment],
    ['config file', `${configFile} (tables[${t.index}])`],
  ];
  return entries.flatMap(([key, value]) => (value === null ? [] : [{ key, value: value.replace(/\s+/g, ' ') }]));
}

export class PipelineBackend implements OffloadBackend {
  readonly config: OffloadConfig;
  private readonly clickhouse: ClickHouseSource;
  private readonly pool: ReturnType<typeof createPool>;
  private readonly secrets: string[];

  constructor(private readonly options: PipelineBackendOptions) {
    const env = options.env;
    this.config = loadTablesConfig({ config: options.config, env });
    // Status queries are small: a short timeout lets a hung server show as such on the next refresh.
    this.clickhouse = new ClickHouseSource(clickhouseFromEnv(env), { env, requestTimeoutMs: 30_000 });
    this.pool = createPool(postgresFromEnv(env), { env, max: 4, applicationName: 'offload tui' });
    this.secrets = secretsOf(env);
  }

  async loadStatus(): Promise<StatusReport> {
    return collectStatus({ config: this.config, clickhouse: this.clickhouse, pool: this.pool });
  }

  async loadDetails(table: string): Promise<TableDetails> {
    const t = findTable(this.config, table);
    const unavailable = { ok: false as const, error: 'not available in this build yet' };
    return { table, config: configEntries(t, this.config.file), snapshots: unavailable, runs: unavailable, partitions: unavailable };
  }

  async run(_scope: RunScope, _onEvent: (event: OffloadEvent) => void, _signal: AbortSignal): Promise<void> {
    throw new Error('offloads from the TUI are not available in this build yet: use `offload run`');
  }

  /** Server messages can echo a connection string: nothing the screen shows carries a secret. */
  scrub(event: OffloadEvent): OffloadEvent {
    if (event.kind === 'failed') return { ...event, error: scrubSecrets(event.error, this.secrets) };
    if (event.kind === 'log') return { ...event, message: scrubSecrets(event.message, this.secrets) };
    return event;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.clickhouse.close(), this.pool.end()]);
  }
}

export function createPipelineBackend(options: PipelineBackendOptions): OffloadBackend {
  return new PipelineBackend(options);
}
