// The watermark: how far a table is offloaded. PostgreSQL (offload_watermarks), the Iceberg snapshot
// summary (`offload.watermark`), the planner and every screen share this one idea, so its type, its text
// in snapshot summaries, its comparison and its display live here, below everything else, with the
// µs ⇄ ISO-8601 conversions they all use.

/** A watermark: the last cursor value offloaded, plus the tie-break value among rows that share it. */
export interface Watermark {
  /** ISO-8601 UTC timestamp with microseconds, e.g. 2026-02-11T12:02:00.123000Z. */
  timestamp: string;
  /** Tie-break column value at that timestamp (as a decimal string), or null when the table has none. */
  tieBreak: string | null;
}

/** Microseconds since 1970-01-01T00:00:00Z: the watermark's precision. */
export type Micros = bigint;

/** Where every table starts: nothing offloaded. */
export const EPOCH: Watermark = { timestamp: '1970-01-01T00:00:00.000000Z', tieBreak: null };

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** An instant's µs, or why it is none. A time without a zone is UTC; digits beyond µs must be zero. */
function parseInstant(iso: string): { micros: Micros } | { error: string } {
  const m = INSTANT.exec(iso.trim());
  if (!m) return { error: `"${iso}" is not a UTC timestamp (expected YYYY-MM-DDThh:mm:ss[.ffffff]Z)` };
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  if (/[1-9]/.test(frac.slice(6))) return { error: `"${iso}" has sub-microsecond digits` };
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return { error: `"${iso}" is not a valid date` };
  const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  const offsetMinutes = z ? (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3])) : 0;
  return { micros: (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1000n + BigInt(frac.padEnd(6, '0').slice(0, 6)) };
}

/** `2026-02-11T12:02:00.123456Z` → µs. Digits beyond µs must be zero (a bound is never silently moved). */
export function microsFromIso(iso: string): Micros {
  const r = parseInstant(iso);
  if ('error' in r) throw new Error(r.error);
  return r.micros;
}

/** µs of an ISO-8601 instant, or null when the text is not one (exact: no float on the way). */
export function instantMicros(iso: string): Micros | null {
  const r = parseInstant(iso);
  return 'micros' in r ? r.micros : null;
}

/** µs → `2026-02-11T12:02:00.123456Z` (always six fraction digits, the watermark's text form). */
export function isoFromMicros(us: Micros): string {
  const ms = us >= 0n ? us / 1000n : -((-us + 999n) / 1000n);
  const rest = us - ms * 1000n; // 0..999
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) throw new Error(`${us} µs is outside the representable time range`);
  const base = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${base.slice(0, 23)}${rest.toString().padStart(3, '0')}Z`;
}

/**
 * Two watermarks name the same point: timestamps compared as exact µs (so `…00Z`, `…00.000000Z` and
 * `…02:00+02:00` agree), tie-breaks as text. A timestamp that is no instant equals nothing.
 */
export function sameWatermark(a: Watermark | null, b: Watermark | null): boolean {
  if (a === null || b === null) return a === b;
  const ta = instantMicros(a.timestamp);
  return ta !== null && ta === instantMicros(b.timestamp) && (a.tieBreak ?? null) === (b.tieBreak ?? null);
}

/** The stable text of a watermark in snapshot summaries (keys in this order, tie-break as a string or null). */
export function encodeWatermark(w: Watermark): string {
  return JSON.stringify({ timestamp: w.timestamp, tieBreak: w.tieBreak });
}

/**
 * A watermark from its text in a snapshot summary: the JSON encodeWatermark writes, or the shorter
 * `<ISO>`, `<ISO>#<tie-break>` forms; null when the text is none of these (a snapshot another writer made).
 */
export function decodeWatermark(text: string | null | undefined): Watermark | null {
  const t = text?.trim();
  if (!t) return null;
  if (t.startsWith('{')) {
    try {
      const v = JSON.parse(t) as { timestamp?: unknown; tieBreak?: unknown; tie_break?: unknown };
      if (typeof v.timestamp !== 'string') return null;
      const tieBreak = v.tieBreak ?? v.tie_break ?? null;
      return { timestamp: v.timestamp, tieBreak: tieBreak === null ? null : String(tieBreak) };
    } catch {
      return null;
    }
  }
  const m = /^(\S+?)(?:[#@ ](-?\d+))?$/.exec(t);
  if (!m || instantMicros(m[1]) === null) return null;
  return { timestamp: m[1], tieBreak: m[2] ?? null };
}

/** `2026-02-11T12:02:00.000000Z #17` (the tie-break only when there is one), for messages and reports. */
export function formatWatermark(w: Watermark): string {
  return w.tieBreak === null ? w.timestamp : `${w.timestamp} #${w.tieBreak}`;
}

/** `2026-02-11T12:02:00.500000Z` → `2026-02-11 12:02:00.5` (UTC, fraction only when there is one), for messages and screens. */
export function formatInstant(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z?$/.exec(iso);
  if (!m) return iso;
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  return `${m[1]} ${m[2]}${fraction ? `.${fraction}` : ''}`;
}
