// What a drill proves, as data: every step (the fault, the processes that ran and how they ended, the
// invariants checked afterwards with their numbers) and the totals. Written as JSON (the `--json` document)
// and as Markdown (`--report <dir>`), the same content both ways.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECK_TITLES, type CheckName, type InvariantCheck } from '../verify/check.js';

export type DrillOutcome = 'held' | 'broken' | 'inconclusive';

/** One `offload` process a drill started. */
export interface ChildRun {
  /** What it was for: the run killed at the fault, the run that recovers, a second worker, … */
  role: 'killed' | 'recovery' | 'faulty' | 'second-worker' | 'racer' | 'run';
  table: string;
  /** The armed crash fault, if any. */
  fault: string | null;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  /** The run's outcome as it reported it: committed, up-to-date, busy, failed: …, killed at <fault>. */
  outcome: string;
  /** offload_runs ids it reported, when it did. */
  runIds: string[];
  rows: number | null;
}

export interface StepVerification {
  checks: InvariantCheck[];
  clickhouseRows: number | null;
  icebergRows: number | null;
  orphansFound: number | null;
  elapsedMs: number;
}

export interface DrillStep {
  index: number;
  kind: 'crash' | 'transient' | 'concurrent' | 'random';
  /** The configured table drilled (its sandbox copy is what ran). */
  table: string;
  fault: string;
  /** What the fault simulates, one sentence. */
  simulates: string;
  runs: ChildRun[];
  /** Transient faults: how many times the proxy injected it. */
  injected: number | null;
  verification: StepVerification | null;
  outcome: DrillOutcome;
  /** Why a step is broken or inconclusive, or what happened worth saying. */
  note: string;
  elapsedMs: number;
}

export interface DrillReport {
  kind: 'faults' | 'random';
  startedAt: string;
  finishedAt: string;
  elapsedMs: number;
  /** Where it ran (URLs redacted) and on what. */
  environment: {
    clickhouse: string;
    postgres: string;
    warehouse: string;
    /** The Iceberg catalog the sandboxes were committed to (absent in reports written before catalogs were chosen). */
    catalog?: string;
    sandbox: { id: string; namespace: string; kept: boolean };
    tables: Array<{ table: string; sandbox: string; source: string; target: string }>;
  };
  options: Record<string, string | number | boolean | string[] | null>;
  steps: DrillStep[];
  /** The invariants checked once more at the end, per table (random drills; fault drills check after every step). */
  final: Array<{ table: string; verification: StepVerification }>;
  totals: {
    steps: number;
    kills: number;
    transientInjected: number;
    offloadProcesses: number;
    /** ClickHouse rows compared with Iceberg rows, summed over every check. */
    rowsChecked: number;
    invariantsChecked: number;
    invariantsHeld: number;
    invariantsBroken: number;
    invariantsSkipped: number;
    stepsHeld: number;
    stepsBroken: number;
    stepsInconclusive: number;
    /** Trades inserted while the drill ran (random drills). */
    tradesInserted: number;
  };
  outcome: DrillOutcome;
}

export function combineOutcomes(outcomes: DrillOutcome[]): DrillOutcome {
  if (outcomes.includes('broken')) return 'broken';
  if (outcomes.includes('inconclusive')) return 'inconclusive';
  return 'held';
}

/** A step's verdict from its checks alone: broken when one is, and when there are none. */
export function outcomeOfChecks(v: StepVerification | null): DrillOutcome {
  if (!v) return 'broken';
  return v.checks.some((c) => c.status === 'broken') ? 'broken' : 'held';
}

/** The broken checks in one sentence: `name: detail; …`. */
export function brokenChecks(v: StepVerification | null): string {
  return (v?.checks ?? [])
    .filter((c) => c.status === 'broken')
    .map((c) => `${c.name}: ${c.detail}`)
    .join('; ');
}

