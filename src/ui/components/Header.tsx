// Two lines on top: what the screen is and how fresh it is; then the services with redacted URLs.
import { Box, Text } from 'ink';
import type { ServiceInfo } from '../../pipeline/status-model.js';
import { firstLine, formatAgo, formatDuration, truncate } from '../format.js';
import { visibleTables, type TuiState } from '../store.js';
import { useTheme } from '../theme.js';

export interface HeaderProps {
  state: TuiState;
  now: number;
  refreshSec: number;
  width: number;
}

export function Header({ state, now, refreshSec, width }: HeaderProps) {
  const theme = useTheme();
  const tables = state.report?.tables.length ?? 0;
  // With a filter, how many of them are on screen.
  const shown = state.filter ? visibleTables(state).length : tables;
  const count = shown === tables ? `${tables} table${tables === 1 ? '' : 's'}` : `${shown} of ${tables} tables`;
  const parts: string[] = [count, `sort: ${state.sort}`];
  if (state.filter || state.isEditingFilter) parts.push(`filter: ${state.filter}${state.isEditingFilter ? '_' : ''}`);
  let fresh: { text: string; color?: string };
  if (state.isRefreshing && state.refreshStartedAt !== null && now - state.refreshStartedAt >= 2000) {
    fresh = { text: `refreshing… (slow: ${formatDuration(now - state.refreshStartedAt)})`, color: theme.warn };
  } else if (state.statusError) {
    fresh = { text: `refresh failed: ${state.statusError}`, color: theme.error };
  } else if (state.lastRefreshAt !== null) {
    fresh = {
      text: `updated ${formatAgo(new Date(state.lastRefreshAt).toISOString(), now)}${refreshSec > 0 ? `, every ${refreshSec}s` : ''}`,
    };
  } else {
    fresh = { text: 'loading…' };
  }
  const title = `offload · ${parts.join(' · ')} · `;
  return (
    <Box flexDirection="column" width={width} flexShrink={0}>
      <Text wrap="truncate-end">
        <Text bold color={theme.accent}>
          {title}
        </Text>
        <Text color={fresh.color}>{truncate(fresh.text, Math.max(10, width - title.length))}</Text>
      </Text>
      <Services services={servicesSeen(state)} width={width} />
    </Box>
  );
}

/**
 * The services as the report gives them, except that ClickHouse shows as down when every table's
 * ClickHouse cells failed in this snapshot (the report's own probe may be older than the failure).
 */
export function servicesSeen(state: TuiState): ServiceInfo[] {
  const report = state.report;
  if (!report) return [];
  const tables = report.tables;
  const failures = tables.flatMap((t) => (t.clickhouse.ok ? [] : [t.clickhouse.error]));
  const isClickHouseDown =
    tables.length > 0 && failures.length === tables.length && failures.every((e) => /cannot reach ClickHouse|unreachable/i.test(e));
  if (!isClickHouseDown) return report.services;
  return report.services.map((s) => (s.name === 'ClickHouse' && s.ok ? { ...s, ok: false, error: firstLine(failures[0]) } : s));
}

/** "cannot reach ClickHouse at … (connection refused)." → "connection refused": the rest is on the line already. */
function errorDetail(error: string): string {
  const line = firstLine(error);
  return /\(([^()]+)\)\.?$/.exec(line)?.[1] ?? line;
}

/** `http://default:***@127.0.0.1:18123/` → `127.0.0.1:18123` when the line is short. */
function shortUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.host || url;
  } catch {
    return url;
  }
}

function Services({ services, width }: { services: ServiceInfo[]; width: number }) {
  const theme = useTheme();
  if (services.length === 0) return <Text color={theme.muted}>services: …</Text>;
  const cell = (s: ServiceInfo, isLong: boolean) =>
    `${s.ok ? '✓' : '✗'} ${s.name} ${isLong ? s.url : shortUrl(s.url)}${isLong && s.version ? ` (${s.version})` : ''}`;
  const long = services.map((s) => cell(s, true)).join('  ');
  const isLong = long.length <= width;
  return (
    <Text wrap="truncate-end">
      {services.map((s, i) => (
        <Text key={s.name}>
          {i > 0 ? '  ' : ''}
          <Text color={s.ok ? theme.ok : theme.error}>{cell(s, isLong)}</Text>
          {!s.ok && s.error ? <Text color={theme.error}>{` (${truncate(errorDetail(s.error), 40)})`}</Text> : null}
        </Text>
      ))}
    </Text>
  );
}
