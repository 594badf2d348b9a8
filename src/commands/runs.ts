// `offload runs [--table T] [--status S] [--limit N] [--json]`: the offload_runs history, latest first.
import type { Command } from 'commander';
import { postgresFromEnv } from '../config/env.js';
import type * as runsDb from '../db/runs.js';
import { UsageError } from '../errors.js';
import { alignedTable, formatCount, formatInstant, formatSeconds, printJson, println, type CommandContext } from './output.js';

export interface RunsCliOptions {
  table?: string;
  status?: string;
  limit?: string;
  json?: boolean;
}

const STATUSES: runsDb.RunStatus[] = ['running', 'committed', 'aborted', 'failed', 'up_to_date'];

export async function listRuns(options: RunsCliOptions, ctx: CommandContext): Promise<runsDb.OffloadRun[]> {
  if (options.status !== undefined && !(STATUSES as string[]).includes(options.status)) {
    throw new UsageError(`--status: "${options.status}" is not a run status (${STATUSES.join(', ')})`);
  }
  const limit = options.limit === undefined ? 50 : Number(options.limit);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a whole number ≥ 1, got "${options.limit}"`);
  const [{ createPool }, { list: listRunsOf }] = await Promise.all([import('../db/postgres.js'), import('../db/runs.js')]);
  const pool = createPool(postgresFromEnv(ctx.env), { env: ctx.env, max: 2, applicationName: 'offload runs' });
  let list: runsDb.OffloadRun[];
  try {
    list = await listRunsOf(pool, { table: options.table, status: options.status as runsDb.RunStatus | undefined, limit });
  } finally {
    await pool.end();
  }
  if (options.json) {
    printJson(ctx.stdout, { runs: list });
    return list;
  }
  const window = (r: runsDb.OffloadRun) =>
    r.windowStart && r.windowEnd ? `(${formatInstant(r.windowStart.timestamp)}, ${formatInstant(r.windowEnd.timestamp)}${r.windowEnd.tieBreak !== null ? ` #${r.windowEnd.tieBreak}` : ''}]` : '—';
  const rows = list.map((r) => [
    formatInstant(r.startedAt),
    r.table,
    r.status,
    formatCount(r.rows),
    String(r.files),
    r.durationMs === null ? '—' : formatSeconds(r.durationMs),
    window(r),
    r.runId,
    r.error ? r.error.split('\n')[0].slice(0, 80) : '',
  ]);
  for (const line of alignedTable(['STARTED', 'TABLE', 'STATUS', 'ROWS', 'FILES', 'TOOK', 'WINDOW', 'RUN', 'ERROR'], rows, new Set([3, 4, 5]))) println(ctx.stdout, line);
  if (list.length === 0) println(ctx.stdout, options.table ? `no runs of ${options.table} yet` : 'no runs yet');
  return list;
}

export function registerRuns(program: Command, ctx: CommandContext): void {
  program
    .command('runs')
    .description('the history of offload runs, latest first: window, rows, files, duration, outcome')
    .option('-t, --table <name>', 'only this table')
    .option('--status <status>', `only runs in this state (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'most runs shown (default 50)')
    .option('--json', 'print one JSON document')
    .action(async (options: RunsCliOptions) => {
      await listRuns(options, ctx);
    });
}
