// `offload compact [--table T | --all] [--partition P] [--dry-run] [--json]`: rewrite each partition's small
// data files into files of the target size, one `replace` snapshot per partition, rows unchanged
// (src/pipeline/compact.ts).
import type { Command } from 'commander';
import { durationMs, findTable, loadTablesConfig, type TableConfig } from '../config/tables.js';
import { ExitCode, UsageError } from '../core/errors.js';
import { compactTable, type TableCompaction } from '../pipeline/compact.js';
import { openServices } from '../pipeline/services.js';
import { alignedTable, formatCount, printJson, println, type CommandContext } from './output.js';

export interface CompactCliOptions {
  config?: string;
  table?: string[];
  all?: boolean;
  partition?: string;
  dryRun?: boolean;
  minFiles?: string;
  smallFileRatio?: string;
  minAge?: string;
  json?: boolean;
}

/** --table T (repeatable) or --all; exactly one of them. */
export function chooseTables(tables: TableConfig[], file: string, table: string[] | undefined, all: boolean | undefined): TableConfig[] {
  if (Boolean(table?.length) === Boolean(all)) throw new UsageError('choose the tables: --table T (repeatable) or --all');
  return table?.length ? table.map((t) => findTable({ file, tables }, t)) : tables;
}

function numberOption(text: string | undefined, flag: string, valid: (n: number) => boolean, expected: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || !valid(n)) throw new UsageError(`${flag}: expected ${expected}, got "${text}"`);
  return n;
}

const TABLE_STATUS: Record<TableCompaction['status'], string> = {
  compacted: 'compacted',
  'nothing-to-compact': 'nothing to compact',
  'dry-run': 'nothing to compact',
  busy: 'busy — another worker holds it; nothing done',
  'no-table': 'no Iceberg table yet; nothing to compact',
  stopped: 'stopped',
};

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export async function compact(options: CompactCliOptions, ctx: CommandContext): Promise<TableCompaction[]> {
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const tables = chooseTables(config.tables, config.file, options.table, options.all);
  if (options.partition !== undefined && tables.length !== 1) throw new UsageError('--partition needs exactly one --table');
  const minFiles = numberOption(options.minFiles, '--min-files', (n) => Number.isInteger(n) && n >= 2, 'a whole number ≥ 2');
  const smallFileRatio = numberOption(options.smallFileRatio, '--small-file-ratio', (n) => n > 0 && n <= 1, 'a fraction in (0, 1]');
  let minAgeMs: number | undefined;
  if (options.minAge !== undefined) {
    const ms = durationMs(options.minAge);
    if (ms === null) throw new UsageError(`--min-age: "${options.minAge}" is not a duration (e.g. "1h", "30m", "0s")`);
    minAgeMs = ms;
  }
  const services = openServices(ctx.env, 'compact');
  const results: TableCompaction[] = [];
  try {
    const deps = services.offloadDeps();
    for (const t of tables) {
      results.push(
        await compactTable(t, deps, {
          partition: options.partition,
          dryRun: options.dryRun,
          minFiles,
          smallFileRatio,
          minAgeMs,
          onLog: (level, message) => {
            if (level !== 'info') println(ctx.stderr, `${t.name}: ${message}`);
          },
          onProgress: (p) => {
            if (p.kind === 'partition-started' && !options.json)
              println(ctx.stderr, `${p.table}: compacting ${p.path} (${p.index + 1}/${p.total})`);
          },
        }),
      );
    }
  } finally {
    await services.close();
  }
  if (options.json) printJson(ctx.stdout, { dryRun: Boolean(options.dryRun), tables: results });
  else {
    const rows = results.flatMap((r) =>
      r.partitions.map((p) => [
        r.table,
        p.path || '(unpartitioned)',
        p.status,
        `${p.filesBefore} → ${p.filesAfter}`,
        String(p.smallFiles),
        formatCount(p.rows),
        `${mib(p.bytesBefore)} → ${mib(p.bytesAfter)}`,
        p.reason ?? p.runId ?? '',
      ]),
    );
    for (const line of alignedTable(['TABLE', 'PARTITION', 'STATE', 'FILES', 'SMALL', 'ROWS', 'BYTES', 'RUN / WHY'], rows, new Set([4, 5])))
      println(ctx.stdout, line);
    for (const r of results) if (r.partitions.length === 0) println(ctx.stdout, `${r.table}: ${TABLE_STATUS[r.status]}`);
  }
  if (results.some((r) => r.partitions.some((p) => p.status === 'failed'))) ctx.exitCode = ExitCode.failed;
  else if (results.some((r) => r.status === 'busy')) ctx.exitCode = ExitCode.busy;
  return results;
}

export function registerCompact(program: Command, ctx: CommandContext): void {
  program
    .command('compact')
    .description(
      "rewrite each partition's small data files into files of the target size: one replace snapshot per partition, rows unchanged, under the table's lock",
    )
    .option('-t, --table <name>', 'a configured table (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-a, --all', 'every configured table')
    .option('-p, --partition <path>', 'only this partition, as details and verify print it (e.g. exchange_timestamp_day=2026-02-11)')
    .option('--dry-run', 'print what would be compacted; write nothing')
    .option('--min-files <n>', "compact a partition from this many small files (default: the table's compaction policy, else 5)")
    .option('--small-file-ratio <r>', "a file is small below this fraction of the target file size (default: the policy's, else 0.75)")
    .option('--min-age <duration>', 'only partitions the watermark has passed and that ended at least this long ago (default: any)')
    .option('--json', 'print one JSON document')
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .addHelpText(
      'after',
      '\nExit code 0 when every chosen partition was compacted or had nothing to compact; 5 when a table was busy (another worker holds it); ' +
        '1 when a partition failed (its rewrite did not hold the rows it read; nothing of it was committed).',
    )
    .action(async (options: CompactCliOptions) => {
      await compact(options, ctx);
    });
}
