// `offload status [--json]`: every service (ClickHouse, PostgreSQL, S3) and every configured table with its
// watermark, ClickHouse rows and Iceberg rows. The report is printed whatever is down; what failed is one
// line each on stderr, and the exit code says the most urgent kind (3 settings, 4 unreachable).
import type { Command } from 'commander';
import { loadTablesConfig } from '../config/tables.js';
import { ExitCode, overallExitCode } from '../core/errors.js';
import { openServices } from '../pipeline/services.js';
import { heldRowCount, heldRowsUpTo } from '../pipeline/held-rows.js';
import { findingLines } from '../pipeline/findings.js';
import { collectStatus } from '../pipeline/status.js';
import { TABLE_STATE_LABEL, tableState, type LastRun, type StatusReport, type TableStatus } from '../pipeline/status-model.js';
import { formatAgo } from '../ui/format.js';
import { alignedTable, formatCount, formatInstant, logLine, printJson, printTable, println, type CommandContext } from './output.js';

export interface StatusOptions {
  config?: string;
  json?: boolean;
}

export async function status(options: StatusOptions, ctx: CommandContext): Promise<StatusReport> {
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const services = openServices(ctx.env, 'status');
  let report: StatusReport;
  try {
    report = await collectStatus(services.statusSources(config));
  } finally {
    await services.close();
  }

  if (options.json) printJson(ctx.stdout, report);
  else printHuman(ctx, report, config.file);

  const failures = failuresOf(report);
  for (const f of failures) {
    const event = f.service === undefined ? 'table-failure' : f.exitCode === ExitCode.config ? 'service-refused' : 'service-unreachable';
    logLine(ctx.stderr, `offload: ${f.line}`, { level: 'error', event, service: f.service, exitCode: f.exitCode });
  }
  ctx.exitCode = overallExitCode(failures.map((f) => f.exitCode));
  return report;
}

/**
 * What failed, one line each: every service down, then every distinct failure of a table's cells whose
 * services answered (a missing source table, a column not there), naming the tables it concerns.
 */
export function failuresOf(report: StatusReport): Array<{ line: string; exitCode: number; service?: string }> {
  const down = report.services.filter((s) => !s.ok);
  const lines: Array<{ line: string; exitCode: number; service?: string }> = down.map((s) => ({
    line: s.error ?? `${s.name} at ${s.url} cannot be used`,
    exitCode: s.exitCode ?? ExitCode.failed,
    service: s.name,
  }));
  const byReason = new Map<string, { tables: string[]; exitCode: number }>();
  for (const t of report.tables) {
    const cells = [
      { cell: t.watermark, what: '' },
      { cell: t.clickhouse, what: '' },
      { cell: t.iceberg, what: '' },
      ...(t.late ? [{ cell: t.late, what: 'late data: ' }] : []),
    ];
    for (const { cell, what } of cells) {
      // A cell that failed because its service is down is said once, on the service's line.
      if (cell.ok || cell.service !== undefined) continue;
      const reason = `${what}${cell.error}`;
      const entry = byReason.get(reason) ?? { tables: [], exitCode: cell.exitCode ?? ExitCode.failed };
      if (!entry.tables.includes(t.name)) entry.tables.push(t.name);
      byReason.set(reason, entry);
    }
  }
  for (const [reason, { tables, exitCode }] of byReason) {
    const which = tables.length === report.tables.length && tables.length > 1 ? 'every table' : tables.join(', ');
    lines.push({ line: `${which}: ${reason.split('\n')[0]}`, exitCode });
  }
  return lines;
}

function watermarkText(t: TableStatus): string {
  if (!t.watermark.ok) return '?'; // the reason is on stderr
  const w = t.watermark.value;
  if (Date.parse(w.timestamp) <= 0 && w.tieBreak === null) return 'never';
  return `${formatInstant(w.timestamp)}${w.tieBreak !== null ? ` #${w.tieBreak}` : ''}`;
}

const RUN_WORDS: Record<LastRun['status'], string> = {
  committed: 'committed',
  up_to_date: 'up to date',
  failed: 'failed',
  aborted: 'aborted',
  running: 'running since',
};

