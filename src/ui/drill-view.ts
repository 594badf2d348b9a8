// The drill screen's state: what the operator picks (a table, a fault point or "random"), and what the
// drill reports as it goes (the offload processes, how they ended, each invariant with its numbers). Pure
// functions of the previous state, like the store's reducers, so the screen is a thin view and testable.
import type { ChildRun, DrillReport, DrillStep } from '../drill/report.js';
import type { DrillEvent } from '../drill/events.js';
import type { CheckName, InvariantCheck } from '../verify/check.js';
import type { DrillFault } from './backend.js';

export type DrillPhase = 'choose' | 'running' | 'done';

export interface DrillProcess {
  role: ChildRun['role'];
  pid: number | null;
  fault: string | null;
  /** null while it runs. */
  run: ChildRun | null;
}

export interface DrillView {
  phase: DrillPhase;
  focus: 'table' | 'fault';
  tables: string[];
  tableIndex: number;
  faults: DrillFault[];
  faultIndex: number;
  /** The step under way (or the last one). */
  step: { index: number; total: number; table: string; fault: string; simulates: string } | null;
  processes: DrillProcess[];
  injected: string[];
  checks: InvariantCheck[];
  isChecking: boolean;
  /** The checks under way (the row comparison of a large table takes minutes). */
  checkingNow: CheckName[];
  finished: DrillStep[];
  /** The last lines the offload processes printed. */
  output: string[];
  report: DrillReport | null;
  error: string | null;
  isStopping: boolean;
  savedTo: string | null;
  tradesInserted: number;
  startedAt: number | null;
}

export const OUTPUT_LINES = 200;

export function initialDrillView(tables: string[], faults: DrillFault[], selected: string | null): DrillView {
  const i = selected ? tables.indexOf(selected) : -1;
  return {
    phase: 'choose',
    // The table comes first: the one selected on the tables screen, which the operator may change.
    focus: 'table',
    tables,
    tableIndex: Math.max(0, i),
    faults,
    faultIndex: 0,
    step: null,
    processes: [],
    injected: [],
    checks: [],
    isChecking: false,
    checkingNow: [],
    finished: [],
    output: [],
    report: null,
    error: null,
    isStopping: false,
    savedTo: null,
    tradesInserted: 0,
    startedAt: null,
  };
}

export function chosenTable(v: DrillView): string | undefined {
  return v.tables[v.tableIndex];
}

export function chosenFault(v: DrillView): DrillFault | undefined {
  return v.faults[v.faultIndex];
}

export function reduceMoveChoice(v: DrillView, delta: number): DrillView {
  if (v.phase !== 'choose') return v;
  const clamp = (i: number, n: number) => Math.max(0, Math.min(n - 1, i));
  return v.focus === 'table'
    ? { ...v, tableIndex: clamp(v.tableIndex + delta, v.tables.length) }
    : { ...v, faultIndex: clamp(v.faultIndex + delta, v.faults.length) };
}

export function reduceFocus(v: DrillView, focus?: 'table' | 'fault'): DrillView {
  if (v.phase !== 'choose') return v;
  return { ...v, focus: focus ?? (v.focus === 'table' ? 'fault' : 'table') };
}

export function reduceStarted(v: DrillView, now: number): DrillView {
  return {
    ...initialDrillView(v.tables, v.faults, null),
    tableIndex: v.tableIndex,
    faultIndex: v.faultIndex,
    focus: v.focus,
    phase: 'running',
    startedAt: now,
  };
}

export function reduceStopping(v: DrillView): DrillView {
  return v.phase === 'running' ? { ...v, isStopping: true } : v;
}

function withOutput(v: DrillView, line: string): DrillView {
  const output = [...v.output, line];
  return { ...v, output: output.length > OUTPUT_LINES ? output.slice(-OUTPUT_LINES) : output };
}

