// The main screen's list: one row a table, a progress line under each table being offloaded.
import { useRef, type ReactElement } from 'react';
import { Box, Text } from 'ink';
import { heldRowCount } from '../../pipeline/held-rows.js';
import type { TableStatus } from '../../pipeline/status-model.js';
import { fitColumns, type ColumnSpec, type FittedColumn } from '../columns.js';
import {
  formatAgo,
  formatBytes,
  formatCompact,
  formatCount,
  formatDelta,
  formatDuration,
  formatSpan,
  formatTimestamp,
  padCell,
} from '../format.js';
import { progressBar } from '../components/ProgressBar.js';
import { rowStateOf, visibleTables, type LiveRun, type RowState, type TuiState } from '../store.js';
import { STATE_GLYPH, STATE_LABEL, useTheme, type Theme } from '../theme.js';

export type TableColumn =
  | 'table'
  | 'layer'
  | 'watermark'
  | 'tie'
  | 'lag'
  | 'chTotal'
  | 'chUpTo'
  | 'pending'
  | 'iceberg'
  | 'delta'
  | 'state'
  | 'lastRun';

export const TABLE_COLUMNS: ColumnSpec<TableColumn>[] = [
  // The name takes what is left once the other columns have their preferred width (up to 30).
  { id: 'table', title: 'TABLE', min: 21, preferred: 30, rank: 0, isFlexible: true },
  { id: 'layer', title: 'LAYER', min: 6, rank: 6 },
  { id: 'watermark', title: 'WATERMARK', min: 14, preferred: 19, rank: 1 },
  { id: 'tie', title: 'TIE-BREAK', min: 10, preferred: 12, rank: 7 },
  { id: 'lag', title: 'LAG', min: 4, rank: 8, align: 'right' },
  { id: 'chTotal', title: 'CH ROWS', min: 8, rank: 5, align: 'right' },
  { id: 'chUpTo', title: 'CH ≤WM', min: 8, rank: 4, align: 'right' },
  { id: 'pending', title: 'PENDING', min: 8, rank: 1, align: 'right' },
  { id: 'iceberg', title: 'ICEBERG', min: 8, rank: 1, align: 'right' },
  { id: 'delta', title: 'Δ', min: 6, rank: 2, align: 'right' },
  { id: 'state', title: 'STATE', min: 10, rank: 3 },
  { id: 'lastRun', title: 'LAST RUN', min: 15, preferred: 24, rank: 2 },
];

/** Selection marker and state glyph in front of every row. */
const PREFIX = 3;

export function tableColumns(width: number): FittedColumn<TableColumn>[] {
  return fitColumns(TABLE_COLUMNS, width - PREFIX);
}

interface Cell {
  text: string;
  color?: string;
}

function errorCell(theme: Theme): Cell {
  return { text: 'error', color: theme.error };
}

export function rowCells(
  t: TableStatus,
  live: LiveRun | undefined,
  state: RowState,
  now: number,
  columns: FittedColumn<TableColumn>[],
  theme: Theme,
): Record<TableColumn, Cell> {
  const width = (id: TableColumn) => columns.find((c) => c.id === id)?.width ?? 12;
  const ch = t.clickhouse;
  const ice = t.iceberg;
  const wm = t.watermark;
  const count = (n: number, id: TableColumn): Cell => ({ text: formatCount(n, width(id)) });
  return {
    table: { text: t.name },
    layer: { text: t.layer },
    watermark: wm.ok ? { text: formatTimestamp(wm.value.timestamp, width('watermark')) } : errorCell(theme),
    tie: wm.ok ? { text: wm.value.tieBreak ?? '—', color: theme.muted } : { text: '' },
    lag: { text: formatSpan(t.lagSec) },
    chTotal: ch.ok ? count(ch.value.totalRows, 'chTotal') : errorCell(theme),
    chUpTo: ch.ok ? count(ch.value.rowsUpToWatermark, 'chUpTo') : errorCell(theme),
    pending: ch.ok
      ? { ...count(ch.value.pendingRows, 'pending'), color: ch.value.pendingRows > 0 ? theme.state.pending : undefined }
      : errorCell(theme),
    iceberg: !ice.ok ? errorCell(theme) : ice.value.exists ? count(ice.value.rows, 'iceberg') : { text: 'no table', color: theme.muted },
    delta:
      t.delta === null
        ? { text: '—', color: theme.muted }
        : { text: formatDelta(t.delta, width('delta')), color: t.delta === 0 ? theme.ok : theme.error },
    state: stateCell(t, live, state, theme),
    lastRun: fitLastRun(lastRunCell(t, live, now, theme), width('lastRun')),
  };
}

