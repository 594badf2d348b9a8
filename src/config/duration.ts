// Durations in the configuration and on the command line ("5m", "1h30m"): a module of its own, so the CLI
// can parse them without loading the configuration's schema (zod, yaml).
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "5m", "90s", "1h", "1h30m", "1d", "250ms", "0s" → milliseconds; null when the text is not a duration. */
export function durationMs(text: string): number | null {
  const s = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(s)) return null;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]];
  return Number.isFinite(total) ? Math.round(total) : null;
}
