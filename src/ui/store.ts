// The TUI's state: the last status snapshot, the offloads running in this process, the log, and where
// the operator is (selection, filter, sort, screen, dialog). Every change is a pure function of the
// previous state (`reduce*`), so the store is a thin zustand wrapper and the logic is unit-tested.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { Watermark } from '../core/watermark.js';
import type { OffloadEvent, OffloadPhase } from '../pipeline/events.js';
import { tableState, type StatusReport, type TableStatus } from '../pipeline/status-model.js';
import type { CareKind, CareOutcome, CarePartition, CareProgress, TableDetails } from './backend.js';
import { firstLine, formatBytes, formatCount, formatDuration, oneLine } from './format.js';

export type SortKey = 'layer' | 'name' | 'pending' | 'watermark' | 'state';
export const SORT_KEYS: readonly SortKey[] = ['layer', 'name', 'pending', 'watermark', 'state'];

/** Outcome of an offload started from this TUI; `queued` and `running` are the active ones. */
export type LiveStatus = 'queued' | 'running' | 'committed' | 'up-to-date' | 'busy' | 'failed' | 'skipped' | 'stopped';

export interface LiveRun {
  table: string;
  runId: string | null;
  status: LiveStatus;
  phase: OffloadPhase | null;
  rows: number;
  bytes: number;
  files: number;
  rowsPerSec: number;
  /** Rows the run expects to write (progress total, else the plan's estimate), when known. */
  totalRows: number | null;
  etaSec: number | null;
  window: { lower: Watermark; upper: Watermark } | null;
  /** When this table's run began (its first event; until then, when it was asked for). */
  startedAt: number;
  finishedAt: number | null;
  /** Why it failed, was skipped or stopped. */
  message: string | null;
  /** Batches of this run committed so far (a run takes its window in one or more). */
  batchesCommitted: number;
  /** The operator asked this table's run to stop: it ends before its next commit. */
  isStopping: boolean;
  /**
   * The offload this table is part of has not ended in this process: a lock seen on the table is
   * ours (between a commit and the end of the run, or while the rest of a run-all goes on).
   */
  isOurs: boolean;
}

export interface LogLine {
  at: number;
  level: 'info' | 'warn' | 'error';
  table?: string;
  message: string;
}

export type DetailsSection = 'snapshots' | 'runs' | 'partitions' | 'config';
export const DETAILS_SECTIONS: readonly DetailsSection[] = ['snapshots', 'runs', 'partitions', 'config'];

export interface DetailsView {
  table: string;
  section: DetailsSection;
  /** First visible line of the section's list. */
  scroll: number;
  data: TableDetails | null;
  error: string | null;
  isLoading: boolean;
}

export type Overlay = 'help' | 'confirm-all' | 'quit' | null;

export interface TuiState {
  report: StatusReport | null;
  /** The last refresh failed as a whole (the previous report, if any, stays on screen). */
  statusError: string | null;
  isRefreshing: boolean;
  refreshStartedAt: number | null;
  lastRefreshAt: number | null;
  live: Record<string, LiveRun>;
  log: LogLine[];
  selected: string | null;
  filter: string;
  isEditingFilter: boolean;
  sort: SortKey;
  screen: 'tables' | 'details' | 'drill';
  details: DetailsView | null;
  overlay: Overlay;
  /** First visible line of the help overlay. */
  helpScroll: number;
  /** Set once the operator has asked to quit while offloads run. */
  quitting: 'waiting' | 'stopping' | null;
  /** The verification or compaction started with `v` / `c` (one at a time), live until its outcome is shown. */
  care: CareView | null;
}

export interface CareView {
  kind: CareKind;
  table: string;
  startedAt: number;
  status: 'running' | 'done' | 'failed';
  done: number;
  total: number;
  /** Partitions as they finished, in that order. */
  partitions: CarePartition[];
  outcome: CareOutcome | null;
  error: string | null;
  finishedAt: number | null;
}

export const LOG_LIMIT = 200;

export function initialState(): TuiState {
  return {
    report: null,
    statusError: null,
    isRefreshing: false,
    refreshStartedAt: null,
    lastRefreshAt: null,
    live: {},
    log: [],
    selected: null,
    filter: '',
    isEditingFilter: false,
    sort: 'layer',
    screen: 'tables',
    details: null,
    overlay: null,
    helpScroll: 0,
    quitting: null,
    care: null,
  };
}

