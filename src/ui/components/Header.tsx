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
      <Services services={state.report?.services ?? []} isStale={state.statusError !== null} width={width} />
    </Box>
  );
}

/** `s3://warehouse/iceberg` → `warehouse`: the bucket, when the line is short. */
function bucketOf(location: string): string {
  return /^s3a?:\/\/([^/]+)/.exec(location)?.[1] ?? location;
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

/** How much of a service the line has room for: everything, the URLs, host and port, or only the name when it is up. */
type Detail = 'versions' | 'urls' | 'hosts' | 'names';
const DETAILS: readonly Detail[] = ['versions', 'urls', 'hosts', 'names'];

function serviceText(s: ServiceInfo, glyph: string, detail: Detail): { cell: string; reason: string } {
  const reason = glyph === '✗' ? ` (${truncate(s.reason ?? firstLine(s.error ?? 'down'), 40)})` : '';
  if (detail === 'names' && glyph !== '✗') return { cell: `${glyph} ${s.name}`, reason };
  if (detail === 'hosts' || detail === 'names')
    return { cell: `${glyph} ${s.name} ${shortUrl(s.url)}${s.location ? `/${bucketOf(s.location)}` : ''}`, reason };
  const version = detail === 'versions' && s.version ? ` (${s.version})` : '';
  return { cell: `${glyph} ${s.name} ${s.url}${s.location ? ` ${s.location}` : ''}${version}`, reason };
}

/**
 * Each service as the last refresh found it (every refresh asks each one anew, S3 included), with as much
 * detail as the width allows; one that is down always keeps its address and reason. When the last refresh
 * failed as a whole, nothing is known now: the services show `?`, never a ✓ from before.
 */
function Services({ services, isStale, width }: { services: ServiceInfo[]; isStale: boolean; width: number }) {
  const theme = useTheme();
  if (services.length === 0) return <Text color={theme.muted}>services: …</Text>;
  const glyph = (s: ServiceInfo) => (isStale ? '?' : s.ok ? '✓' : '✗');
  const texts = (detail: Detail) => services.map((s) => serviceText(s, glyph(s), detail));
  const length = (t: ReturnType<typeof texts>) => t.reduce((n, x) => n + x.cell.length + x.reason.length, 2 * (t.length - 1));
  const detail = DETAILS.find((d) => length(texts(d)) <= width) ?? 'names';
  const shown = texts(detail);
  return (
    <Text wrap="truncate-end">
      {services.map((s, i) => (
        <Text key={s.name}>
          {i > 0 ? '  ' : ''}
          <Text color={isStale ? theme.muted : s.ok ? theme.ok : theme.error}>{shown[i].cell}</Text>
          {shown[i].reason ? <Text color={theme.error}>{shown[i].reason}</Text> : null}
        </Text>
      ))}
    </Text>
  );
}