/** The row's state; a table otherwise pending or up to date that holds back rows says so (details: the info line). */
function stateCell(t: TableStatus, live: LiveRun | undefined, state: RowState, theme: Theme): Cell {
  if (live?.status === 'queued') return { text: 'queued', color: theme.state[state] };
  const held = heldRowCount(t.held);
  if (held > 0 && (state === 'pending' || state === 'up-to-date')) return { text: `${formatCompact(held)} held`, color: theme.warn };
  return { text: STATE_LABEL[state], color: theme.state[state] };
}

/** "■ aborted 8m ago" → "■ aborted 8m" when the column is one word short. */
function fitLastRun(cell: Cell, width: number): Cell {
  return cell.text.length > width ? { ...cell, text: cell.text.replace(' ago', '') } : cell;
}

function lastRunCell(t: TableStatus, live: LiveRun | undefined, now: number, theme: Theme): Cell {
  if (live) {
    switch (live.status) {
      case 'queued':
        return { text: 'queued', color: theme.state.running };
      case 'running': {
        const pct = live.totalRows ? ` ${Math.min(100, Math.floor((live.rows / live.totalRows) * 100))}%` : '';
        return { text: `▶ ${live.isStopping ? 'stopping' : (live.phase ?? 'starting')}${pct}`, color: theme.state.running };
      }
      case 'committed':
        return { text: `✓ +${formatCompact(live.rows)} rows`, color: theme.ok };
      case 'up-to-date':
        return { text: '✓ was up to date', color: theme.ok };
      case 'busy':
        return { text: '⊘ busy, not run', color: theme.state.busy };
      case 'failed':
        return { text: `✗ failed`, color: theme.error };
      case 'stopped':
        return { text: '■ stopped', color: theme.warn };
      case 'skipped':
        return { text: '– skipped', color: theme.muted };
    }
  }
  const r = t.lastRun;
  if (!r) return { text: 'never', color: theme.muted };
  const when = formatAgo(r.finishedAt ?? r.startedAt, now);
  switch (r.status) {
    case 'committed':
      return { text: `✓ ${when} ${formatDuration(r.durationMs)}`, color: theme.ok };
    case 'up_to_date':
      return { text: `= ${when} ${formatDuration(r.durationMs)}` };
    case 'running':
      return { text: `▶ running ${formatDuration(now - Date.parse(r.startedAt))}`, color: theme.state.running };
    case 'failed':
      return { text: `✗ failed ${when}`, color: theme.error };
    case 'aborted':
      return { text: `■ aborted ${when}`, color: theme.warn };
  }
}

export function progressLine(live: LiveRun, width: number, now: number): string {
  const ratio = live.totalRows ? Math.min(1, live.rows / live.totalRows) : null;
  const barWidth = width >= 110 ? 24 : width >= 90 ? 16 : 10;
  const pct = ratio === null ? '' : ` ${String(Math.floor(ratio * 100)).padStart(3)}%`;
  const parts = [
    `${progressBar(ratio, barWidth, Math.floor((now - live.startedAt) / 250))}${pct}`,
    live.isStopping ? 'stopping safely' : (live.phase ?? 'starting'),
    live.totalRows !== null ? `${formatCompact(live.rows)}/${formatCompact(live.totalRows)} rows` : `${formatCompact(live.rows)} rows`,
    formatBytes(live.bytes),
    `${formatCompact(live.rowsPerSec)} rows/s`,
  ];
  if (live.etaSec !== null && live.etaSec !== undefined && (live.totalRows === null || live.rows < live.totalRows))
    parts.push(`ETA ${formatDuration(live.etaSec * 1000)}`);
  // How long it has run, so a long quiet step (DuckDB encoding, a commit) still shows it is alive.
  parts.push(`${formatDuration(Math.max(0, now - live.startedAt))} in`);
  return parts.join(' · ');
}