export type TuiStore = StoreApi<TuiState>;

export function createTuiStore(initial: Partial<TuiState> = {}): TuiStore {
  return createStore<TuiState>()(() => ({ ...initialState(), ...initial }));
}

export function isActive(run: LiveRun | undefined): boolean {
  return run !== undefined && (run.status === 'queued' || run.status === 'running');
}

export function activeRuns(state: TuiState): LiveRun[] {
  return Object.values(state.live).filter((r) => isActive(r));
}

// ---------------------------------------------------------------------------------------------------
// Status snapshots

export function reduceRefreshStarted(state: TuiState, now: number): TuiState {
  return { ...state, isRefreshing: true, refreshStartedAt: now };
}

/** How long an outcome the run history may not record (busy, stopped, skipped) stays on its row. */
export const OUTCOME_SHOWN_MS = 60_000;

/**
 * Whether a finished offload's row can go back to the status snapshot's own last-run columns: the
 * snapshot was asked for after the run ended and it knows of that run (or of a newer one).
 */
function isSettledBy(run: LiveRun, table: TableStatus | undefined, requestedAt: number): boolean {
  if (isActive(run) || run.isOurs || run.finishedAt === null || run.finishedAt > requestedAt) return false;
  if (run.status === 'committed' || run.status === 'up-to-date') return true;
  const last = table?.lastRun;
  if (last && ((run.runId !== null && last.runId === run.runId) || Date.parse(last.startedAt) > run.finishedAt)) return true;
  // A run refused as busy, stopped or failed before it was recorded may never show in the history.
  return run.status !== 'failed' && requestedAt - run.finishedAt >= OUTCOME_SHOWN_MS;
}

/**
 * A new status snapshot. `requestedAt` is when it was asked for: offloads that ended before it and
 * that it knows of give their rows back to its last-run columns.
 */
export function reduceStatus(state: TuiState, report: StatusReport, requestedAt: number, now: number): TuiState {
  const live: Record<string, LiveRun> = {};
  for (const [name, run] of Object.entries(state.live)) {
    if (
      !isSettledBy(
        run,
        report.tables.find((t) => t.name === name),
        requestedAt,
      )
    )
      live[name] = run;
  }
  const next: TuiState = {
    ...state,
    report,
    live,
    statusError: null,
    isRefreshing: false,
    refreshStartedAt: null,
    lastRefreshAt: now,
  };
  return keepSelectionVisible(next);
}

export function reduceStatusFailed(state: TuiState, message: string, now: number): TuiState {
  const line = firstLine(message);
  const log =
    state.statusError === line ? state.log : appendLog(state.log, { at: now, level: 'error', message: `refresh failed: ${line}` });
  return { ...state, statusError: line, isRefreshing: false, refreshStartedAt: null, log };
}

// ---------------------------------------------------------------------------------------------------
// Offload events

function emptyRun(table: string, now: number, status: LiveStatus): LiveRun {
  return {
    table,
    runId: null,
    status,
    phase: null,
    rows: 0,
    bytes: 0,
    files: 0,
    rowsPerSec: 0,
    totalRows: null,
    etaSec: null,
    window: null,
    startedAt: now,
    finishedAt: null,
    message: null,
    batchesCommitted: 0,
    isStopping: false,
    isOurs: true,
  };
}

/** Offloads were asked for: their rows show "queued" until the pipeline's first event for them. */
export function reduceRunRequested(state: TuiState, tables: string[], now: number): TuiState {
  const live = { ...state.live };
  for (const t of tables) if (!isActive(live[t])) live[t] = emptyRun(t, now, 'queued');
  return { ...state, live };
}

/**
 * The backend's work for `tables` has ended. Anything still queued or running never got a final
 * event: it was stopped (abort), or the whole call failed with `error`.
 */
