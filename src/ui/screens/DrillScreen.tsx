// Drill mode (`d`): pick a table and a fault point (or random), watch the offload process die there and
// the next one recover, and see each invariant ✓/✗ with its numbers; `s` saves the report. The drill runs
// through the backend on a sandbox copy of the table; this screen only renders its events.
import { useEffect, useRef, useState } from 'react';
import { Box, Text, type Key } from 'ink';
import type { DrillReport } from '../../drill/report.js';
import type { InvariantCheck } from '../../verify/check.js';
import type { OffloadBackend } from '../backend.js';
import {
  checkSummary,
  chosenFault,
  chosenTable,
  initialDrillView,
  processSummary,
  reduceDrillDone,
  reduceDrillEvent,
  reduceFocus,
  reduceMoveChoice,
  reduceSaved,
  reduceStarted,
  reduceStopping,
  shownChecks,
  type DrillProcess,
  type DrillView,
} from '../drill-view.js';
import { truncate } from '../format.js';
import { useKeys } from '../hooks/useKeys.js';
import { useTheme } from '../theme.js';

export interface DrillScreenProps {
  backend: OffloadBackend;
  /** The table selected on the tables screen: the drill's first choice. */
  selected: string | null;
  width: number;
  height: number;
  onExit: () => void;
  clock?: () => number;
}

const CHECK_TITLES: Record<InvariantCheck['name'], string> = {
  'rows-lost': 'rows lost',
  'rows-duplicated': 'rows duplicated',
  'watermark-matches-snapshot': 'watermark = snapshot',
  'no-run-left-running': 'no run left running',
  'metadata-readable': 'metadata readable',
  'pyiceberg-loads': 'loads in pyiceberg',
  'orphans-collected': 'orphans collected by gc',
};

const OUTCOME_TEXT: Record<DrillReport['outcome'], string> = {
  held: 'every invariant held',
  broken: 'AN INVARIANT BROKE',
  inconclusive: 'inconclusive: the fault was not reached or not injected',
};

export function DrillScreen({ backend, selected, width, height, onExit, clock = Date.now }: DrillScreenProps) {
  const menu = backend.drillMenu?.();
  const [view, setView] = useState<DrillView>(() => initialDrillView(menu?.tables ?? [], menu?.faults ?? [], selected));
  // Keys may arrive before Ink re-subscribes the handler of the latest render: read the state from here.
  const latest = useRef(view);
  latest.current = view;
  const controller = useRef<AbortController | null>(null);
  const isMounted = useRef(true);
  useEffect(
    () => () => {
      isMounted.current = false;
      controller.current?.abort();
    },
    [],
  );
  const update = (fn: (v: DrillView) => DrillView) => {
    if (isMounted.current) setView(fn);
  };

  const start = () => {
    const table = chosenTable(latest.current);
    const fault = chosenFault(latest.current);
    if (!backend.drill || !table || !fault) return;
    const c = new AbortController();
    controller.current = c;
    update((v) => reduceStarted(v, clock()));
    backend
      .drill({ table, fault }, (e) => update((v) => reduceDrillEvent(v, e)), c.signal)
      .then(
        (report) => update((v) => reduceDrillDone(v, report, null)),
        (err: unknown) => update((v) => reduceDrillDone(v, null, err instanceof Error ? err.message : String(err))),
      );
  };

  const save = () => {
    const report = latest.current.report;
    if (!report || !backend.saveDrillReport) return;
    backend.saveDrillReport(report).then(
      (path) => update((v) => reduceSaved(v, path)),
      (err: unknown) => update((v) => reduceSaved(v, null, `saving the report: ${err instanceof Error ? err.message : String(err)}`)),
    );
  };

  useKeys((input: string, key: Key) => {
    const isBack = key.escape || input === 'q' || (key.ctrl && input === 'c');
    const view = latest.current;
    if (view.phase === 'running') {
      if (isBack) {
        controller.current?.abort();
        update(reduceStopping);
      }
      return;
    }
    if (view.phase === 'done') {
      if (input === 's') save();
      else if (key.return || input === 'n')
        update((v) => ({ ...initialDrillView(v.tables, v.faults, chosenTable(v) ?? null), faultIndex: v.faultIndex }));
      else if (isBack) onExit();
      return;
    }
    if (isBack) return onExit();
    if (input === 'j' || key.downArrow) update((v) => reduceMoveChoice(v, 1));
    else if (input === 'G' || key.end) update((v) => reduceMoveChoice(v, Number.MAX_SAFE_INTEGER));
    else if (input === 'g' || key.home) update((v) => reduceMoveChoice(v, -Number.MAX_SAFE_INTEGER));
    else if (input === 'k' || key.upArrow) update((v) => reduceMoveChoice(v, -1));
    else if (key.tab || key.rightArrow || key.leftArrow || input === 'h' || input === 'l')
      update((v) => reduceFocus(v, key.leftArrow || input === 'h' ? 'table' : key.rightArrow || input === 'l' ? 'fault' : undefined));
    else if (key.return) start();
  });

  if (!backend.drill || !menu) {
    return (
      <Box flexDirection="column" width={width} height={height}>
        <Text bold>Drill mode</Text>
        <Text>Drills are not available with this backend. esc goes back.</Text>
      </Box>
    );
  }
  return view.phase === 'choose' ? (
    <ChooseView view={view} width={width} height={height} />
  ) : (
    <RunView view={view} width={width} height={height} now={clock()} />
  );
}

