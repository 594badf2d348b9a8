// One table in depth: its Iceberg snapshots, its offload runs, its partitions and its configuration,
// one section at a time (tab / 1-4), each a scrollable list.
import { findingLines } from '../../pipeline/findings.js';
import type { ReactElement } from 'react';
import { Box, Text } from 'ink';
import type { CellState } from '../../pipeline/status-model.js';
import type { TableDetails } from '../backend.js';
import type { TableFiles } from '../../pipeline/table-files.js';
import { fitColumns, type ColumnSpec } from '../columns.js';
import { formatAgo, formatBytes, formatCount, formatDuration, formatTimestamp, fitWatermark, oneLine, padCell } from '../format.js';
import { DETAILS_SECTIONS, type DetailsSection, type DetailsView, type TuiState } from '../store.js';
import { useTheme } from '../theme.js';

const SECTION_TITLE: Record<DetailsSection, string> = {
  snapshots: 'snapshots',
  runs: 'runs',
  partitions: 'partitions',
  config: 'config',
};

interface Listing {
  columns: Array<{ title: string; width: number; align: 'left' | 'right' }>;
  rows: Array<{ cells: string[]; color?: string }>;
  error?: string;
  empty: string;
}

const SNAPSHOT_COLUMNS: ColumnSpec[] = [
  { id: 'id', title: 'SNAPSHOT ID', min: 19, rank: 0 },
  { id: 'time', title: 'COMMITTED', min: 14, preferred: 19, rank: 1 },
  { id: 'op', title: 'OPERATION', min: 9, rank: 1 },
  { id: 'rows', title: 'ADDED ROWS', min: 10, rank: 0, align: 'right' },
  { id: 'files', title: 'FILES', min: 5, rank: 1, align: 'right' },
  { id: 'total', title: 'TOTAL ROWS', min: 10, rank: 3, align: 'right' },
  { id: 'wm', title: 'OFFLOAD.WATERMARK', min: 19, preferred: 28, rank: 0 },
  { id: 'run', title: 'RUN', min: 12, preferred: 36, rank: 4 },
];

const RUN_COLUMNS: ColumnSpec[] = [
  { id: 'run', title: 'RUN', min: 8, preferred: 36, rank: 3 },
  { id: 'started', title: 'STARTED', min: 14, preferred: 19, rank: 0 },
  { id: 'status', title: 'STATUS', min: 10, rank: 0 },
  { id: 'rows', title: 'ROWS', min: 9, rank: 0, align: 'right' },
  { id: 'files', title: 'FILES', min: 5, rank: 2, align: 'right' },
  { id: 'bytes', title: 'BYTES', min: 9, rank: 4, align: 'right' },
  { id: 'duration', title: 'TOOK', min: 7, rank: 1, align: 'right' },
  { id: 'window', title: 'WINDOW END / ERROR', min: 14, preferred: 60, rank: 0 },
];

const PARTITION_COLUMNS: ColumnSpec[] = [
  { id: 'partition', title: 'PARTITION', min: 20, preferred: 60, rank: 0 },
  { id: 'records', title: 'RECORDS', min: 12, rank: 0, align: 'right' },
  { id: 'files', title: 'FILES', min: 6, rank: 0, align: 'right' },
  { id: 'small', title: 'SMALL', min: 10, rank: 1, align: 'right' },
  { id: 'deletes', title: 'DELETE FILES', min: 12, rank: 2, align: 'right' },
];

const CONFIG_COLUMNS: ColumnSpec[] = [
  { id: 'key', title: 'SETTING', min: 18, preferred: 22, rank: 0 },
  { id: 'value', title: 'VALUE', min: 20, preferred: 200, rank: 0 },
];

function fit(specs: ColumnSpec[], width: number) {
  const fitted = fitColumns(specs, width);
  return { fitted, index: (id: string) => fitted.findIndex((c) => c.id === id) };
}

function cellsFor(fitted: Array<{ id: string }>, values: Record<string, string>): string[] {
  return fitted.map((c) => values[c.id] ?? '');
}

