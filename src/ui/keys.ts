// Every key the TUI answers to, in one table (the help overlay and the hint bar are drawn from it),
// and the pure function that turns a key press into a new state plus the commands to carry out.
import type { Key } from 'ink';
import {
  DETAILS_SECTIONS,
  activeRuns,
  reduceCycleSort,
  reduceDetailsScroll,
  reduceDetailsSection,
  reduceFilter,
  reduceMove,
  reduceOpenDetails,
  type TuiState,
} from './store.js';

/** A key event with no key flag set: a plain character, and the base the other events are made from. */
export const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/** What the session must do after a key: talk to the backend, or leave. */
export type Command =
  | { kind: 'refresh' }
  | { kind: 'offload'; table: string }
  | { kind: 'offload-all' }
  | { kind: 'stop-table'; table: string }
  | { kind: 'load-details'; table: string }
  | { kind: 'exit' }
  | { kind: 'wait-then-exit' }
  | { kind: 'stop-then-exit' };

export interface KeyBinding {
  keys: string;
  action: string;
  /** Shown in the hint bar, shortest first to drop when the terminal is narrow (lower = kept longer). */
  hint?: { label: string; rank: number };
}

const STOP_TABLE_ACTION =
  "stop the selected table's offload safely (as quit's stop): work before its commit is abandoned, a commit under way completes";

export const TABLE_KEYS: KeyBinding[] = [
  { keys: 'j / ↓', action: 'next table', hint: { label: 'j/k move', rank: 5 } },
  { keys: 'k / ↑', action: 'previous table' },
  { keys: 'g / G', action: 'first / last table' },
  { keys: 'PgUp / PgDn', action: 'page up / down' },
  { keys: 'enter', action: 'details of the table (snapshots, runs, partitions, config)', hint: { label: '⏎ details', rank: 3 } },
  { keys: 'o', action: 'offload the selected table now', hint: { label: 'o offload', rank: 1 } },
  { keys: 'A', action: 'offload all tables in layers: bronze → silver → gold (asks first)', hint: { label: 'A all', rank: 2 } },
  { keys: 'x', action: STOP_TABLE_ACTION, hint: { label: 'x stop', rank: 1 } },
  {
    keys: 'd',
    action: 'drill mode: kill an offload on purpose (a sandbox copy), watch it recover, check every invariant',
    hint: { label: 'd drill', rank: 4 },
  },
  { keys: '/', action: 'filter by name, layer, source or target (enter keeps, esc clears)', hint: { label: '/ filter', rank: 6 } },
  { keys: 's', action: 'cycle sort: layer, name, pending, watermark, state', hint: { label: 's sort', rank: 7 } },
  { keys: 'r', action: 'refresh now (also every --refresh seconds)', hint: { label: 'r refresh', rank: 8 } },
  { keys: '?', action: 'this help', hint: { label: '? help', rank: 0 } },
  { keys: 'q / ctrl-c', action: 'quit (asks to wait or stop safely when offloads run)', hint: { label: 'q quit', rank: 0 } },
];

export const DETAILS_KEYS: KeyBinding[] = [
  { keys: 'tab / → / l', action: 'next section', hint: { label: 'tab section', rank: 1 } },
  { keys: 'shift-tab / ← / h', action: 'previous section' },
  { keys: '1 2 3 4', action: 'snapshots, runs, partitions, config', hint: { label: '1-4 jump', rank: 4 } },
  { keys: 'j / k / ↓ / ↑', action: 'scroll', hint: { label: 'j/k scroll', rank: 3 } },
  { keys: 'g / G', action: 'top / bottom' },
  { keys: 'o', action: 'offload this table now', hint: { label: 'o offload', rank: 2 } },
  { keys: 'x', action: STOP_TABLE_ACTION, hint: { label: 'x stop', rank: 2 } },
  { keys: 'r', action: 'reload the details', hint: { label: 'r reload', rank: 5 } },
  { keys: 'esc', action: 'back to the tables', hint: { label: 'esc back', rank: 0 } },
];

/** The hint bar while a question is open or the TUI is leaving. */
export const CONFIRM_HINTS: KeyBinding[] = [
  { keys: 'y', action: 'yes', hint: { label: 'y / enter yes', rank: 0 } },
  { keys: 'n', action: 'no', hint: { label: 'n / esc no', rank: 0 } },
];
export const QUIT_HINTS: KeyBinding[] = [
  { keys: 'w', action: 'wait', hint: { label: 'w wait, then quit', rank: 0 } },
  { keys: 's', action: 'stop', hint: { label: 's stop safely, then quit', rank: 0 } },
  { keys: 'esc', action: 'back', hint: { label: 'esc keep going', rank: 0 } },
];
export const WAITING_HINTS: KeyBinding[] = [{ keys: 's', action: 'stop', hint: { label: 's stop safely instead of waiting', rank: 0 } }];
export const HELP_HINTS: KeyBinding[] = [
  { keys: 'j/k', action: 'scroll', hint: { label: 'j/k scroll', rank: 1 } },
  { keys: 'esc', action: 'close', hint: { label: 'esc or ? close', rank: 0 } },
];

