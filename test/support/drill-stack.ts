// A fresh corner of the local stack for drill tests: a ClickHouse database with the seed schema and seeded
// trades, a PostgreSQL database, an S3 bucket, and the shipped configuration pointed at them. Drills start
// `offload` child processes: the built CLI (dist/), built here when the sources are newer.
import { clickhouseFromEnv } from '../../src/config/env.js';
import { loadTablesConfig, type OffloadConfig } from '../../src/config/tables.js';
import { ClickHouseSource } from '../../src/clickhouse/client.js';
import { applySeedSchema } from '../../src/dev/schema.js';
import { seedTrades } from '../../src/dev/seed.js';
import type { DrillEvent } from '../../src/drill/events.js';
import type { DrillReport, DrillStep } from '../../src/drill/report.js';
import type { DrillOptions } from '../../src/drill/sandbox.js';
import type { CheckName, InvariantCheck } from '../../src/verify/check.js';
import { CLI, freshStackCorner } from './cli-stack.js';

export interface DrillStack {
  env: Record<string, string>;
  config: OffloadConfig;
  configFile: string;
  database: string;
  /** Trades seeded before the drill. */
  seeded: number;
  /** Options for runFaultDrill / runRandomDrill on this stack, events collected in `events`. */
  options(extra?: Partial<DrillOptions>): DrillOptions;
  events: DrillEvent[];
  drop(): Promise<void>;
}

/**
 * `trades` trades over the `hours` before `endAgoMs` ago: history for the drill's slices, with candles
 * closed long ago; `options.env` is added to the stack's environment.
 */
export async function freshDrillStack(
  prefix: string,
  seed: { trades: number; hours: number; endAgoMs?: number },
  options: { env?: Record<string, string> } = {},
): Promise<DrillStack> {
  const corner = await freshStackCorner(prefix);
  const { configFile } = corner;
  // With `options.env` (e.g. the REST catalog's URI), the drill and its child offloads run on that setting too.
  const env = { ...corner.env, ...options.env };
  const source = new ClickHouseSource(clickhouseFromEnv(env), { env });
  await applySeedSchema(source, corner.clickhouseDatabase);
  const end = new Date(Date.now() - (seed.endAgoMs ?? 10 * 60_000));
  const r = await seedTrades(source, {
    rows: seed.trades,
    database: corner.clickhouseDatabase,
    start: new Date(end.getTime() - seed.hours * 3_600_000),
    end,
    seed: prefix,
  });
  await source.close();
  const config = loadTablesConfig({ config: configFile, env });
  const events: DrillEvent[] = [];
  return {
    env,
    config,
    configFile,
    database: corner.clickhouseDatabase,
    seeded: r.rows.binance + r.rows.kraken,
    events,
    options: (extra = {}) => ({
      config,
      env,
      offloadCommand: [process.execPath, CLI],
      onEvent: (e) => events.push(e),
      childTimeoutMs: 240_000,
      ...extra,
    }),
    drop: corner.drop,
  };
}

export function checkOf(step: { verification: DrillStep['verification'] } | null | undefined, name: CheckName): InvariantCheck {
  const c = step?.verification?.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no ${name} check`);
  return c;
}

/** A step's invariants in one line, for assertion messages. */
export function describeStep(s: DrillStep): string {
  return `step ${s.index} ${s.table} ${s.fault}: ${s.outcome} (${s.note}); runs: ${s.runs.map((r) => `${r.role}=${r.outcome}`).join(', ')}; checks: ${(
    s.verification?.checks ?? []
  )
    .map((c) => `${c.name}=${c.status}${c.status === 'broken' ? `(${c.detail})` : ''}`)
    .join(', ')}`;
}

/** Every check of every step and final verification, flattened. */
export function allChecks(report: DrillReport): InvariantCheck[] {
  return [...report.steps.flatMap((s) => s.verification?.checks ?? []), ...report.final.flatMap((f) => f.verification.checks)];
}
