// `offload status [--json]`: every configured table with its watermark, ClickHouse rows and Iceberg rows.
import type { Command } from 'commander';
import { loadTablesConfig } from '../config/tables.js';
import { ExitCode } from '../core/errors.js';
import { openServices } from '../pipeline/services.js';
import { lateDataLines } from '../pipeline/late-data.js';
import { collectStatus } from '../pipeline/status.js';
import type { StatusReport, TableStatus } from '../pipeline/status-model.js';
import { formatCount, formatInstant, logLine, printJson, printTable, println, type CommandContext } from './output.js';

export interface StatusOptions {
  config?: string;
  json?: boolean;
}

export async function status(options: StatusOptions, ctx: CommandContext): Promise<StatusReport> {
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const services = openServices(ctx.env, 'status');
  let report: StatusReport;
  try {
    report = await collectStatus({
      config,
      clickhouse: services.clickhouse,
      pool: services.pool,
      catalog: services.catalog,
      io: services.io,
    });
  } finally {
    await services.close();
  }

  if (options.json) printJson(ctx.stdout, report);
  else printHuman(ctx, report, config.file);

  // Scripts get the document (or the table) and a non-zero exit naming the service that is down.
  const down = report.services.filter((s) => !s.ok);
  if (down.length > 0) {
    for (const s of down)
      logLine(ctx.stderr, `offload: ${s.error ?? `cannot reach ${s.name} at ${s.url}`}`, {
        level: 'error',
        event: 'service-unreachable',
        service: s.name,
      });
    ctx.exitCode = ExitCode.unavailable;
  }
  return report;
}

function watermarkText(t: TableStatus): string {
  if (!t.watermark.ok) return '?'; // the reason is listed under the table
  const w = t.watermark.value;
  return `${formatInstant(w.timestamp)}${w.tieBreak !== null ? ` #${w.tieBreak}` : ''}`;
}

/** Late rows, and changed closed windows of a candle table: `3 rows`, `2 windows`, `0`, or — before any offload. */
function lateText(t: TableStatus): string {
  if (t.late === null) return '—';
  if (!t.late.ok) return '?';
  const parts = [
    ...(t.late.value.rows > 0 ? [`${formatCount(t.late.value.rows)} rows`] : []),
    ...(t.late.value.changedWindows.length > 0 ? [`${formatCount(t.late.value.changedWindows.length)} windows`] : []),
  ];
  return parts.length > 0 ? parts.join(', ') : '0';
}

function printHuman(ctx: CommandContext, report: StatusReport, file: string): void {
  for (const s of report.services) {
    println(ctx.stdout, `${s.name.padEnd(10)}  ${s.url}  ${s.ok ? (s.version ?? 'up') : 'UNREACHABLE'}`);
  }
  println(ctx.stdout, `config      ${file}`);
  println(ctx.stdout);
  const header = ['TABLE', 'LAYER', 'WATERMARK', 'STATE', 'CH ROWS', 'UP TO WM', 'PENDING', 'ICEBERG', 'Δ', 'LATE', 'LAST RUN'];
  const rows = report.tables.map((t) => {
    const ch = t.clickhouse;
    const ice = t.iceberg;
    return [
      t.name + (t.isBusy ? ' (busy)' : ''),
      t.layer,
      watermarkText(t),
      t.watermark.ok ? t.watermark.value.status : '?',
      ch.ok ? formatCount(ch.value.totalRows) : '?',
      ch.ok ? formatCount(ch.value.rowsUpToWatermark) : '?',
      ch.ok ? formatCount(ch.value.pendingRows) : '?',
      !ice.ok ? '?' : ice.value.exists ? formatCount(ice.value.rows) : 'no table yet',
      t.delta === null ? '?' : formatCount(t.delta),
      lateText(t),
      t.lastRun ? `${t.lastRun.status} ${formatInstant(t.lastRun.startedAt)}` : '—',
    ];
  });
  printTable(ctx.stdout, header, rows, new Set([4, 5, 6, 8, 9]), (i) => ({ table: report.tables[i].name, busy: report.tables[i].isBusy }));
  // Cells that failed while their service answered (a missing table, a query that does not run).
  const isUp = (name: string) => report.services.some((s) => s.name === name && s.ok);
  const problems = [
    ...report.tables.flatMap((t) =>
      !t.clickhouse.ok && isUp('ClickHouse') ? [{ table: t.name, reason: `ClickHouse: ${t.clickhouse.error}` }] : [],
    ),
    ...report.tables.flatMap((t) =>
      !t.watermark.ok && isUp('PostgreSQL') ? [{ table: t.name, reason: `watermark: ${t.watermark.error}` }] : [],
    ),
  ];
  // Late data, and the repair of each partition that holds it.
  const late = report.tables.flatMap((t) => (t.late?.ok ? lateDataLines(t.name, t.late.value) : []));
  if (late.length > 0) {
    println(ctx.stdout);
    for (const l of late) println(ctx.stdout, l);
  }
  problems.push(...report.tables.flatMap((t) => (t.late && !t.late.ok ? [{ table: t.name, reason: `late data: ${t.late.error}` }] : [])));
  if (problems.length > 0) {
    // One line per distinct reason, naming the tables it concerns.
    const byReason = new Map<string, string[]>();
    for (const p of problems) byReason.set(p.reason, [...(byReason.get(p.reason) ?? []), p.table]);
    println(ctx.stdout);
    for (const [reason, tables] of byReason) {
      println(ctx.stdout, `${tables.length === report.tables.length ? 'every table' : tables.join(', ')}: ${reason}`);
    }
  }
}

export function registerStatus(program: Command, ctx: CommandContext): void {
  program
    .command('status')
    .description(
      'show every configured table: layer, watermark, ClickHouse rows (total / up to the watermark / pending), Iceberg rows, last run',
    )
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .option('--json', 'print one JSON document (stable keys; see src/pipeline/status-model.ts)')
    .addHelpText(
      'after',
      '\nExit code 0 when every service answered; 4 when ClickHouse or PostgreSQL cannot be reached (the report is still printed, with the unreachable cells marked).',
    )
    .action(async (options: StatusOptions) => {
      await status(options, ctx);
    });
}
