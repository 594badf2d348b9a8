// Fits a table's columns to the terminal width: columns join in rank order while they fit at their
// minimum width, then the space left widens them up to their preferred width, in rank order.
import { padCell } from './format.js';

export interface ColumnSpec<Id extends string = string> {
  id: Id;
  title: string;
  min: number;
  /** Width it grows to when there is room (defaults to `min`). */
  preferred?: number;
  align?: 'left' | 'right';
  /** 0 = always shown; higher ranks are dropped first when the width is short. */
  rank: number;
  /** Takes whatever width is left at the end. At most one column. */
  isFlexible?: boolean;
}

export interface FittedColumn<Id extends string = string> {
  id: Id;
  title: string;
  width: number;
  align: 'left' | 'right';
}

export const COLUMN_GAP = 1;

export function fitColumns<Id extends string>(specs: ColumnSpec<Id>[], totalWidth: number): FittedColumn<Id>[] {
  const byRank = specs.map((s, i) => ({ s, i })).sort((a, b) => a.s.rank - b.s.rank || a.i - b.i);
  const chosen = new Map<number, number>(); // index → width
  let used = 0;
  for (const { s, i } of byRank) {
    const need = s.min + (chosen.size > 0 ? COLUMN_GAP : 0);
    if (used + need <= totalWidth || s.rank === 0) {
      chosen.set(i, s.min);
      used += need;
    }
  }
  let spare = Math.max(0, totalWidth - used);
  for (const { s, i } of byRank) {
    if (!chosen.has(i) || s.isFlexible) continue;
    const grow = Math.min(spare, (s.preferred ?? s.min) - s.min);
    if (grow > 0) {
      chosen.set(i, s.min + grow);
      spare -= grow;
    }
  }
  const flexible = specs.findIndex((s) => s.isFlexible);
  if (flexible >= 0 && chosen.has(flexible)) {
    const s = specs[flexible];
    const grow = s.preferred !== undefined ? Math.min(spare, s.preferred - s.min) : spare;
    chosen.set(flexible, s.min + Math.max(0, grow));
  }
  return specs.flatMap((s, i) =>
    chosen.has(i) ? [{ id: s.id, title: s.title, width: chosen.get(i) ?? s.min, align: s.align ?? 'left' }] : [],
  );
}

/** One line of cells, each padded or cut to its column's width. */
export function joinCells<Id extends string>(columns: FittedColumn<Id>[], cells: Partial<Record<Id, string>>): string {
  return columns.map((c) => padCell(cells[c.id] ?? '', c.width, c.align)).join(' '.repeat(COLUMN_GAP));
}

export function headerLine<Id extends string>(columns: FittedColumn<Id>[]): string {
  return joinCells(columns, Object.fromEntries(columns.map((c) => [c.id, c.title])) as Partial<Record<Id, string>>);
}