function ChooseView({ view, width, height }: { view: DrillView; width: number; height: number }) {
  const theme = useTheme();
  const listHeight = Math.max(3, height - 7);
  const tableWidth = Math.min(34, Math.max(16, Math.floor(width * 0.35)));
  const faultWidth = Math.min(26, Math.max(14, width - tableWidth - 2));
  const fault = chosenFault(view);
  const window = <T,>(items: T[], selectedIndex: number): Array<{ item: T; index: number }> => {
    const top = Math.max(0, Math.min(selectedIndex - Math.floor(listHeight / 2), items.length - listHeight));
    return items.slice(top, top + listHeight).map((item, i) => ({ item, index: top + i }));
  };
  const row = (text: string, isSelected: boolean, isFocused: boolean, w: number) => (
    <Text
      inverse={isSelected && isFocused}
      bold={isSelected}
      color={isSelected && !isFocused ? theme.accent : undefined}
      wrap="truncate-end"
    >
      {truncate(`${isSelected ? '›' : ' '} ${text}`, w).padEnd(w)}
    </Text>
  );
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold wrap="truncate-end">
        Drill mode <Text color={theme.muted}>— kill an offload on purpose, let the next run recover, check every invariant</Text>
      </Text>
      <Box>
        <Box flexDirection="column" width={tableWidth + 2}>
          <Text color={view.focus === 'table' ? theme.accent : theme.muted} bold>
            TABLE
          </Text>
          {window(view.tables, view.tableIndex).map(({ item, index }) => (
            <Box key={item}>{row(item, index === view.tableIndex, view.focus === 'table', tableWidth)}</Box>
          ))}
        </Box>
        <Box flexDirection="column" width={faultWidth + 2}>
          <Text color={view.focus === 'fault' ? theme.accent : theme.muted} bold>
            FAULT
          </Text>
          {window(view.faults, view.faultIndex).map(({ item, index }) => (
            <Box key={item.id}>
              {row(`${item.label}${item.kind === 'transient' ? ' ~' : ''}`, index === view.faultIndex, view.focus === 'fault', faultWidth)}
            </Box>
          ))}
        </Box>
      </Box>
      <Box height={2} width={width}>
        <Text wrap="wrap">
          <Text color={theme.accent}>{fault ? `${fault.label} (${fault.kind}): ` : ''}</Text>
          {fault?.simulates ?? ''}
        </Text>
      </Box>
      <Text color={theme.muted} wrap="truncate-end">
        Runs on a sandbox copy of {chosenTable(view) ?? 'the table'} (its own Iceberg namespace and watermark); your tables are not touched.
      </Text>
      <Text color={theme.muted} wrap="truncate-end">
        enter start · j/k choose · tab / ←→ table or fault · esc back
      </Text>
    </Box>
  );
}

function processLine(p: DrillProcess): { glyph: string; text: string; tone: 'ok' | 'error' | 'accent' | 'muted' } {
  const who = `${p.role.padEnd(13)} pid ${String(p.pid ?? '?').padEnd(7)}`;
  if (!p.run) return { glyph: '▶', text: `${who} running${p.fault ? ` — fault ${p.fault} armed` : ''}…`, tone: 'accent' };
  if (p.run.signal === 'SIGKILL') return { glyph: '✗', text: `${who} ${processSummary(p.run)}`, tone: 'error' };
  if (p.run.exitCode === 0) return { glyph: '✓', text: `${who} ${processSummary(p.run)}`, tone: 'ok' };
  if (p.run.exitCode === 5) return { glyph: '⊘', text: `${who} ${processSummary(p.run)}`, tone: 'muted' };
  return { glyph: '!', text: `${who} ${processSummary(p.run)}`, tone: 'error' };
}