export function reduceRunSettled(
  state: TuiState,
  tables: string[],
  outcome: { isAborted: boolean; error?: string },
  now: number,
): TuiState {
  const live = { ...state.live };
  let log = state.log;
  for (const t of tables) {
    const run = live[t];
    if (run?.isOurs) live[t] = { ...run, isOurs: false };
    if (!isActive(run)) continue;
    if (run.batchesCommitted > 0 && outcome.error === undefined && !outcome.isAborted) {
      // It committed and ended without a final event of its own (an older backend): what it committed stands.
      live[t] = { ...run, isOurs: false, status: 'committed', finishedAt: now };
    } else if (outcome.error !== undefined) {
      live[t] = { ...run, isOurs: false, status: 'failed', finishedAt: now, message: firstLine(outcome.error) };
      log = appendLog(log, { at: now, level: 'error', table: t, message: `failed: ${firstLine(outcome.error)}` });
    } else if (outcome.isAborted || run.isStopping) {
      const message =
        run.batchesCommitted > 0
          ? `stopped after ${run.batchesCommitted} commit${run.batchesCommitted === 1 ? '' : 's'}; the batch under way was not committed`
          : 'stopped before its commit; nothing committed';
      live[t] = { ...run, isOurs: false, status: 'stopped', finishedAt: now, message };
      log = appendLog(log, { at: now, level: 'warn', table: t, message });
    } else {
      live[t] = { ...run, isOurs: false, status: 'skipped', finishedAt: now, message: 'not run' };
    }
  }
  return { ...state, live, log };
}

/**
 * One pipeline event. `isStopping`: the operator asked these offloads to stop, so a table the pipeline
 * skips (not started, or abandoned before its commit) was stopped rather than skipped for a failure.
 */
export function reduceEvent(state: TuiState, event: OffloadEvent, now: number, isStopping = false): TuiState {
  if (event.kind === 'log') {
    return { ...state, log: appendLog(state.log, { at: now, level: event.level, table: event.table, message: event.message }) };
  }
  const table = event.table;
  const prev = state.live[table] ?? emptyRun(table, now, 'running');
  // A queued table's run begins with its first event: its elapsed time counts from there, not from when
  // `A` asked for every table.
  const base: LiveRun = !isActive(prev) ? emptyRun(table, now, 'running') : prev.status === 'queued' ? { ...prev, startedAt: now } : prev;
  let run: LiveRun = base;
  let log = state.log;
  let report = state.report;
  const say = (level: LogLine['level'], message: string) => {
    log = appendLog(log, { at: now, level, table, message });
  };

  switch (event.kind) {
    case 'phase':
      run = { ...base, status: 'running', runId: event.runId, phase: event.phase };
      break;
    case 'planned': {
      const isFirst = (event.batch ?? 1) === 1;
      const runRows = event.runRows ?? event.estimatedRows;
      run = { ...base, status: 'running', runId: event.runId, window: event.window, totalRows: isFirst ? runRows : base.totalRows };
      say(
        'info',
        isFirst
          ? `planned ~${formatCount(runRows)} rows${event.batches > 1 ? ` in ${event.batches} batches` : ''}, up to ${event.window.upper.timestamp}`
          : `batch ${event.batch}: ~${formatCount(event.estimatedRows)} rows`,
      );
      break;
    }
    case 'progress':
      run = {
        ...base,
        status: 'running',
        runId: event.runId,
        // Never backwards: a count may settle lower once a slice is written (an estimate made exact).
        rows: Math.max(base.rows, event.rows),
        bytes: Math.max(base.bytes, event.bytes),
        files: event.files,
        rowsPerSec: event.rowsPerSec,
        totalRows: event.totalRows ?? base.totalRows,
        etaSec: event.etaSec ?? null,
      };
      break;
    case 'committed':
      // One batch of the run: the run goes on until `finished` (or a failure) says it ended.
      run = { ...base, status: 'running', runId: event.runId, batchesCommitted: base.batchesCommitted + 1 };
      report = patchCommitted(report, event, now);
      say(
        'info',
        `committed ${formatCount(event.rows)} rows, ${event.files} file${event.files === 1 ? '' : 's'}, ${formatBytes(event.bytes)} in ${formatDuration(event.durationMs)} (snapshot ${event.snapshotId})`,
      );
      break;
    case 'finished':
      run = {
        ...base,
        status: 'committed',
        runId: event.runId,
        phase: 'commit',
        rows: event.rows,
        files: event.files,
        totalRows: event.rows,
        etaSec: 0,
        finishedAt: now,
        isStopping: false,
      };
      if (event.batches > 1) say('info', `run finished: ${formatCount(event.rows)} rows in ${event.batches} commits`);
      break;
    case 'up-to-date':
      run = { ...base, status: 'up-to-date', finishedAt: now, totalRows: 0, etaSec: 0 };
      say('info', 'up to date: nothing new to offload');
      break;
    case 'busy':
      run = { ...base, status: 'busy', finishedAt: now, message: 'another worker holds the table' };
      say('warn', 'busy: another worker holds the table; nothing done');
      break;
    case 'failed':
      run = { ...base, status: 'failed', runId: event.runId ?? base.runId, finishedAt: now, message: firstLine(event.error) };
      say('error', `failed: ${firstLine(event.error)}`);
      break;
    case 'skipped': {
      const isStopped = isStopping || base.isStopping;
      run = { ...base, status: isStopped ? 'stopped' : 'skipped', finishedAt: now, message: event.reason };
      say('warn', `${isStopped ? 'stopped' : 'skipped'}: ${event.reason}`);
      break;
    }
  }
  return { ...state, live: { ...state.live, [table]: run }, log, report };
}