export function reduceDrillEvent(v: DrillView, e: DrillEvent): DrillView {
  switch (e.kind) {
    case 'step-started':
      return {
        ...v,
        step: { index: e.index, total: e.total, table: e.table, fault: e.fault, simulates: e.simulates },
        processes: [],
        injected: [],
        checks: [],
        isChecking: false,
        checkingNow: [],
      };
    case 'child-started':
      return withOutput(
        { ...v, processes: [...v.processes, { role: e.role, pid: e.pid, fault: e.fault, run: null }] },
        `— ${e.role} started (pid ${e.pid ?? '?'})${e.fault ? `, fault ${e.fault} armed` : ''}`,
      );
    case 'child-line':
      return withOutput(v, `${e.role}: ${e.line}`);
    case 'child-exited': {
      const processes = [...v.processes];
      const i = processes.findIndex((p) => p.run === null && p.role === e.run.role && (p.pid === e.run.pid || p.pid === null));
      if (i >= 0) processes[i] = { ...processes[i], run: e.run };
      else processes.push({ role: e.run.role, pid: e.run.pid, fault: e.run.fault, run: e.run });
      return withOutput(
        { ...v, processes },
        `— ${e.run.role} ${e.run.signal ? `killed by ${e.run.signal}` : `exited ${e.run.exitCode}`}: ${e.run.outcome}`,
      );
    }
    case 'fault-injected':
      return withOutput({ ...v, injected: [...v.injected, e.detail] }, `— injected: ${e.detail}`);
    case 'checking':
      return e.checks ? { ...v, isChecking: true, checkingNow: e.checks } : { ...v, isChecking: true, checks: [], checkingNow: [] };
    case 'check':
      return { ...v, checks: [...v.checks, e.check], checkingNow: v.checkingNow.filter((n) => n !== e.check.name) };
    case 'step-finished':
      return { ...v, isChecking: false, checkingNow: [], finished: [...v.finished, e.step] };
    case 'trades':
      return { ...v, tradesInserted: e.inserted };
    case 'log':
      return withOutput(v, `drill: ${e.message}`);
    case 'drill-finished':
      return { ...v, report: e.report };
    default:
      return v;
  }
}

export function reduceDrillDone(v: DrillView, report: DrillReport | null, error: string | null): DrillView {
  return { ...v, phase: 'done', report: report ?? v.report, error, isStopping: false, isChecking: false, checkingNow: [] };
}

export function reduceSaved(v: DrillView, savedTo: string | null, error: string | null = null): DrillView {
  return { ...v, savedTo, error: error ?? v.error };
}

/** The checks to show: the final checks of a random drill once they exist, else the current step's. */
export function shownChecks(v: DrillView): InvariantCheck[] {
  const final = v.report?.final ?? [];
  if (final.length > 0) return final.flatMap((f) => f.verification.checks);
  return v.checks;
}

const n = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('en-US') : v === null || v === undefined ? '?' : String(v));

/** An invariant's numbers in a few words, for one line of the screen. */
export function checkSummary(c: InvariantCheck): string {
  const x = c.numbers;
  if (c.status === 'skipped') return c.detail;
  if (Object.keys(x).length === 0) return c.detail;
  switch (c.name) {
    case 'rows-lost':
      return `lost ${n(x.lost)} · ClickHouse ${n(x.clickhouseRowsUpToWatermark)} · Iceberg ${n(x.icebergRows)}`;
    case 'rows-duplicated':
      return `duplicated ${n(x.duplicated)} · unexpected ${n(x.unexpected)}`;
    case 'watermark-matches-snapshot':
      return x.snapshotId === null ? `${n(x.watermark)} (no snapshot yet)` : `${n(x.watermark)} = snapshot ${n(x.snapshotId)}`;
    case 'no-run-left-running':
      return `running ${n(x.running)} · committed ${n(x.committed)} · aborted ${n(x.aborted)} · failed ${n(x.failed)}`;
    case 'metadata-readable':
      return `${n(x.snapshots)} snapshot(s) · ${n(x.dataFiles)} data file(s) · ${n(x.manifestRecords)} records`;
    case 'pyiceberg-loads':
      return `${n(x.rows)} rows · snapshot ${n(x.snapshotId)}`;
    case 'orphans-collected':
      return `found ${n(x.found)} · removed ${n(x.removedByGc)} · left ${n(x.left)}`;
  }
}

/** How a finished offload process ended, in a few words. */
export function processSummary(r: ChildRun): string {
  const secs = `${(r.durationMs / 1000).toFixed(1)} s`;
  if (r.signal === 'SIGKILL') return `${r.outcome} — SIGKILL · ${secs}`;
  return `${r.outcome}${r.rows !== null && r.rows > 0 ? ` · ${r.rows.toLocaleString('en-US')} rows` : ''} · ${secs}`;
}