/** Drill mode keys (the drill screen handles them itself; listed here for the hint bar and the help). */
export const DRILL_KEYS: KeyBinding[] = [
  { keys: 'j / k / ↓ / ↑', action: 'choose a table or a fault point', hint: { label: 'j/k choose', rank: 2 } },
  { keys: 'g / G', action: 'first / last of the list' },
  { keys: 'tab / ← / →', action: 'switch between the table and the fault lists', hint: { label: 'tab switch', rank: 3 } },
  { keys: 'enter', action: 'start the drill (after one: a new drill)', hint: { label: '⏎ start', rank: 1 } },
  { keys: 's', action: 'save the drill report (JSON + Markdown under ./drill-reports/)', hint: { label: 's save', rank: 1 } },
  {
    keys: 'esc / q',
    action: 'back to the tables (while a drill runs: stop after the step under way)',
    hint: { label: 'esc back/stop', rank: 0 },
  },
];

export const DIALOG_KEYS: KeyBinding[] = [
  { keys: 'y / enter', action: 'confirm (offload all)' },
  { keys: 'n / esc', action: 'cancel' },
  { keys: 'j / k', action: 'help: scroll when it does not fit' },
  { keys: 'w', action: 'quit dialog: wait for running offloads, then quit' },
  { keys: 's', action: 'quit dialog: stop safely (abort before commit; a commit under way completes), then quit' },
];

export interface KeyContext {
  /** Table rows that fit on screen (for PgUp/PgDn). */
  pageSize: number;
  /** Lines of the details list that fit on screen. */
  detailsPageSize: number;
  /** Lines of the help overlay, and how many fit. */
  helpLineCount: number;
  helpPageSize: number;
}

export interface KeyResult {
  state: TuiState;
  commands: Command[];
}

export function handleKey(state: TuiState, input: string, key: Key, ctx: KeyContext): KeyResult {
  const none = (s: TuiState = state): KeyResult => ({ state: s, commands: [] });
  const isCtrlC = key.ctrl && input === 'c';
  // The drill screen takes its own keys (src/ui/screens/DrillScreen.tsx).
  if (state.screen === 'drill') return none();

  // While leaving, only a change of mind from "wait" to "stop" is possible.
  if (state.quitting === 'waiting') {
    if (input === 's' || isCtrlC) return { state: { ...state, quitting: 'stopping' }, commands: [{ kind: 'stop-then-exit' }] };
    return none();
  }
  if (state.quitting === 'stopping') return none();

  if (state.overlay === 'quit') {
    if (input === 'w') return { state: { ...state, overlay: null, quitting: 'waiting' }, commands: [{ kind: 'wait-then-exit' }] };
    if (input === 's' || isCtrlC)
      return { state: { ...state, overlay: null, quitting: 'stopping' }, commands: [{ kind: 'stop-then-exit' }] };
    if (key.escape || input === 'n' || input === 'c') return none({ ...state, overlay: null });
    return none();
  }
  if (state.overlay === 'confirm-all') {
    if (input === 'y' || input === 'Y' || key.return) return { state: { ...state, overlay: null }, commands: [{ kind: 'offload-all' }] };
    if (key.escape || input === 'n' || input === 'N' || input === 'q' || isCtrlC) return none({ ...state, overlay: null });
    return none();
  }
  if (state.overlay === 'help') {
    if (key.escape || input === '?' || input === 'q' || key.return) return none({ ...state, overlay: null });
    const max = Math.max(0, ctx.helpLineCount - ctx.helpPageSize);
    const scrollTo = (n: number) => none({ ...state, helpScroll: Math.max(0, Math.min(max, n)) });
    if (input === 'j' || key.downArrow) return scrollTo(state.helpScroll + 1);
    if (input === 'k' || key.upArrow) return scrollTo(state.helpScroll - 1);
    if (key.pageDown || input === ' ') return scrollTo(state.helpScroll + ctx.helpPageSize);
    if (key.pageUp) return scrollTo(state.helpScroll - ctx.helpPageSize);
    if (input === 'g' || key.home) return scrollTo(0);
    if (input === 'G' || key.end) return scrollTo(max);
    return none();
  }

  if (input === 'q' && !state.isEditingFilter) return quit(state);
  if (isCtrlC) return quit(state);

  return state.screen === 'details' ? detailsKey(state, input, key, ctx) : tablesKey(state, input, key, ctx);
}

