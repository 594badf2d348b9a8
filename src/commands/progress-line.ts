// The live lines of `offload run` on a terminal: one line a table being offloaded, redrawn in place as
// its events arrive and every half second in between (so the elapsed time moves during a long write or
// commit). Pure formatting plus a small in-place painter; the command decides when to use it.
import type { Writable } from 'node:stream';
import type { OffloadEvent, OffloadPhase } from '../pipeline/events.js';
import { formatCount } from './output.js';

export interface LiveTable {
  phase: OffloadPhase | 'starting';
  /** When this table's offload began (its first event), on the command's clock. */
  startedAt: number;
  progress: Extract<OffloadEvent, { kind: 'progress' }> | null;
  /** Rows the run plans to take, known from its first `planned` event. */
  plannedRows: number | null;
}

function bar(fraction: number, width = 20): string {
  const full = Math.max(0, Math.min(width, Math.floor(fraction * width)));
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

/** 4 → "4s", 158 → "2m38s", 7300 → "2h01m". */
export function shortDuration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `silver_trades  extract  [#####...............]  25%  712,345/2,850,000 rows  410,220 rows/s  ETA 5s  3.2s` */
export function liveLine(table: string, live: LiveTable, now: number): string {
  const p = live.progress;
  const total = p?.totalRows ?? live.plannedRows;
  const rows = p?.rows ?? 0;
  const parts = [table, live.phase];
  if (total !== null && total !== undefined) {
    const fraction = total > 0 ? Math.min(1, rows / total) : 1;
    parts.push(`${bar(fraction)} ${String(Math.floor(fraction * 100)).padStart(3)}%`, `${formatCount(rows)}/${formatCount(total)} rows`);
  }
  if (p && p.rowsPerSec > 0) parts.push(`${formatCount(p.rowsPerSec)} rows/s`);
  if (p?.etaSec !== undefined && rows < (total ?? 0)) parts.push(`ETA ${shortDuration(p.etaSec)}`);
  const elapsed = (now - live.startedAt) / 1000;
  parts.push(elapsed < 10 ? `${elapsed.toFixed(1)}s` : shortDuration(elapsed));
  return parts.join('  ');
}

/** Paints lines in place at the bottom of a terminal: the next paint (or `clear`) replaces them. */
export class LivePainter {
  private drawn = 0;

  constructor(
    private readonly out: Writable,
    private readonly columns: () => number,
  ) {}

  paint(lines: string[]): void {
    // A terminal that reports no size (0: a pseudo-terminal nobody sized) gets the usual 100 columns.
    const width = Math.max(10, (this.columns() || 100) - 1);
    this.clear();
    if (lines.length === 0) return;
    this.out.write(lines.map((l) => l.slice(0, width)).join('\n'));
    this.drawn = lines.length;
  }

  /** Removes the painted lines; the cursor is left where they began. */
  clear(): void {
    if (this.drawn === 0) return;
    this.out.write(`\r\x1b[K${'\x1b[1A\x1b[K'.repeat(this.drawn - 1)}`);
    this.drawn = 0;
  }
}