/**
 * The operator asked to stop `table`'s run (the `x` key): it ends before its next commit — a commit under
 * way completes — and a queued table is not started.
 */
export function reduceStopRequested(state: TuiState, table: string, now: number): TuiState {
  const run = state.live[table];
  if (!run || !isActive(run)) {
    return { ...state, log: appendLog(state.log, { at: now, level: 'warn', table, message: 'not running: nothing to stop' }) };
  }
  if (run.isStopping) return state;
  const message =
    run.status === 'queued'
      ? 'stop requested: it will not start'
      : 'stopping safely: work before its commit is abandoned, a commit under way completes';
  return {
    ...state,
    live: { ...state.live, [table]: { ...run, isStopping: true } },
    log: appendLog(state.log, { at: now, level: 'warn', table, message }),
  };
}

/** The quit dialog's words for the offloads still going: "2 offloads running, 5 queued". */
export function activeOffloadsText(state: TuiState): string {
  const active = activeRuns(state);
  const queued = active.filter((r) => r.status === 'queued').length;
  const running = active.length - queued;
  const plural = (n: number) => `${n} offload${n === 1 ? '' : 's'}`;
  if (running > 0 && queued > 0) return `${plural(running)} running, ${queued} queued`;
  if (running > 0) return `${plural(running)} running`;
  if (queued > 0) return `${plural(queued)} queued`;
  if (state.care?.status === 'running') return `the ${state.care.kind === 'verify' ? 'verification' : 'compaction'} of ${state.care.table}`;
  // Every table has its outcome; the offload is releasing its lock and connections.
  return 'the last offload';
}

// ---------------------------------------------------------------------------------------------------
// Table care (`v` verify, `c` compact)

const CARE_WORD: Record<CareKind, string> = { verify: 'verify', compact: 'compact' };

export function isCareRunning(state: Pick<TuiState, 'care'>): boolean {
  return state.care?.status === 'running';
}

export function reduceCareStarted(state: TuiState, kind: CareKind, table: string, now: number): TuiState {
  return {
    ...state,
    care: {
      kind,
      table,
      startedAt: now,
      status: 'running',
      done: 0,
      total: 0,
      partitions: [],
      outcome: null,
      error: null,
      finishedAt: null,
    },
    log: appendLog(state.log, { at: now, level: 'info', table, message: `${CARE_WORD[kind]}: started` }),
  };
}

/** A partition finished (logged as it arrives: the result per partition stays in the log pane). */
export function reduceCareProgress(state: TuiState, p: CareProgress, now: number): TuiState {
  const c = state.care;
  if (c?.status !== 'running') return state;
  const partitions = p.partition ? [...c.partitions, p.partition] : c.partitions;
  const log = p.partition
    ? appendLog(state.log, {
        at: now,
        level: p.partition.isProblem ? 'error' : 'info',
        table: c.table,
        message: `${CARE_WORD[c.kind]} ${p.partition.partition}: ${p.partition.status} — ${p.partition.detail}`,
      })
    : state.log;
  return { ...state, log, care: { ...c, done: Math.max(c.done, p.done), total: Math.max(p.total, p.done), partitions } };
}

export function reduceCareSettled(state: TuiState, result: { outcome?: CareOutcome; error?: string }, now: number): TuiState {
  const c = state.care;
  if (!c) return state;
  const outcome = result.outcome ?? null;
  const error = result.error ?? null;
  const message = outcome ? `${CARE_WORD[c.kind]}: ${outcome.summary}` : `${CARE_WORD[c.kind]} failed: ${firstLine(error ?? 'no message')}`;
  return {
    ...state,
    care: {
      ...c,
      status: outcome ? 'done' : 'failed',
      outcome,
      error,
      finishedAt: now,
      total: outcome ? Math.max(c.total, outcome.partitions.length) : c.total,
      done: outcome ? Math.max(c.done, outcome.partitions.length) : c.done,
      partitions: outcome && outcome.partitions.length > c.partitions.length ? outcome.partitions : c.partitions,
    },
    log: appendLog(state.log, { at: now, level: !outcome || outcome.isProblem ? 'error' : 'info', table: c.table, message }),
  };
}

