// The whole screen: header, the current screen (tables or details, or the help overlay), the log pane
// or a dialog, and the hint bar. Keys go through `handleKey`; what they ask for, the session does.
import { findingLines } from '../pipeline/findings.js';
import type { ReactElement } from 'react';
import { Box, Text } from 'ink';
import { useStore } from 'zustand';
import { carePanel } from './care-view.js';
import { Dialog } from './components/Dialog.js';
import { Header } from './components/Header.js';
import { KeyHints } from './components/KeyHints.js';
import { LogPane } from './components/LogPane.js';
import { firstLine, formatSpan, formatTimestamp, truncate } from './format.js';
import { useKeys } from './hooks/useKeys.js';
import { useNow } from './hooks/useNow.js';
import { useTerminalSize } from './hooks/useTerminalSize.js';
import {
  CONFIRM_HINTS,
  DETAILS_KEYS,
  DRILL_KEYS,
  HELP_HINTS,
  QUIT_HINTS,
  TABLE_KEYS,
  WAITING_HINTS,
  handleKey,
  type KeyBinding,
} from './keys.js';
import { DetailsScreen } from './screens/DetailsScreen.js';
import { DrillScreen } from './screens/DrillScreen.js';
import { HelpOverlay, helpLines, helpPageSize } from './screens/HelpOverlay.js';
import { TablesScreen, tablesHeightWanted } from './screens/TablesScreen.js';
import type { TuiSession } from './session.js';
import { activeOffloadsText, activeRuns, detailsLineCount, visibleTables, type TuiState } from './store.js';
import { useTheme } from './theme.js';

export interface AppProps {
  session: TuiSession;
  refreshSec: number;
  clock?: () => number;
}

const HEADER_LINES = 2;
const HINT_LINES = 1;

const MIN_LOG_LINES = 3;

export function App({ session, refreshSec, clock = Date.now }: AppProps) {
  const state = useStore(session.store);
  const now = useNow(clock);
  const { columns, rows } = useTerminalSize();
  const theme = useTheme();
  // One line short of the terminal: a frame as tall as the terminal makes Ink clear the screen on every update.
  const height = Math.max(10, rows - 1);
  const width = Math.max(40, columns);

  // The list takes what it needs; the log pane (or a dialog) takes the rest, at least MIN_LOG_LINES.
  const selectionLines = state.screen === 'tables' ? 1 : 0;
  const room = height - HEADER_LINES - HINT_LINES - selectionLines;
  const wanted = Math.max(
    3,
    state.screen === 'drill' ? room : state.screen === 'tables' ? tablesHeightWanted(state) : Math.max(8, detailsHeightWanted(state)),
  );
  const logLines = Math.max(MIN_LOG_LINES, room - 1 - wanted);
  const bottom = bottomPanel(state, width, logLines, now);
  const bodyHeight = Math.max(3, room - bottom.height);
  const helpHeight = height - HEADER_LINES - HINT_LINES;

  useKeys((input, key) => {
    const result = handleKey(session.store.getState(), input, key, {
      pageSize: Math.max(1, bodyHeight - 1),
      detailsPageSize: Math.max(1, bodyHeight - 3),
      helpLineCount: helpLines(width).length,
      helpPageSize: helpPageSize(helpHeight),
    });
    session.store.setState(result.state, true);
    for (const c of result.commands) session.execute(c);
  });

  let body: ReactElement;
  if (state.overlay === 'help') {
    body = <HelpOverlay width={width} height={helpHeight} scroll={state.helpScroll} />;
  } else if (state.screen === 'drill') {
    body = (
      <DrillScreen
        backend={session.backend}
        selected={state.selected}
        width={width}
        height={bodyHeight}
        onExit={() => session.store.setState((s) => ({ ...s, screen: 'tables' }))}
        clock={clock}
      />
    );
  } else if (state.screen === 'details' && state.details) {
    body = <DetailsScreen state={state} details={state.details} now={now} width={width} height={bodyHeight} />;
  } else {
    body = <TablesScreen state={state} now={now} width={width} height={bodyHeight} />;
  }

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header state={state} now={now} refreshSec={refreshSec} width={width} />
      {body}
      {state.overlay === 'help' ? null : (
        <>
          {state.screen === 'tables' ? <SelectionLine state={state} width={width} /> : null}
          {bottom.element}
        </>
      )}
      {state.isEditingFilter ? (
        <Text wrap="truncate-end">
          <Text bold color={theme.accent}>
            /
          </Text>
          {state.filter}
          <Text inverse> </Text>
          <Text color={theme.muted}> enter keeps · esc clears</Text>
        </Text>
      ) : (
        <KeyHints bindings={hintsFor(state)} width={width} />
      )}
    </Box>
  );
}

function detailsHeightWanted(state: TuiState): number {
  return state.details ? 3 + detailsLineCount(state.details) : 0;
}

