// `offload expire [--table T | --all] [--dry-run] [--older-than 5d] [--retain-last N] [--json]`: snapshot
// expiry and metadata cleanup by age and count (src/pipeline/expire.ts), printing every file it deletes.
import type { Command } from 'commander';
import { durationMs, loadTablesConfig } from '../config/tables.js';
import { ExitCode, UsageError } from '../core/errors.js';
import { expireTable, type TableExpiry } from '../pipeline/expire.js';
import { openServices } from '../pipeline/services.js';
import { chooseTables } from './compact.js';
import { alignedTable, formatCount, printJson, println, type CommandContext } from './output.js';

export interface ExpireCliOptions {
  config?: string;
  table?: string[];
  all?: boolean;
  dryRun?: boolean;
  olderThan?: string;
  retainLast?: string;
  keepMetadata?: string;
  json?: boolean;
}

function atLeastOne(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag}: expected a whole number ≥ 1, got "${text}"`);
  return n;
}

const KINDS = [
  ['manifestLists', 'manifest list'],
  ['manifests', 'manifest'],
  ['dataFiles', 'data file'],
  ['deleteFiles', 'delete file'],
  ['metadataFiles', 'metadata file'],
] as const;

export async function expire(options: ExpireCliOptions, ctx: CommandContext): Promise<TableExpiry[]> {
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const tables = chooseTables(config.tables, config.file, options.table, options.all);
  let maxSnapshotAgeMs: number | undefined;
  if (options.olderThan !== undefined) {
    const ms = durationMs(options.olderThan);
    if (ms === null) throw new UsageError(`--older-than: "${options.olderThan}" is not a duration (e.g. "5d", "12h", "0s")`);
    maxSnapshotAgeMs = ms;
  }
  const retainLast = atLeastOne(options.retainLast, '--retain-last');
  const maxPreviousMetadataFiles = atLeastOne(options.keepMetadata, '--keep-metadata');
  const services = openServices(ctx.env, 'expire');
  const results: TableExpiry[] = [];
  try {
    const deps = services.offloadDeps();
    for (const t of tables)
      results.push(
        await expireTable(t, deps, {
          dryRun: options.dryRun,
          maxSnapshotAgeMs,
          retainLast,
          maxPreviousMetadataFiles,
          onLog: (level, message) => {
            if (level !== 'info') println(ctx.stderr, `${t.name}: ${message}`);
          },
        }),
      );
  } finally {
    await services.close();
  }
  if (options.json) printJson(ctx.stdout, { dryRun: Boolean(options.dryRun), tables: results });
  else {
    const rows = results.map((r) => [
      r.table,
      r.status,
      String(r.expiredSnapshots.length),
      ...KINDS.map(([k]) => formatCount(r.deleted[k].length)),
    ]);
    const header = ['TABLE', 'STATE', 'SNAPSHOTS', 'MANIFEST LISTS', 'MANIFESTS', 'DATA FILES', 'DELETE FILES', 'METADATA FILES'];
    for (const line of alignedTable(header, rows, new Set([2, 3, 4, 5, 6, 7]))) println(ctx.stdout, line);
    const verb = options.dryRun ? 'would delete' : 'deleted';
    for (const r of results) {
      for (const id of r.expiredSnapshots)
        println(ctx.stdout, `  ${r.table}: ${options.dryRun ? 'would expire' : 'expired'} snapshot ${id}`);
      for (const [k, what] of KINDS) for (const f of r.deleted[k]) println(ctx.stdout, `  ${verb} ${what} ${f}`);
    }
  }
  if (results.some((r) => r.status === 'busy')) ctx.exitCode = ExitCode.busy;
  return results;
}

export function registerExpire(program: Command, ctx: CommandContext): void {
  program
    .command('expire')
    .description(
      "expire old snapshots and trim the metadata log by the table's retention policy, then delete exactly the files only they referenced (listed)",
    )
    .option('-t, --table <name>', 'a configured table (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-a, --all', 'every configured table')
    .option('--dry-run', 'list what would be expired and deleted; change nothing')
    .option('--older-than <duration>', 'expire snapshots older than this (default: history.expire.max-snapshot-age-ms, else 5d)')
    .option('--retain-last <n>', 'always keep the newest N snapshots (default: history.expire.min-snapshots-to-keep, else 1)')
    .option('--keep-metadata <n>', 'previous metadata files the log keeps (default: write.metadata.previous-versions-max, else 100)')
    .option('--json', 'print one JSON document')
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .addHelpText(
      'after',
      '\nThe current snapshot, snapshots a branch or tag points at, and every file a kept snapshot reads are never removed. ' +
        'Exit code 0 when done (or nothing to expire); 5 when a table was busy (another worker holds it).',
    )
    .action(async (options: ExpireCliOptions) => {
      await expire(options, ctx);
    });
}