/**
 * What a commit tells us for sure, shown at once; the refresh that follows brings the rest. The watermark,
 * the ClickHouse rows up to it and the Iceberg rows move together, so the row never shows numbers from two
 * moments: the commit took exactly the ClickHouse rows between the old watermark and the new (step 8), so
 * both counts grow by its rows and Δ stays what the last refresh measured.
 */
function patchCommitted(report: StatusReport | null, e: Extract<OffloadEvent, { kind: 'committed' }>, now: number): StatusReport | null {
  if (!report) return report;
  const tables = report.tables.map((t): TableStatus => {
    if (t.name !== e.table) return t;
    const status = t.watermark.ok ? t.watermark.value.status : 'committed';
    if (!t.iceberg.ok || !t.clickhouse.ok) return { ...t, lastRun: committedRun(e, now) };
    const ch = t.clickhouse.value;
    return {
      ...t,
      watermark: { ok: true, value: { ...e.watermark, status } },
      clickhouse: {
        ok: true,
        value: { ...ch, rowsUpToWatermark: ch.rowsUpToWatermark + e.rows, pendingRows: Math.max(0, ch.pendingRows - e.rows) },
      },
      iceberg: {
        ok: true,
        value: {
          ...t.iceberg.value,
          exists: true,
          rows: t.iceberg.value.rows + e.rows,
          snapshotId: e.snapshotId,
          snapshotAt: new Date(now).toISOString(),
          watermark: e.watermark,
        },
      },
      lastRun: committedRun(e, now),
    };
  });
  return { ...report, tables };
}

function committedRun(e: Extract<OffloadEvent, { kind: 'committed' }>, now: number): TableStatus['lastRun'] {
  return {
    runId: e.runId,
    status: 'committed',
    startedAt: new Date(now - e.durationMs).toISOString(),
    finishedAt: new Date(now).toISOString(),
    durationMs: e.durationMs,
    rows: e.rows,
    error: null,
  };
}

export function appendLog(log: LogLine[], line: LogLine): LogLine[] {
  const next = log.length >= LOG_LIMIT ? log.slice(log.length - LOG_LIMIT + 1) : log.slice();
  next.push({ ...line, message: oneLine(line.message) });
  return next;
}

// ---------------------------------------------------------------------------------------------------
// Navigation

/** The tables on screen, in order: filtered by `filter`, sorted by `sort`. */
export function visibleTables(state: Pick<TuiState, 'report' | 'filter' | 'sort' | 'live'>): TableStatus[] {
  const tables = state.report?.tables ?? [];
  const needle = state.filter.trim().toLowerCase();
  const filtered = needle
    ? tables.filter((t) => [t.name, t.layer, t.source, t.target].some((s) => s.toLowerCase().includes(needle)))
    : tables.slice();
  const order = new Map(tables.map((t, i) => [t.name, i]));
  const byConfig = (a: TableStatus, b: TableStatus) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0);
  const cmp: Record<SortKey, (a: TableStatus, b: TableStatus) => number> = {
    layer: (a, b) => LAYER_RANK[a.layer] - LAYER_RANK[b.layer] || byConfig(a, b),
    name: (a, b) => a.name.localeCompare(b.name),
    pending: (a, b) => pendingOf(b) - pendingOf(a) || byConfig(a, b),
    watermark: (a, b) => watermarkOf(a).localeCompare(watermarkOf(b)) || byConfig(a, b),
    state: (a, b) => STATE_RANK[rowStateOf(a, state.live[a.name])] - STATE_RANK[rowStateOf(b, state.live[b.name])] || byConfig(a, b),
  };
  return filtered.sort(cmp[state.sort]);
}

const LAYER_RANK = { bronze: 0, silver: 1, gold: 2 } as const;

function pendingOf(t: TableStatus): number {
  return t.clickhouse.ok ? t.clickhouse.value.pendingRows : -1;
}

function watermarkOf(t: TableStatus): string {
  return t.watermark.ok ? t.watermark.value.timestamp : '\uffff';
}