function hintsFor(state: TuiState): KeyBinding[] {
  if (state.quitting === 'waiting') return WAITING_HINTS;
  if (state.quitting === 'stopping') return [];
  if (state.overlay === 'quit') return QUIT_HINTS;
  if (state.overlay === 'confirm-all') return CONFIRM_HINTS;
  if (state.overlay === 'help') return HELP_HINTS;
  if (state.screen === 'drill') return DRILL_KEYS;
  const keys = state.screen === 'details' ? DETAILS_KEYS : TABLE_KEYS;
  // The stop key is offered while something runs.
  return activeRuns(state).length > 0 ? keys : keys.filter((k) => k.keys !== 'x');
}

/** The log pane, or a dialog above what is left of it. `logLines` is the room for log lines. */
function bottomPanel(state: TuiState, width: number, logLines: number, now: number): { element: ReactElement; height: number } {
  const dialog = dialogFor(state, width, now);
  if (!dialog) return { element: <LogPane lines={state.log} height={logLines} width={width} />, height: logLines + 1 };
  const logRoom = logLines + 1 - dialog.height;
  if (logRoom < 2) return dialog;
  return {
    element: (
      <Box flexDirection="column">
        {dialog.element}
        <LogPane lines={state.log} height={logRoom - 1} width={width} />
      </Box>
    ),
    height: dialog.height + logRoom,
  };
}

function dialogFor(state: TuiState, width: number, now: number): { element: ReactElement; height: number } | null {
  const counted = activeOffloadsText(state);
  const box = (title: string, lines: string[], tone: 'accent' | 'warn') => ({
    element: <Dialog title={title} lines={lines} width={width} tone={tone} />,
    height: lines.length + 3,
  });
  if (state.quitting === 'waiting') {
    return box('Quitting', [`waiting for ${counted} to finish, then quitting`, 's: stop safely instead'], 'warn');
  }
  if (state.quitting === 'stopping') {
    return box(
      'Quitting',
      [`stopping ${counted} safely: work before its commit is abandoned,`, 'a commit already under way completes; then quitting'],
      'warn',
    );
  }
  if (state.overlay === 'quit') {
    return box(
      'Quit',
      [
        `${counted}. Quit how?`,
        'w  wait for them to finish, then quit',
        's  stop safely (abort before commit; a commit under way completes), then quit',
        'esc  keep going',
      ],
      'warn',
    );
  }
  if (state.overlay === 'confirm-all') {
    const n = state.report?.tables.length ?? 0;
    return box(
      'Offload all',
      [`Offload all ${n} tables in layers: bronze, then silver, then gold?`, 'y / enter  yes · n / esc  no'],
      'accent',
    );
  }
  if (state.care) {
    const panel = carePanel(state.care, now);
    return box(panel.title, panel.lines, panel.tone);
  }
  return null;
}

/** The selected table in full, whatever the width: names, watermark with tie-break, lag, and any error. */
function SelectionLine({ state, width }: { state: TuiState; width: number }) {
  const theme = useTheme();
  const rows = visibleTables(state);
  const i = rows.findIndex((r) => r.name === state.selected);
  const t = rows[i];
  if (!t) return <Text> </Text>;
  const position = `[${i + 1}/${rows.length}]`;
  const errors = [
    !t.watermark.ok ? `watermark: ${firstLine(t.watermark.error)}` : null,
    !t.clickhouse.ok ? `ClickHouse: ${firstLine(t.clickhouse.error)}` : null,
    !t.iceberg.ok ? `Iceberg: ${firstLine(t.iceberg.error)}` : null,
    state.live[t.name]?.status === 'failed' ? `offload: ${state.live[t.name].message}` : null,
    !state.live[t.name] && t.lastRun?.status === 'failed' && t.lastRun.error ? `last run: ${firstLine(t.lastRun.error)}` : null,
  ].filter((e): e is string => e !== null);
  // A run aborted (stopped on request, or a crash that recovery resolved) broke nothing: a note, not an error.
  // Held rows (ClickHouse refuses them), late data (rows at or below the watermark that arrived after it,
  // candles changed since) and what to do: before an aborted run, which a held batch also leaves.
  const findings = findingLines(t).map((l) => l.trim().replace(`${t.name}: `, ''));
  const note =
    findings.length > 0
      ? findings.join(' · ')
      : !state.live[t.name] && t.lastRun?.status === 'aborted' && t.lastRun.error
        ? `last run aborted: ${firstLine(t.lastRun.error)}`
        : null;
  const wm = t.watermark.ok
    ? `wm ${formatTimestamp(t.watermark.value.timestamp)}${t.watermark.value.tieBreak !== null ? ` #${t.watermark.value.tieBreak}` : ''}`
    : '';
  const info = `${position} ${wm} · lag ${formatSpan(t.lagSec)} · ${t.layer} · ${t.source} → ${t.target}`;
  if (errors.length > 0 || note) {
    return (
      <Text wrap="truncate-end">
        <Text color={theme.muted}>{position} </Text>
        <Text color={errors.length > 0 ? theme.error : theme.warn}>
          {truncate(errors.length > 0 ? errors.join(' · ') : (note ?? ''), width - position.length - 1)}
        </Text>
      </Text>
    );
  }
  return (
    <Text color={theme.muted} wrap="truncate-end">
      {info}
    </Text>
  );
}