/**
 * The summary's `offload.watermark` as a person reads it, in `width` columns: the pipeline writes it as
 * JSON (`{"timestamp":…,"tieBreak":…}`); an ISO timestamp (other writers) is shortened the same way;
 * anything else is shown as written.
 */
export function readableWatermark(raw: string, width = 40): string {
  try {
    const w = JSON.parse(raw) as { timestamp?: unknown; tieBreak?: unknown };
    if (typeof w.timestamp === 'string') {
      return fitWatermark(
        { timestamp: w.timestamp, tieBreak: w.tieBreak === null || w.tieBreak === undefined ? null : String(w.tieBreak) },
        width,
      );
    }
  } catch {
    /* not JSON */
  }
  const m = /^(\d{4}-\d{2}-\d{2}T[\d:.]+Z?)(.*)$/.exec(raw);
  if (!m) return raw;
  const rest = m[2].replace(/^[#\s,;|/]+/, '');
  return fitWatermark({ timestamp: m[1], tieBreak: rest || null }, width);
}

function notLoaded<T>(section: CellState<T>): string | undefined {
  return section.ok ? undefined : section.error;
}

export function listingFor(
  details: TableDetails,
  section: DetailsSection,
  width: number,
  now: number,
  colors: { error?: string; ok?: string; warn?: string },
): Listing {
  switch (section) {
    case 'snapshots': {
      const { fitted } = fit(SNAPSHOT_COLUMNS, width);
      const time = fitted.find((c) => c.id === 'time')?.width ?? 19;
      const wmWidth = fitted.find((c) => c.id === 'wm')?.width ?? 40;
      const rows = details.snapshots.ok
        ? details.snapshots.value.map((s) => ({
            cells: cellsFor(fitted, {
              id: s.snapshotId,
              time: formatTimestamp(s.committedAt, time),
              op: s.operation,
              rows: formatCount(s.addedRecords, 10),
              files: String(s.addedFiles),
              total: s.totalRecords === null ? '—' : formatCount(s.totalRecords, 10),
              wm: s.watermark === null ? '—' : readableWatermark(s.watermark, wmWidth),
              run: s.runId ?? '—',
            }),
          }))
        : [];
      return { columns: fitted, rows, error: notLoaded(details.snapshots), empty: 'no snapshots yet: the table has not been offloaded' };
    }
    case 'runs': {
      const { fitted } = fit(RUN_COLUMNS, width);
      const started = fitted.find((c) => c.id === 'started')?.width ?? 19;
      const windowWidth = fitted.find((c) => c.id === 'window')?.width ?? 40;
      const rows = details.runs.ok
        ? details.runs.value.map((r) => ({
            color: r.status === 'failed' || r.status === 'aborted' ? colors.error : r.status === 'running' ? colors.warn : undefined,
            cells: cellsFor(fitted, {
              run: r.runId,
              started: formatTimestamp(r.startedAt, started),
              status: r.status,
              rows: formatCount(r.rows, 9),
              files: r.files === null ? '—' : String(r.files),
              bytes: formatBytes(r.bytes),
              duration: r.status === 'running' ? formatAgo(r.startedAt, now).replace(' ago', '') : formatDuration(r.durationMs),
              window: r.error ?? (r.windowEnd ? fitWatermark(r.windowEnd, windowWidth) : '—'),
            }),
          }))
        : [];
      return { columns: fitted, rows, error: notLoaded(details.runs), empty: 'no runs recorded' };
    }
    case 'partitions': {
      const { fitted } = fit(PARTITION_COLUMNS, width);
      const rows = details.partitions.ok
        ? details.partitions.value.map((p) => ({
            cells: cellsFor(fitted, {
              partition: p.partition,
              records: formatCount(p.records),
              files: String(p.files),
              // How many of the files are small, and their share: what compaction (c) would rewrite.
              small: p.files > 0 ? `${p.smallFiles} ${Math.round((100 * p.smallFiles) / p.files)}%` : '—',
              deletes: p.deleteFiles > 0 ? String(p.deleteFiles) : '—',
            }),
          }))
        : [];
      return { columns: fitted, rows, error: notLoaded(details.partitions), empty: 'no partitions: the table holds no data yet' };
    }
    case 'config': {
      const { fitted } = fit(CONFIG_COLUMNS, width);
      const rows = details.config.map((e) => ({ cells: cellsFor(fitted, { key: e.key, value: e.value }) }));
      return { columns: fitted, rows, empty: 'no configuration' };
    }
  }
}

/** Orphan files of runs that never committed, and what removes them; nothing when there are none. */
function orphanLines(files: TableFiles): string[] {
  if (files.orphanFiles === 0) return [];
  return [
    `${formatCount(files.orphanFiles)} orphan files (${formatBytes(files.orphanBytes)}) older than gc's safety age: \`offload gc\` deletes them, \`offload gc --dry-run\` lists them`,
  ];
}

export interface DetailsScreenProps {
  state: TuiState;
  details: DetailsView;
  now: number;
  width: number;
  height: number;
}

export function DetailsScreen({ state, details, now, width, height }: DetailsScreenProps) {
  const theme = useTheme();
  const table = state.report?.tables.find((t) => t.name === details.table);
  const title = table ? `${details.table}  ${table.source} → ${table.target}  (${table.layer})` : details.table;
  const wm = table?.watermark.ok
    ? `watermark ${formatTimestamp(table.watermark.value.timestamp)}${table.watermark.value.tieBreak !== null ? ` #${table.watermark.value.tieBreak}` : ''}`
    : '';
  const notes = [...(table ? findingLines(table) : []), ...(details.data?.files?.ok ? orphanLines(details.data.files.value) : [])];
  const listHeight = Math.max(1, height - 3 - notes.length);
  const data = details.data;

  let body: ReactElement;
  if (!data) {
    body = (
      <Text color={details.error ? theme.error : theme.muted}>{details.error ? `cannot load details: ${details.error}` : 'loading…'}</Text>
    );
  } else {
    const listing = listingFor(data, details.section, width, now, { error: theme.error, ok: theme.ok, warn: theme.warn });
    const shown = listing.rows.slice(details.scroll, details.scroll + listHeight);
    body = (
      <Box flexDirection="column">
        <Text bold wrap="truncate-end">
          {listing.columns.map((c) => padCell(c.title, c.width, c.align)).join(' ')}
        </Text>
        {listing.error !== undefined ? (
          <Text color={theme.error} wrap="truncate-end">
            cannot load {SECTION_TITLE[details.section]}: {oneLine(listing.error)}
          </Text>
        ) : shown.length === 0 ? (
          <Text color={theme.muted}>{listing.empty}</Text>
        ) : (
          shown.map((r, i) => (
            <Text key={details.scroll + i} color={r.color} wrap="truncate-end">
              {r.cells.map((cell, ci) => padCell(cell, listing.columns[ci].width, listing.columns[ci].align)).join(' ')}
            </Text>
          ))
        )}
      </Box>
    );
  }

  const count = (s: DetailsSection): string => {
    if (!data) return '';
    const c = s === 'config' ? { ok: true as const, value: data.config } : data[s];
    return c.ok ? ` (${c.value.length})` : ' (!)';
  };

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text wrap="truncate-end">
        <Text bold>{title}</Text>
        <Text color={theme.muted}>{wm ? `  ${wm}` : ''}</Text>
        {details.isLoading && data ? <Text color={theme.muted}> · reloading…</Text> : null}
      </Text>
      <Text wrap="truncate-end">
        {DETAILS_SECTIONS.map((s, i) => (
          <Text key={s} inverse={s === details.section} bold={s === details.section}>
            {` ${i + 1} ${SECTION_TITLE[s]}${count(s)} `}
          </Text>
        ))}
      </Text>
      {notes.map((l) => (
        <Text key={l} color={theme.warn} wrap="truncate-end">
          {l}
        </Text>
      ))}
      {body}
    </Box>
  );
}