/** The report of a finished drill: its steps, final checks, totals and verdict. */
export function buildReport(
  kind: DrillReport['kind'],
  startedAt: Date,
  environment: DrillReport['environment'],
  steps: DrillStep[],
  final: DrillReport['final'],
  tradesInserted: number,
  options: DrillReport['options'],
): DrillReport {
  const finishedAt = new Date();
  const outcomes = [...steps.map((s) => s.outcome), ...final.map((f) => outcomeOfChecks(f.verification))];
  return {
    kind,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    elapsedMs: finishedAt.getTime() - startedAt.getTime(),
    environment,
    options,
    steps,
    final,
    totals: totalsOf(steps, final, tradesInserted),
    outcome: steps.length === 0 && final.length === 0 ? 'inconclusive' : combineOutcomes(outcomes),
  };
}

/** The totals of a report from its steps and final checks. */
export function totalsOf(steps: DrillStep[], final: DrillReport['final'], tradesInserted: number): DrillReport['totals'] {
  const verifications = [...steps.flatMap((s) => (s.verification ? [s.verification] : [])), ...final.map((f) => f.verification)];
  const checks = verifications.flatMap((v) => v.checks);
  return {
    steps: steps.length,
    kills: steps.reduce((n, s) => n + s.runs.filter((r) => r.signal === 'SIGKILL').length, 0),
    transientInjected: steps.reduce((n, s) => n + (s.injected ?? 0), 0),
    offloadProcesses: steps.reduce((n, s) => n + s.runs.length, 0),
    rowsChecked: verifications.reduce((n, v) => n + (v.clickhouseRows ?? 0), 0),
    invariantsChecked: checks.filter((c) => c.status !== 'skipped').length,
    invariantsHeld: checks.filter((c) => c.status === 'held').length,
    invariantsBroken: checks.filter((c) => c.status === 'broken').length,
    invariantsSkipped: checks.filter((c) => c.status === 'skipped').length,
    stepsHeld: steps.filter((s) => s.outcome === 'held').length,
    stepsBroken: steps.filter((s) => s.outcome === 'broken').length,
    stepsInconclusive: steps.filter((s) => s.outcome === 'inconclusive').length,
    tradesInserted,
  };
}

// ─── Markdown ───────────────────────────────────────────────────────────────────────────────────────

const MARK: Record<InvariantCheck['status'], string> = { held: '✓', broken: '✗', skipped: '–' };
const OUTCOME_TEXT: Record<DrillOutcome, string> = {
  held: 'every invariant held',
  broken: 'an invariant was broken',
  inconclusive: 'inconclusive (a fault was not reached or not injected)',
};