/** The one state a row is coloured by. */
export type RowState = 'running' | 'busy' | 'failed' | 'pending' | 'up-to-date' | 'unknown';
const STATE_RANK: Record<RowState, number> = { failed: 0, busy: 1, running: 2, pending: 3, unknown: 4, 'up-to-date': 5 };

export function rowStateOf(t: TableStatus, live: LiveRun | undefined): RowState {
  if (isActive(live)) return 'running';
  // Our own offload still holds the table's lock after its commit: that is not another worker.
  if (t.isBusy && !live?.isOurs) return 'busy';
  if (live && live.status === 'failed') return 'failed';
  // The rest is the report's own state, in the words `offload status` prints (an aborted run — stopped on
  // request, or a crash resolved by recovery — committed nothing and broke nothing).
  return tableState(t);
}

function keepSelectionVisible(state: TuiState): TuiState {
  const rows = visibleTables(state);
  if (rows.length === 0) return state;
  if (state.selected !== null && rows.some((r) => r.name === state.selected)) return state;
  return { ...state, selected: rows[0].name };
}

export function selectedIndex(state: TuiState): number {
  const rows = visibleTables(state);
  const i = rows.findIndex((r) => r.name === state.selected);
  return i < 0 ? 0 : i;
}

export function reduceMove(state: TuiState, to: number | 'first' | 'last', relative = true): TuiState {
  const rows = visibleTables(state);
  if (rows.length === 0) return state;
  let i: number;
  if (to === 'first') i = 0;
  else if (to === 'last') i = rows.length - 1;
  else i = relative ? selectedIndex(state) + to : to;
  i = Math.max(0, Math.min(rows.length - 1, i));
  return { ...state, selected: rows[i].name };
}

export function reduceFilter(state: TuiState, filter: string, isEditing: boolean): TuiState {
  return keepSelectionVisible({ ...state, filter, isEditingFilter: isEditing });
}

export function reduceCycleSort(state: TuiState): TuiState {
  const i = SORT_KEYS.indexOf(state.sort);
  return { ...state, sort: SORT_KEYS[(i + 1) % SORT_KEYS.length] };
}

// ---------------------------------------------------------------------------------------------------
// Details

export function reduceOpenDetails(state: TuiState, table: string): TuiState {
  const section = state.details?.table === table ? state.details.section : 'snapshots';
  return {
    ...state,
    screen: 'details',
    details: { table, section, scroll: 0, data: state.details?.table === table ? state.details.data : null, error: null, isLoading: true },
  };
}

export function reduceDetailsLoaded(state: TuiState, details: TableDetails): TuiState {
  if (state.details?.table !== details.table) return state;
  return { ...state, details: { ...state.details, data: details, error: null, isLoading: false } };
}

export function reduceDetailsFailed(state: TuiState, table: string, message: string): TuiState {
  if (state.details?.table !== table) return state;
  return { ...state, details: { ...state.details, error: firstLine(message), isLoading: false } };
}

export function detailsLineCount(details: DetailsView): number {
  const d = details.data;
  if (!d) return 0;
  switch (details.section) {
    case 'snapshots':
      return d.snapshots.ok ? d.snapshots.value.length : 1;
    case 'runs':
      return d.runs.ok ? d.runs.value.length : 1;
    case 'partitions':
      return d.partitions.ok ? d.partitions.value.length : 1;
    case 'config':
      return d.config.length;
  }
}

export function reduceDetailsScroll(state: TuiState, to: number | 'first' | 'last', pageSize: number): TuiState {
  const d = state.details;
  if (!d) return state;
  const max = Math.max(0, detailsLineCount(d) - pageSize);
  const scroll = to === 'first' ? 0 : to === 'last' ? max : Math.max(0, Math.min(max, d.scroll + to));
  return { ...state, details: { ...d, scroll } };
}

export function reduceDetailsSection(state: TuiState, section: DetailsSection | 1 | -1): TuiState {
  const d = state.details;
  if (!d) return state;
  let next: DetailsSection;
  if (typeof section === 'number') {
    const i = DETAILS_SECTIONS.indexOf(d.section);
    next = DETAILS_SECTIONS[(i + section + DETAILS_SECTIONS.length) % DETAILS_SECTIONS.length];
  } else next = section;
  return { ...state, details: { ...d, section: next, scroll: 0 } };
}