function RunView({ view, width, height, now }: { view: DrillView; width: number; height: number; now: number }) {
  const theme = useTheme();
  const tone = (t: 'ok' | 'error' | 'accent' | 'muted') =>
    t === 'ok' ? theme.ok : t === 'error' ? theme.error : t === 'accent' ? theme.accent : theme.muted;
  const fault = chosenFault(view);
  const table = chosenTable(view);
  const elapsed = view.startedAt === null ? 0 : Math.max(0, (view.report ? Date.parse(view.report.finishedAt) : now) - view.startedAt);
  const kills = view.finished.reduce((n, s) => n + s.runs.filter((r) => r.signal === 'SIGKILL').length, 0);
  const isRandom = fault?.kind === 'random';
  const checks = shownChecks(view);
  const status =
    view.phase === 'running'
      ? view.isStopping
        ? 'stopping after this step…'
        : view.isChecking
          ? 'checking the invariants…'
          : 'running'
      : view.error
        ? `failed: ${view.error}`
        : view.report
          ? OUTCOME_TEXT[view.report.outcome]
          : 'stopped';
  const statusTone =
    view.phase === 'running'
      ? theme.accent
      : view.error || view.report?.outcome === 'broken'
        ? theme.error
        : view.report?.outcome === 'held'
          ? theme.ok
          : theme.warn;
  const progress = [
    isRandom ? `kills ${kills}/${view.step?.total ?? '?'}` : view.step ? `step ${view.step.index}/${view.step.total}` : null,
    view.tradesInserted ? `${view.tradesInserted.toLocaleString('en-US')} new trades` : null,
    `${(elapsed / 1000).toFixed(0)} s`,
  ].filter(Boolean);
  const header = `Drill  ${table ?? '?'} · ${fault?.label ?? '?'}  ${progress.join(' · ')}`;
  const fixed = 6 + view.processes.length + Math.max(1, checks.length + view.checkingNow.length);
  const outputLines = Math.max(0, height - fixed - 1);
  const footer =
    view.phase === 'running'
      ? 'esc stop after this step'
      : `${view.report ? 's save report · ' : ''}enter new drill · esc back${view.savedTo ? `   saved: ${view.savedTo}` : ''}`;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold wrap="truncate-end">
        {header}
      </Text>
      <Text wrap="truncate-end">
        <Text color={statusTone} bold>
          {status}
        </Text>
        <Text color={theme.muted}>
          {' '}
          · {(view.report?.final.length ? fault?.simulates : view.step?.simulates) ?? fault?.simulates ?? ''}
        </Text>
      </Text>
      <Text bold color={theme.muted}>
        Offload processes
      </Text>
      {view.processes.length === 0 ? <Text color={theme.muted}> starting…</Text> : null}
      {view.processes.map((p, i) => {
        const l = processLine(p);
        return (
          <Text key={`${p.role}-${p.pid ?? i}-${i}`} wrap="truncate-end">
            {'  '}
            <Text color={tone(l.tone)}>{l.glyph}</Text> {l.text}
          </Text>
        );
      })}
      {view.injected.length > 0 ? (
        <Text color={theme.warn} wrap="truncate-end">
          {'  '}~ injected {view.injected.length}×: {view.injected[view.injected.length - 1]}
        </Text>
      ) : null}
      <Text bold color={theme.muted}>
        Invariants{view.report?.final.length ? ' (final checks)' : ''}
      </Text>
      {checks.length === 0 && view.checkingNow.length === 0 ? (
        <Text color={theme.muted}> {view.isChecking ? 'checking…' : 'after the recovery run'}</Text>
      ) : null}
      {checks.map((c, i) => (
        <Text key={`${c.name}-${i}`} wrap="truncate-end">
          {'  '}
          <Text color={c.status === 'held' ? theme.ok : c.status === 'broken' ? theme.error : theme.muted}>
            {c.status === 'held' ? '✓' : c.status === 'broken' ? '✗' : '–'}
          </Text>{' '}
          {CHECK_TITLES[c.name].padEnd(24)}{' '}
          <Text color={c.status === 'broken' ? theme.error : undefined}>{c.status === 'broken' ? c.detail : checkSummary(c)}</Text>
        </Text>
      ))}
      {view.checkingNow.map((name) => (
        <Text key={`now-${name}`} color={theme.accent} wrap="truncate-end">
          {'  ▸ '}
          {CHECK_TITLES[name].padEnd(24)} checking…
        </Text>
      ))}
      {outputLines > 1 ? (
        <>
          <Text bold color={theme.muted}>
            Output
          </Text>
          {view.output.slice(-(outputLines - 1)).map((line, i) => (
            <Text key={i} color={theme.muted} wrap="truncate-end">
              {'  '}
              {line}
            </Text>
          ))}
        </>
      ) : null}
      <Box flexGrow={1} />
      <Text color={theme.muted} wrap="truncate-end">
        {footer}
      </Text>
    </Box>
  );
}