/** `lost 0 · clickhouseRowsUpToWatermark 12,345` */
export function formatNumbers(numbers: InvariantCheck['numbers']): string {
  return Object.entries(numbers)
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`)
    .join(' · ');
}

/** One line per invariant: `✓ rows lost — lost 0 · clickhouseRowsUpToWatermark 12,345 · icebergRows 12,345`. */
export function checkLine(c: InvariantCheck): string {
  const numbers = formatNumbers(c.numbers);
  return `${MARK[c.status]} ${CHECK_TITLES[c.name]}${numbers ? ` — ${numbers}` : ''}`;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

const COLUMN_ORDER: CheckName[] = [
  'rows-lost',
  'rows-duplicated',
  'watermark-matches-snapshot',
  'no-run-left-running',
  'metadata-readable',
  'pyiceberg-loads',
  'orphans-collected',
];

function runText(r: ChildRun): string {
  const how = r.signal ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
  return `${r.role} (${how}, ${(r.durationMs / 1000).toFixed(1)} s): ${r.outcome}`;
}

export function renderMarkdown(report: DrillReport): string {
  const t = report.totals;
  const lines: string[] = [];
  lines.push(`# Failure-recovery drill: ${OUTCOME_TEXT[report.outcome]}`, '');
  lines.push(
    `${report.kind === 'random' ? 'Random drill' : 'Fault drill'} from ${report.startedAt} to ${report.finishedAt} (${(report.elapsedMs / 1000).toFixed(1)} s).`,
    '',
    `- steps: ${t.steps} (${t.stepsHeld} held, ${t.stepsBroken} broken, ${t.stepsInconclusive} inconclusive)`,
    `- offload processes: ${t.offloadProcesses}, killed by SIGKILL: ${t.kills}; transient faults injected: ${t.transientInjected}`,
    `- invariants: ${t.invariantsChecked} checked, ${t.invariantsHeld} held, ${t.invariantsBroken} broken, ${t.invariantsSkipped} skipped`,
    `- rows compared (ClickHouse up to the watermark vs Iceberg, as multisets): ${t.rowsChecked.toLocaleString('en-US')}`,
  );
  if (t.tradesInserted > 0) lines.push(`- trades inserted while the drill ran: ${t.tradesInserted.toLocaleString('en-US')}`);
  lines.push('', '## Where', '');
  const e = report.environment;
  lines.push(
    `- ClickHouse ${e.clickhouse}; PostgreSQL ${e.postgres}; warehouse ${e.warehouse}${e.catalog ? `; catalog: ${e.catalog}` : ''}`,
  );
  lines.push(
    `- sandbox ${e.sandbox.id}: Iceberg namespace \`${e.sandbox.namespace}\` (${e.sandbox.kept ? 'kept for inspection' : 'removed after the drill'})`,
  );
  for (const x of e.tables) lines.push(`- ${x.table}: ${x.source} → ${x.target} (as ${x.sandbox})`);
  const opts = Object.entries(report.options).filter(([, v]) => v !== null && v !== false && !(Array.isArray(v) && v.length === 0));
  if (opts.length > 0) lines.push(`- options: ${opts.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join(' ')}`);

  lines.push('', '## Steps', '');
  lines.push(`| # | table | fault | outcome | ${COLUMN_ORDER.map((c) => CHECK_TITLES[c]).join(' | ')} |`);
  lines.push(`|---|---|---|---|${COLUMN_ORDER.map(() => '---').join('|')}|`);
  for (const s of report.steps) {
    const by = new Map((s.verification?.checks ?? []).map((c) => [c.name, c]));
    const cells = COLUMN_ORDER.map((name) => {
      const c = by.get(name);
      if (!c) return '';
      const key =
        name === 'rows-lost'
          ? c.numbers.lost
          : name === 'rows-duplicated'
            ? c.numbers.duplicated
            : name === 'orphans-collected'
              ? c.numbers.found
              : null;
      return `${MARK[c.status]}${key !== null && key !== undefined ? ` ${key}` : ''}`;
    });
    lines.push(`| ${s.index} | ${s.table} | ${s.fault} | ${s.outcome} | ${cells.join(' | ')} |`);
  }

  for (const s of report.steps) {
    lines.push('', `### ${s.index}. ${s.table} — ${s.fault} (${s.kind}): ${s.outcome}`, '');
    lines.push(`Simulates: ${s.simulates}`, '');
    for (const r of s.runs) lines.push(`- ${escapeCell(runText(r))}`);
    if (s.injected !== null) lines.push(`- fault injected ${s.injected} time(s)`);
    if (s.note) lines.push(`- ${escapeCell(s.note)}`);
    if (s.verification) {
      lines.push('');
      for (const c of s.verification.checks)
        lines.push(`  - ${escapeCell(checkLine(c))}${c.status === 'held' ? '' : ` (${escapeCell(c.detail)})`}`);
    }
  }

  if (report.final.length > 0) {
    lines.push('', '## Final checks', '');
    for (const f of report.final) {
      lines.push(`### ${f.table}`, '');
      for (const c of f.verification.checks)
        lines.push(`- ${escapeCell(checkLine(c))}${c.status === 'held' ? '' : ` (${escapeCell(c.detail)})`}`);
      lines.push('');
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `drill-<time>.json` and `drill-<time>.md` into `dir`; returns their paths. */
export async function writeReport(report: DrillReport, dir: string): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-').replace(/Z$/, 'Z');
  const json = join(dir, `drill-${stamp}.json`);
  const markdown = join(dir, `drill-${stamp}.md`);
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(markdown, renderMarkdown(report));
  return { json, markdown };
}
