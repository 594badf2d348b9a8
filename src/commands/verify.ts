// `offload verify [--table T] [--partition P] [--json]`: per partition, ClickHouse's rows up to the watermark
// against the Iceberg table's rows — counts and a checksum of every column, computed by ClickHouse and by
// DuckDB (src/verify/partitions.ts) — and the partitions that differ. Exit 0 when all match, 7 when one differs.
import type { Command } from 'commander';
import { findTable, loadTablesConfig } from '../config/tables.js';
import { ExitCode, UsageError } from '../core/errors.js';
import { formatWatermark } from '../core/watermark.js';
import { openServices } from '../pipeline/services.js';
import { verifyPartitions, type PartitionComparison, type TablePartitionCheck } from '../verify/partitions.js';
import { alignedTable, formatCount, formatSeconds, printJson, println, type CommandContext } from './output.js';

export interface VerifyCliOptions {
  config?: string;
  table?: string[];
  partition?: string;
  json?: boolean;
}

export type TableVerifyResult = TablePartitionCheck | { table: string; target: string; status: 'error'; error: string };

const rowsOf = (n: PartitionComparison['clickhouse']) => (n ? formatCount(Number(n.rows)) : '—');

/** One line per table: its verdict with the numbers behind it. */
function summaryLine(r: TableVerifyResult): string {
  if (r.status === 'error') return `${r.table}: not verified: ${r.error}`;
  const c = r.checksums;
  if (!c)
    return r.status === 'match'
      ? `${r.table}: no Iceberg table yet and no ClickHouse row up to the watermark`
      : `${r.table}: DIFFERS — ClickHouse has rows up to the watermark but ${r.target} does not exist`;
  const differ = c.partitions.filter((p) => p.status === 'differ').length;
  const unverifiable = c.partitions.filter((p) => p.status === 'unverifiable').length;
  const head = `${r.table}: ${c.partitions.length} partition(s), ${formatCount(c.clickhouseRows)} ClickHouse rows up to ${formatWatermark(c.watermark)}, ${formatCount(c.icebergRows)} Iceberg rows, ${c.columns.length} columns`;
  const skipped = c.skippedColumns.length ? ` (not in the source: ${c.skippedColumns.join(', ')})` : '';
  if (differ > 0) return `${head}${skipped}: ${differ} DIFFER (${formatSeconds(r.elapsedMs)})`;
  if (unverifiable > 0)
    return `${head}${skipped}: ${unverifiable} could not be verified (equality deletes) (${formatSeconds(r.elapsedMs)})`;
  return `${head}${skipped}: all match (${formatSeconds(r.elapsedMs)})`;
}

export async function verify(options: VerifyCliOptions, ctx: CommandContext): Promise<TableVerifyResult[]> {
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const tables = options.table?.length ? options.table.map((t) => findTable(config, t)) : config.tables;
  if (options.partition !== undefined && tables.length !== 1) throw new UsageError('--partition needs exactly one --table');
  const services = openServices(ctx.env, 'verify');
  const results: TableVerifyResult[] = [];
  try {
    for (const t of tables) {
      try {
        results.push(await verifyPartitions(services, t, { partition: options.partition }));
      } catch (err) {
        // One table's failure (unreachable file, unsupported type) does not stop the others; a service down does.
        if ((err as { exitCode?: number }).exitCode === ExitCode.unavailable) throw err;
        results.push({ table: t.name, target: t.target, status: 'error', error: (err as Error).message.split('\n')[0] });
      }
    }
  } finally {
    await services.close();
  }
  if (options.json) printJson(ctx.stdout, { tables: results });
  else {
    const rows = results.flatMap((r) =>
      r.status === 'error' || !r.checksums
        ? []
        : r.checksums.partitions
            .filter((p) => p.status !== 'match')
            .map((p) => [r.table, p.path || '(unpartitioned)', rowsOf(p.clickhouse), rowsOf(p.iceberg), p.status, p.reason ?? '']),
    );
    if (rows.length > 0)
      for (const line of alignedTable(['TABLE', 'PARTITION', 'CLICKHOUSE ROWS', 'ICEBERG ROWS', 'STATE', 'WHY'], rows, new Set([2, 3])))
        println(ctx.stdout, line);
    for (const r of results) println(ctx.stdout, summaryLine(r));
    if (results.some((r) => r.status === 'differ' || r.status === 'no-table'))
      println(
        ctx.stdout,
        'a partition that differs can be replaced by the rows ClickHouse holds for it: offload repair --table T --partition P',
      );
  }
  if (results.some((r) => r.status === 'differ' || r.status === 'no-table')) ctx.exitCode = ExitCode.invariant;
  else if (results.some((r) => r.status === 'error' || r.status === 'unverifiable')) ctx.exitCode = ExitCode.failed;
  return results;
}

export function registerVerify(program: Command, ctx: CommandContext): void {
  program
    .command('verify')
    .description(
      'per partition, ClickHouse rows up to the watermark against the Iceberg rows: counts and a checksum of every column, computed by ClickHouse and DuckDB',
    )
    .option('-t, --table <name>', 'a configured table (repeatable; default: all)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-p, --partition <path>', 'only this partition (e.g. exchange_timestamp_day=2026-02-11)')
    .option('--json', 'print one JSON document with every partition’s numbers')
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .addHelpText(
      'after',
      '\nExit code 0 when every partition matches; 7 when one differs (offload repair replaces it); ' +
        "1 when a table could not be verified (its error is printed; partitions with another engine's equality deletes cannot be).",
    )
    .action(async (options: VerifyCliOptions) => {
      await verify(options, ctx);
    });
}
