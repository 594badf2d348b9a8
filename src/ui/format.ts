// How numbers, sizes, times and watermarks read on screen. Pure: every function is a value in, a string out.
import type { Watermark } from '../core/watermark.js';

/** 1234 → "1,234"; 1234567 → "1.23M" once the plain form would not fit `width`. */
export function formatCount(n: number | null | undefined, width = 12): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const plain = Math.round(n).toLocaleString('en-US');
  if (plain.length <= width) return plain;
  return formatCompact(n);
}

/** Always short: 950 → "950", 45_600 → "45.6k", 1_234_567 → "1.23M", 7.1e9 → "7.10G". */
export function formatCompact(n: number): string {
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  if (a < 1000) return `${sign}${Math.round(a)}`;
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, unit] of units) {
    if (a >= size) {
      const v = a / size;
      const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
      return `${sign}${v.toFixed(digits)}${unit}`;
    }
  }
  return `${sign}${a}`;
}

/** A signed difference: 0 → "0", 12 → "+12", -3 → "-3"; compact ("+1.23M") once it would not fit `width`. */
export function formatDelta(n: number | null | undefined, width = 12): string {
  if (n === null || n === undefined) return '—';
  if (n === 0) return '0';
  const sign = n > 0 ? '+' : '';
  const plain = sign + Math.round(n).toLocaleString('en-US');
  return plain.length <= width ? plain : sign + formatCompact(n);
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** 850 → "850ms", 4200 → "4.2s", 192_000 → "3m12s", 3_840_000 → "1h04m". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const totalSec = Math.round(s);
  const m = Math.floor(totalSec / 60);
  if (m < 60) return `${m}m${String(totalSec % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Seconds as a short span without sub-units: 300 → "5m", 45 → "45s", 7200 → "2h". */
export function formatSpan(sec: number | null | undefined): string {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return '—';
  if (sec < 90) return `${Math.round(sec)}s`;
  if (sec < 90 * 60) return `${Math.round(sec / 60)}m`;
  if (sec < 48 * 3600) return `${Math.round(sec / 3600)}h`;
  return `${Math.round(sec / 86400)}d`;
}

/** How long ago an instant was, relative to `now` (ms since epoch): "12s ago", "3m ago", "2h ago". */
export function formatAgo(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const sec = Math.max(0, (now - t) / 1000);
  if (sec < 5) return 'just now';
  return `${formatSpan(sec)} ago`;
}

export function isEpoch(ts: string): boolean {
  return /^1970-01-01T00:00:00(\.0+)?Z?$/.test(ts);
}

/**
 * A watermark timestamp for a column `width` wide: "2026-02-11 12:02:00.123" when it fits, else
 * "2026-02-11 12:02:00", else "02-11 12:02:00". The epoch (nothing offloaded yet) reads "never".
 */
export function formatTimestamp(ts: string, width = 23): string {
  if (isEpoch(ts)) return 'never';
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(ts);
  if (!m) return ts.slice(0, width);
  const [, y, mo, d, hms, frac] = m;
  const millis = frac && /[1-9]/.test(frac) ? `.${frac.padEnd(3, '0').slice(0, 3)}` : '';
  const candidates = [`${y}-${mo}-${d} ${hms}${millis}`, `${y}-${mo}-${d} ${hms}`, `${mo}-${d} ${hms}`, `${mo}-${d} ${hms.slice(0, 5)}`];
  return candidates.find((c) => c.length <= width) ?? candidates[candidates.length - 1];
}

/** Timestamp and tie-break in `width` columns: the date is shortened before the tie-break is dropped. */
export function fitWatermark(w: Watermark, width = 30): string {
  const ts = formatTimestamp(w.timestamp, width);
  if (w.tieBreak === null || ts === 'never') return ts;
  const tie = ` #${w.tieBreak}`;
  const shorter = formatTimestamp(w.timestamp, Math.max(0, width - tie.length));
  return shorter.length + tie.length <= width && shorter.length >= 14 ? shorter + tie : ts;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: a terminal escape code, matched on purpose
const ESCAPE_CODE = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters, matched on purpose
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/g;

/**
 * Text that stays on one line of the screen: line breaks and tabs become spaces, terminal escape
 * sequences and other control characters go (server messages and warnings carry all of these).
 */
export function oneLine(s: string): string {
  return s
    .replace(ESCAPE_CODE, '')
    .replace(/\s*[\r\n\t]+\s*/g, ' ')
    .replace(CONTROL_CHARACTER, '');
}

/** Cuts `s` to `width` characters on one line, marking the cut with an ellipsis. */
export function truncate(text: string, width: number): string {
  const s = oneLine(text);
  if (width <= 0) return '';
  if (s.length <= width) return s;
  if (width === 1) return '…';
  return `${s.slice(0, width - 1)}…`;
}

export function padCell(s: string, width: number, align: 'left' | 'right' = 'left'): string {
  const t = truncate(s, width);
  return align === 'right' ? t.padStart(width) : t.padEnd(width);
}

/** First line of an error message, for a cell or a log line. */
export function firstLine(message: string): string {
  const line = message.split('\n', 1)[0] ?? '';
  return line.trim();
}
