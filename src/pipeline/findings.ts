// What an operator reads about a table besides its counts, the same in `offload status` and the TUI: rows
// its runs hold back (held-rows.ts), then its late data with the repair of each partition (late-data.ts).
import { heldRowsLines, heldRowsUpTo } from './held-rows.js';
import { lateDataLines } from './late-data.js';
import type { TableStatus } from './status-model.js';

/** One line per finding, then what to do. */
export function findingLines(t: Pick<TableStatus, 'name' | 'cursor' | 'held' | 'late' | 'watermark'>): string[] {
  // Held rows at or below the watermark are among the rows ClickHouse has and Iceberg lacks: not late ones.
  const heldBelow = heldRowsUpTo(t.held, t.watermark.ok ? t.watermark.value.timestamp : null);
  return [...heldRowsLines(t.name, t.cursor, t.held), ...(t.late?.ok ? lateDataLines(t.name, t.late.value, heldBelow) : [])];
}
