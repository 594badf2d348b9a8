// `offload gc [--table T] [--dry-run] [--min-age 1h] [--json]`: delete the files under a table's location
// that its metadata no longer reaches — those of runs that never committed, and the metadata files of
// committed versions older than the metadata log keeps — only files older than the safety age, and never
// while a run holds the table (src/pipeline/gc.ts).
import type { Command } from 'commander';
import { durationMs, findTable, loadTablesConfig } from '../config/tables.js';
import { ExitCode, UsageError } from '../core/errors.js';
import { DEFAULT_GC_MIN_AGE_MS, gcTable, removeStaleWorkDirs, type GcTableResult } from '../pipeline/gc.js';
import { openServices } from '../pipeline/services.js';
import { formatCount, logLine, printJson, printTable, type CommandContext } from './output.js';

export interface GcCliOptions {
  config?: string;
  table?: string[];
  dryRun?: boolean;
  minAge?: string;
  json?: boolean;
}

export async function gc(options: GcCliOptions, ctx: CommandContext): Promise<GcTableResult[]> {
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const tables = options.table?.length ? options.table.map((t) => findTable(config, t)) : config.tables;
  let minAgeMs = DEFAULT_GC_MIN_AGE_MS;
  if (options.minAge !== undefined) {
    const ms = durationMs(options.minAge);
    if (ms === null) throw new UsageError(`--min-age: "${options.minAge}" is not a duration (e.g. "1h", "30m", "0s")`);
    minAgeMs = ms;
  }
  const services = openServices(ctx.env, 'gc');
  const results: GcTableResult[] = [];
  let staleWorkDirs: string[] = [];
  try {
    await services.require(['PostgreSQL', 'S3']);
    const deps = services.offloadDeps();
    for (const t of tables) results.push(await gcTable(t, deps, { minAgeMs, dryRun: options.dryRun }));
    // Work directories no table's lock vouches for (older versions', another installation's): removed by age.
    const claimed = new Set(results.flatMap((r) => r.workDirs));
    staleWorkDirs = await removeStaleWorkDirs(deps.workDir, minAgeMs, new Date(), claimed, options.dryRun);
  } finally {
    await services.close();
  }
  const deleted = results.flatMap((r) => r.deleted);
  const workDirs = [...results.flatMap((r) => r.workDirs), ...staleWorkDirs];
  if (options.json) {
    printJson(ctx.stdout, { deleted, workDirs, dryRun: Boolean(options.dryRun), minAgeMs, tables: results });
  } else {
    const rows = results.map((r) => [
      r.table,
      r.status,
      formatCount(r.listed),
      formatCount(r.referenced),
      formatCount(r.orphans.length),
      formatCount(r.tooYoung),
      formatCount(r.orphans.reduce((s, o) => s + o.size, 0)),
    ]);
    printTable(
      ctx.stdout,
      ['TABLE', 'STATE', 'FILES', 'REFERENCED', options.dryRun ? 'WOULD DELETE' : 'DELETED', 'TOO YOUNG', 'BYTES'],
      rows,
      new Set([2, 3, 4, 5, 6]),
    );
    for (const r of results) {
      for (const o of r.orphans)
        logLine(ctx.stdout, `  ${options.dryRun ? 'would delete' : 'deleted'} ${o.uri}`, {
          event: options.dryRun ? 'orphan' : 'deleted',
          table: r.table,
          uri: o.uri,
        });
    }
    for (const r of results)
      if (r.error) logLine(ctx.stdout, `${r.table}: not collected: ${r.error}`, { event: 'not-collected', table: r.table, error: r.error });
    for (const d of workDirs)
      logLine(ctx.stdout, `  ${options.dryRun ? 'would remove' : 'removed'} the work directory of a killed run: ${d}`, {
        event: options.dryRun ? 'work-dir' : 'work-dir-removed',
        path: d,
      });
  }
  if (results.some((r) => r.status === 'busy')) ctx.exitCode = ExitCode.busy;
  if (results.some((r) => r.status === 'error')) ctx.exitCode = ExitCode.failed;
  return results;
}

export function registerGc(program: Command, ctx: CommandContext): void {
  program
    .command('gc')
    .description(
      "delete files the table's metadata no longer reaches: those of runs that never committed, and metadata files of " +
        'committed versions older than the metadata log keeps (100); older than --min-age, never while a run holds the table',
    )
    .option('-t, --table <name>', 'a configured table (repeatable; default: all)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--dry-run', 'list what would be deleted; delete nothing')
    .option('--min-age <duration>', 'only files older than this (default 1h)')
    .option('--json', 'print one JSON document')
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .addHelpText(
      'after',
      "\nExit code 0 when every table was collected; 5 when a table was busy (skipped: a run holds it); 1 when a table's metadata " +
        'could not be read (the others are still collected); 3 or 4 before it starts when PostgreSQL or S3 refuses the settings or cannot be reached.',
    )
    .action(async (options: GcCliOptions) => {
      await gc(options, ctx);
    });
}