/** Lines the list wants: its column header, one per table, one more per table being offloaded. */
export function tablesHeightWanted(state: TuiState): number {
  const rows = visibleTables(state);
  return 1 + Math.max(1, rows.length) + rows.filter((t) => hasProgressLine(state.live[t.name])).length;
}

/** A running offload gets a second line with its progress; a queued one waits on its row. */
function hasProgressLine(live: LiveRun | undefined): boolean {
  return live?.status === 'running';
}

export interface TablesScreenProps {
  state: TuiState;
  now: number;
  width: number;
  /** Lines for the column header and the rows. */
  height: number;
}

export function TablesScreen({ state, now, width, height }: TablesScreenProps) {
  const theme = useTheme();
  const columns = tableColumns(width);
  const rows = visibleTables(state);
  const scrollTop = useRef(0);

  if (!state.report) {
    return (
      <Box height={height} flexDirection="column">
        <Text color={state.statusError ? theme.error : theme.muted}>
          {state.statusError ? `cannot load status: ${state.statusError}` : 'loading status…'}
        </Text>
      </Box>
    );
  }

  const listHeight = Math.max(1, height - 1);
  const heights = rows.map((t) => (hasProgressLine(state.live[t.name]) ? 2 : 1));
  const selected = Math.max(
    0,
    rows.findIndex((r) => r.name === state.selected),
  );
  // Keep the selected row (and its progress line) in view with the least movement.
  let top = Math.min(scrollTop.current, selected);
  const spanHeight = (from: number, to: number) => heights.slice(from, to + 1).reduce((a, b) => a + b, 0);
  while (top < selected && spanHeight(top, selected) > listHeight) top++;
  while (top > 0 && spanHeight(top - 1, rows.length - 1) <= listHeight) top--;
  scrollTop.current = top;

  const lines: ReactElement[] = [];
  let used = 0;
  for (let i = top; i < rows.length && used < listHeight; i++) {
    const t = rows[i];
    const live = state.live[t.name];
    const rowState = rowStateOf(t, live);
    const cells = rowCells(t, live, rowState, now, columns, theme);
    const isSelected = i === selected;
    lines.push(
      <Box key={t.name} width={width}>
        <Text inverse={isSelected} wrap="truncate-end">
          <Text bold={isSelected}>{isSelected ? '›' : ' '}</Text>
          <Text color={theme.state[rowState]}>{live?.status === 'queued' ? '…' : STATE_GLYPH[rowState]} </Text>
          {columns.map((c, ci) => (
            <Text key={c.id} color={cells[c.id].color}>
              {(ci > 0 ? ' ' : '') + padCell(cells[c.id].text, c.width, c.align)}
            </Text>
          ))}
        </Text>
      </Box>,
    );
    used++;
    if (live && hasProgressLine(live) && used < listHeight) {
      lines.push(
        <Text key={`${t.name}-progress`} color={theme.state.running} wrap="truncate-end">
          {`   └ ${progressLine(live, width, now)}`}
        </Text>,
      );
      used++;
    }
  }
  return (
    <Box flexDirection="column" height={height} width={width}>
      <Text bold wrap="truncate-end">
        {`   ${columns.map((c) => padCell(c.title, c.width, c.align)).join(' ')}`}
      </Text>
      {rows.length === 0 ? (
        <Text color={theme.muted}>
          {state.filter ? `no table matches "${state.filter}" (esc clears the filter)` : 'no tables configured'}
        </Text>
      ) : (
        lines
      )}
    </Box>
  );
}