function lastRunText(t: TableStatus, now: number): string {
  const r = t.lastRun;
  if (!r) return t.watermark.ok ? 'never' : '?'; // no state store, no history

  return `${RUN_WORDS[r.status]} ${formatAgo(r.status === 'running' ? r.startedAt : (r.finishedAt ?? r.startedAt), now)}`;
}

/** Held rows, late rows, and changed closed windows of a candle table: `1 held`, `3 rows`, `2 windows`, `0`, or — before any offload. */
function lateText(t: TableStatus): string {
  const allHeld = heldRowCount(t.held);
  const heldText = allHeld > 0 ? `${formatCount(allHeld)} held` : null;
  const held = heldRowsUpTo(t.held, t.watermark.ok ? t.watermark.value.timestamp : null);
  if (t.late === null) return heldText ?? '—';
  if (!t.late.ok) return heldText ? `${heldText}, ?` : '?';
  const parts = [
    ...(heldText ? [heldText] : []),
    ...(t.late.value.rows - held > 0 ? [`${formatCount(t.late.value.rows - held)} rows`] : []),
    ...(t.late.value.changedWindows.length > 0 ? [`${formatCount(t.late.value.changedWindows.length)} windows`] : []),
  ];
  return parts.length > 0 ? parts.join(', ') : '0';
}

function printHuman(ctx: CommandContext, report: StatusReport, file: string): void {
  const now = Date.parse(report.generatedAt);
  const serviceRows = report.services.map((s) => [
    `${s.ok ? '✓' : '✗'} ${s.name}`,
    s.url,
    s.location ?? '',
    s.ok ? (s.version ?? 'ok') : `${s.exitCode === ExitCode.config ? 'REFUSED' : 'UNREACHABLE'}: ${s.reason ?? s.error ?? ''}`,
  ]);
  for (const line of alignedTable(['', '', '', ''], serviceRows).slice(1)) println(ctx.stdout, line);
  println(ctx.stdout, `  config      ${file}`);
  println(ctx.stdout);
  const header = ['TABLE', 'LAYER', 'WATERMARK', 'STATE', 'CH ROWS', 'UP TO WM', 'PENDING', 'ICEBERG', 'Δ', 'LATE', 'LAST RUN'];
  const rows = report.tables.map((t) => {
    const ch = t.clickhouse;
    const ice = t.iceberg;
    return [
      t.name,
      t.layer,
      watermarkText(t),
      t.isBusy ? 'busy' : TABLE_STATE_LABEL[tableState(t)],
      ch.ok ? formatCount(ch.value.totalRows) : '?',
      ch.ok ? formatCount(ch.value.rowsUpToWatermark) : '?',
      ch.ok ? formatCount(ch.value.pendingRows) : '?',
      !ice.ok ? '?' : ice.value.exists ? `${ice.value.rowsApproximate ? '≈' : ''}${formatCount(ice.value.rows)}` : 'no table yet',
      t.delta === null ? '?' : formatCount(t.delta),
      lateText(t),
      lastRunText(t, now),
    ];
  });
  printTable(ctx.stdout, header, rows, new Set([4, 5, 6, 7, 8, 9]), (i) => ({
    table: report.tables[i].name,
    busy: report.tables[i].isBusy,
  }));
  // Held rows, late data, and the repair of each partition that holds it.
  const late = report.tables.flatMap((t) => findingLines(t));
  if (late.length > 0) {
    println(ctx.stdout);
    for (const l of late) println(ctx.stdout, l);
  }
}

export function registerStatus(program: Command, ctx: CommandContext): void {
  program
    .command('status')
    .description(
      'show the services (ClickHouse, PostgreSQL, S3) and every configured table: layer, watermark, ClickHouse rows (total / up to the watermark / pending), Iceberg rows, Δ, last run',
    )
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .option('--json', 'print one JSON document (stable keys; see src/pipeline/status-model.ts)')
    .addHelpText(
      'after',
      '\nThe report is printed whatever is down (unknown cells show ?); each failure is one line on stderr. Exit code 0 when ' +
        'everything answered; 3 when a service refused the settings (credentials, a missing database or bucket) or a ' +
        'configured source table or column does not exist; 4 when a service cannot be reached; 1 for any other failure.',
    )
    .action(async (options: StatusOptions) => {
      await status(options, ctx);
    });
}
