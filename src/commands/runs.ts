// `offload runs [--table T] [--status S] [--limit N] [--json]`: the offload_runs history, latest first.
import type { Command } from 'commander';
import { findTable, loadTablesConfig } from '../config/tables.js';
import { UsageError } from '../core/errors.js';
import { listRuns as readRuns, RUN_STATUSES, type OffloadRun, type RunStatus } from '../pipeline/history.js';
import { openServices } from '../pipeline/services.js';
import { formatCount, formatInstant, formatSeconds, printJson, printTable, println, type CommandContext } from './output.js';

export interface RunsCliOptions {
  config?: string;
  table?: string;
  status?: string;
  limit?: string;
  json?: boolean;
}

const STATUSES = RUN_STATUSES;

export async function listRuns(options: RunsCliOptions, ctx: CommandContext): Promise<OffloadRun[]> {
  if (options.status !== undefined && !(STATUSES as string[]).includes(options.status)) {
    throw new UsageError(`--status: "${options.status}" is not a run status (${STATUSES.join(', ')})`);
  }
  const limit = options.limit === undefined ? 50 : Number(options.limit);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a whole number ≥ 1, got "${options.limit}"`);
  const services = openServices(ctx.env, 'runs');
  let list: OffloadRun[];
  try {
    list = await readRuns(services, { table: options.table, status: options.status as RunStatus | undefined, limit });
  } finally {
    await services.close();
  }
  // No history for a name: a table not configured is a typo to report (exit 3); a table removed from the
  // configuration still shows the runs it had.
  if (options.table !== undefined && list.length === 0)
    findTable(loadTablesConfig({ config: options.config, env: ctx.env }), options.table);
  if (options.json) {
    printJson(ctx.stdout, { runs: list });
    return list;
  }
  const window = (r: OffloadRun) =>
    r.windowStart && r.windowEnd
      ? `(${formatInstant(r.windowStart.timestamp)}, ${formatInstant(r.windowEnd.timestamp)}${r.windowEnd.tieBreak !== null ? ` #${r.windowEnd.tieBreak}` : ''}]`
      : '—';
  const rows = list.map((r) => [
    formatInstant(r.startedAt),
    r.table,
    r.status,
    formatCount(r.rows),
    String(r.files),
    r.durationMs === null ? '—' : formatSeconds(r.durationMs),
    window(r),
    r.runId,
    replacedUtf8Text(r.replacedUtf8),
    r.error ? r.error.split('\n')[0].slice(0, 80) : '',
  ]);
  printTable(
    ctx.stdout,
    ['STARTED', 'TABLE', 'STATUS', 'ROWS', 'FILES', 'TOOK', 'WINDOW', 'RUN', 'NOT UTF-8', 'ERROR'],
    rows,
    new Set([3, 4, 5]),
  );
  if (list.length === 0) println(ctx.stdout, options.table ? `no runs of ${options.table} yet` : 'no runs yet');
  return list;
}

/** Values committed with U+FFFD per column, e.g. `symbol 2` (README "Strings that are not UTF-8"). */
function replacedUtf8Text(replaced: Record<string, number> | null): string {
  return replaced
    ? Object.entries(replaced)
        .map(([column, n]) => `${column} ${formatCount(n)}`)
        .join(', ')
    : '';
}

export function registerRuns(program: Command, ctx: CommandContext): void {
  program
    .command('runs')
    .description('the history of offload runs, latest first: window, rows, files, duration, outcome')
    .option('-t, --table <name>', 'only this table')
    .option('--status <status>', `only runs in this state (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'most runs shown (default 50)')
    .option('--json', 'print one JSON document')
    .option(
      '-c, --config <file>',
      'table configuration, to tell an unknown table from one not run yet (default: $OFFLOAD_CONFIG or ./offload.config.json)',
    )
    .addHelpText(
      'after',
      '\nExit code 0 (also when a configured table has no runs yet); 3 for an unknown --table, or when PostgreSQL refuses ' +
        'the settings or was never prepared by offload init; 4 when PostgreSQL cannot be reached.',
    )
    .action(async (options: RunsCliOptions) => {
      await listRuns(options, ctx);
    });
}
