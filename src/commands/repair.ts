// `offload repair --table T --partition P [--dry-run] [--json]`: replace one partition's files by the rows
// ClickHouse holds for it up to the watermark, in one commit, the watermark unchanged (src/pipeline/repair.ts).
import type { Command } from 'commander';
import { findTable, loadTablesConfig } from '../config/tables.js';
import { ExitCode, UsageError } from '../core/errors.js';
import { formatWatermark } from '../core/watermark.js';
import { repairPartition, type PartitionRepair } from '../pipeline/repair.js';
import { openServices } from '../pipeline/services.js';
import { formatCount, formatSeconds, printJson, println, type CommandContext } from './output.js';

export interface RepairCliOptions {
  config?: string;
  table?: string;
  partition?: string;
  dryRun?: boolean;
  json?: boolean;
}

function side(s: { rows: number; files: number } | null): string {
  return s ? `${formatCount(s.rows)} rows in ${s.files} file(s)` : 'no rows';
}

function describe(r: PartitionRepair): string {
  const where = `${r.table} ${r.partition}`;
  const upTo = r.watermark ? ` up to ${formatWatermark(r.watermark)}` : '';
  switch (r.status) {
    case 'repaired':
    case 'emptied':
      return `${where}: ${r.status === 'emptied' ? `emptied (ClickHouse has no row of it${upTo})` : `repaired: ${side(r.before)} replaced by ${side(r.after)} from ClickHouse${upTo}`}, snapshot ${r.snapshotId}, run ${r.runId} (${formatSeconds(r.durationMs)})`;
    case 'dry-run':
      return `${where}: would replace ${side(r.before)} by the ${formatCount(r.after?.rows ?? 0)} rows ClickHouse holds for it${upTo}`;
    case 'nothing-to-repair':
      return `${where}: nothing to repair (neither Iceberg nor ClickHouse${upTo} has a row of it)`;
    case 'busy':
      return `${where}: busy — another worker holds the table; nothing done`;
    case 'no-table':
      return `${where}: ${r.target} does not exist yet; offload the table first`;
  }
}

export async function repair(options: RepairCliOptions, ctx: CommandContext): Promise<PartitionRepair> {
  if (!options.table || !options.partition)
    throw new UsageError('repair needs --table T and --partition P (the partition as offload verify prints it)');
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const table = findTable(config, options.table);
  const services = openServices(ctx.env, 'repair');
  let result: PartitionRepair;
  try {
    result = await repairPartition(
      table,
      { ...services.offloadDeps(), clickhouse: services.clickhouse },
      {
        partition: options.partition,
        dryRun: options.dryRun,
        onPhase: (phase) => {
          if (!options.json) println(ctx.stderr, `${table.name} ${options.partition}: ${phase}`);
        },
        onLog: (level, message) => {
          if (level !== 'info') println(ctx.stderr, `${table.name}: ${message}`);
        },
      },
    );
  } finally {
    await services.close();
  }
  if (options.json) printJson(ctx.stdout, result);
  else println(ctx.stdout, describe(result));
  if (result.status === 'busy') ctx.exitCode = ExitCode.busy;
  else if (result.status === 'no-table') ctx.exitCode = ExitCode.failed;
  return result;
}

export function registerRepair(program: Command, ctx: CommandContext): void {
  program
    .command('repair')
    .description(
      "replace one partition's files by the rows ClickHouse holds for it up to the watermark: one commit, watermark unchanged, under the table's lock",
    )
    .option('-t, --table <name>', 'the configured table')
    .option('-p, --partition <path>', 'the partition, as offload verify prints it (e.g. exchange_timestamp_day=2026-02-11)')
    .option('--dry-run', 'count the rows on both sides; write nothing')
    .option('--json', 'print one JSON document')
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .addHelpText(
      'after',
      '\nA partition ClickHouse no longer has any row of is emptied (its files deleted). ' +
        'Exit code 0 when repaired (or nothing to repair); 5 when the table was busy; 1 when the Iceberg table does not exist yet; ' +
        '2 when the partition is unknown on both sides.',
    )
    .action(async (options: RepairCliOptions) => {
      await repair(options, ctx);
    });
}