function quit(state: TuiState): KeyResult {
  if (activeRuns(state).length > 0) return { state: { ...state, overlay: 'quit' }, commands: [] };
  return { state, commands: [{ kind: 'exit' }] };
}

function tablesKey(state: TuiState, input: string, key: Key, ctx: KeyContext): KeyResult {
  const none = (s: TuiState = state): KeyResult => ({ state: s, commands: [] });

  if (state.isEditingFilter) {
    if (key.escape) return none(reduceFilter(state, '', false));
    if (key.return) return none(reduceFilter(state, state.filter, false));
    if (key.backspace || key.delete) return none(reduceFilter(state, state.filter.slice(0, -1), true));
    if (key.downArrow) return none(reduceMove(state, 1));
    if (key.upArrow) return none(reduceMove(state, -1));
    if (input && !key.ctrl && !key.meta && isPrintable(input)) return none(reduceFilter(state, state.filter + input, true));
    return none();
  }

  if (input === 'j' || key.downArrow) return none(reduceMove(state, 1));
  if (input === 'k' || key.upArrow) return none(reduceMove(state, -1));
  if (input === 'g' || key.home) return none(reduceMove(state, 'first'));
  if (input === 'G' || key.end) return none(reduceMove(state, 'last'));
  if (key.pageDown || (key.ctrl && input === 'd')) return none(reduceMove(state, Math.max(1, ctx.pageSize)));
  if (key.pageUp || (key.ctrl && input === 'u')) return none(reduceMove(state, -Math.max(1, ctx.pageSize)));
  if (input === '?') return none({ ...state, overlay: 'help', helpScroll: 0 });
  if (input === '/') return none(reduceFilter(state, state.filter, true));
  if (key.escape && state.filter) return none(reduceFilter(state, '', false));
  if (input === 's') return none(reduceCycleSort(state));
  if (input === 'r') return { state, commands: [{ kind: 'refresh' }] };
  if (input === 'd') return none({ ...state, screen: 'drill', isEditingFilter: false });
  if (input === 'A') {
    if (!state.report || state.report.tables.length === 0) return none();
    return none({ ...state, overlay: 'confirm-all' });
  }
  if (state.selected === null) return none();
  if (key.return) return { state: reduceOpenDetails(state, state.selected), commands: [{ kind: 'load-details', table: state.selected }] };
  if (input === 'o') return { state, commands: [{ kind: 'offload', table: state.selected }] };
  if (input === 'x') return { state, commands: [{ kind: 'stop-table', table: state.selected }] };
  return none();
}

function detailsKey(state: TuiState, input: string, key: Key, ctx: KeyContext): KeyResult {
  const none = (s: TuiState = state): KeyResult => ({ state: s, commands: [] });
  const d = state.details;
  if (!d) return none({ ...state, screen: 'tables' });
  if (key.escape || key.backspace || key.delete) return none({ ...state, screen: 'tables' });
  if ((key.tab && key.shift) || key.leftArrow || input === 'h') return none(reduceDetailsSection(state, -1));
  if (key.tab || key.rightArrow || input === 'l') return none(reduceDetailsSection(state, 1));
  const n = Number(input);
  if (Number.isInteger(n) && n >= 1 && n <= DETAILS_SECTIONS.length) return none(reduceDetailsSection(state, DETAILS_SECTIONS[n - 1]));
  if (input === 'j' || key.downArrow) return none(reduceDetailsScroll(state, 1, ctx.detailsPageSize));
  if (input === 'k' || key.upArrow) return none(reduceDetailsScroll(state, -1, ctx.detailsPageSize));
  if (key.pageDown) return none(reduceDetailsScroll(state, ctx.detailsPageSize, ctx.detailsPageSize));
  if (key.pageUp) return none(reduceDetailsScroll(state, -ctx.detailsPageSize, ctx.detailsPageSize));
  if (input === 'g' || key.home) return none(reduceDetailsScroll(state, 'first', ctx.detailsPageSize));
  if (input === 'G' || key.end) return none(reduceDetailsScroll(state, 'last', ctx.detailsPageSize));
  if (input === '?') return none({ ...state, overlay: 'help', helpScroll: 0 });
  if (input === 'r')
    return { state: { ...state, details: { ...d, isLoading: true } }, commands: [{ kind: 'load-details', table: d.table }] };
  if (input === 'o') return { state, commands: [{ kind: 'offload', table: d.table }] };
  if (input === 'x') return { state, commands: [{ kind: 'stop-table', table: d.table }] };
  return none();
}

function isPrintable(input: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches terminal escape codes and control characters on purpose
  return !/[\x00-\x1f\x7f]/.test(input);
}
