// Rows held back (docs/architecture.md "Rows ClickHouse refuses"): when ClickHouse refuses to read the rows
// at one cursor value (a 38-digit price overflowing a candle query's cast to Decimal(18, 8): error 407), a
// table whose `refusedRows` is `hold` (the default) records that value, leaves it out of its windows and
// offloads every other row — the watermark may pass it. One bad row then never stops a table, nor the
// layers made from it. Nothing is lost silently: the value is recorded in the state store with the error
// and how to see the rows, shown by `status`, the TUI and the run itself until ClickHouse reads the rows
// again. Each run first reads every held value again (one query each): a value that reads is forgotten —
// above the watermark the run takes its rows; at or below it they are ordinary late rows, which status
// shows with the repair of their partition.
import type { TableConfig } from '../config/tables.js';
import type { Lower } from '../clickhouse/window.js';
import { formatInstant, isoFromMicros, microsFromIso, type Micros } from '../core/watermark.js';
import type { HeldRowsRecord } from '../state/held-rows.js';
import type { StateStore } from '../state/store.js';
import type { OffloadEvent } from './events.js';
import type { RowsRefused } from './refused-rows.js';
import { cursorUnit, type RowSource, type SourceShape } from './source.js';

/** Most cursor values one run holds back; past it the table stops as with `stop` (its source is broken, not one row). */
export const MAX_HELD_PER_RUN = 20;

/** Rows a run held back: one cursor value. */
export interface HeldRows {
  /** The cursor value, as ISO text (µs). */
  at: string;
  rows: number;
  error: string;
  see: string;
}

/** The shape with these cursor values left out of every window it reads. */
export function withHeld(shape: SourceShape, values: readonly Micros[]): SourceShape {
  if (values.length === 0) return shape;
  const held = [...new Set([...(shape.window.held ?? []), ...values])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { ...shape, window: { ...shape.window, held } };
}

/** Whether this refusal is held back rather than ending the run. */
export function canHold(cfg: TableConfig, refused: RowsRefused, heldThisRun: number): boolean {
  return cfg.refusedRows === 'hold' && refused.found.value !== null && heldThisRun < MAX_HELD_PER_RUN;
}

/**
 * Reads every held value of the table again: those ClickHouse reads now are forgotten (a warning says where
 * their rows went), the others are returned — the values this run leaves out.
 */
export async function reviewHeldRows(
  cfg: TableConfig,
  state: StateStore,
  source: RowSource,
  shape: SourceShape,
  emit: (e: OffloadEvent) => void,
): Promise<Micros[]> {
  const records = await state.heldRows(cfg.name);
  if (records.length === 0) return [];
  const still: Micros[] = [];
  const readable: HeldRowsRecord[] = [];
  for (const r of records) {
    const err = await source.probe(shape, oneValueBelow(shape, r.cursor), r.cursor);
    if (err === null) readable.push(r);
    else still.push(r.cursor);
  }
  if (readable.length === 0) return still;
  await state.releaseHeldRows(
    cfg.name,
    readable.map((r) => r.cursor),
  );
  const mark = await state.readWatermark(cfg.name);
  const watermarkCursor = mark ? microsFromIso(mark.watermark.timestamp) : 0n;
  for (const r of readable) {
    const head = `rows at ${cfg.cursor} = ${formatInstant(isoFromMicros(r.cursor))}, held back since ${since(r.heldAt)},`;
    const isAbove = r.cursor > watermarkCursor;
    // Below the watermark no run takes them: say whether there is anything left to repair.
    const left = await rowsAt(source, shape, r.cursor);
    emit({
      kind: 'log',
      table: cfg.name,
      level: left > 0 && !isAbove ? 'warn' : 'info',
      code: 'held-rows-released',
      message:
        left === 0
          ? `${head} are gone at the source: nothing left to take`
          : isAbove
            ? `${head} read again: this run takes them`
            : `${head} read again but lie below the watermark: \`offload status\` shows them as late rows, with the repair of their partition`,
    });
  }
  return still;
}

/** (value − one cursor step, value]: exactly the rows at `value`. */
function oneValueBelow(shape: SourceShape, value: Micros): Lower {
  return { cursor: value - cursorUnit(shape.window), tieBreak: null };
}

/** Rows the source holds at one cursor value (counting reads no value, so refused rows count too). */
async function rowsAt(source: RowSource, shape: SourceShape, value: Micros): Promise<number> {
  return (await source.windowStats(shape.window, oneValueBelow(shape, value), value)).rows;
}

/** A held-since instant to the second. */
function since(iso: string): string {
  return formatInstant(iso.replace(/\.\d+Z$/, 'Z'));
}

/** Records the refused rows of one cursor value as held back by run `runId`; returns what the run reports. */
export async function holdRefusedRows(
  cfg: TableConfig,
  state: StateStore,
  source: RowSource,
  shape: SourceShape,
  refused: RowsRefused,
  runId: string,
): Promise<HeldRows> {
  const value = refused.found.value!;
  // ClickHouse counts them (only reading their values fails); the shape must not leave them out yet.
  const rows = await rowsAt(source, shape, value);
  await state.holdRows({ table: cfg.name, cursor: value, rows, error: refused.found.error, see: refused.found.see, runId });
  return { at: isoFromMicros(value), rows, error: refused.found.error, see: refused.found.see };
}

/** The warning of rows held back, one line: where, how many, why, how to see them, what then. */
export function heldRowsWarning(cfg: TableConfig, held: HeldRows): OffloadEvent {
  return {
    kind: 'log',
    table: cfg.name,
    level: 'warn',
    code: 'rows-held',
    message: `HELD BACK ${heldRowsText(cfg.cursor, held)}; every other row goes on (refusedRows: hold). Change or delete them at the source (${held.see}); the next run reads them again`,
  };
}

function heldRowsText(cursor: string, held: { at: string; rows: number; error: string }): string {
  return `${held.rows.toLocaleString('en-US')} ${held.rows === 1 ? 'row' : 'rows'} at ${cursor} = ${formatInstant(held.at)} that ClickHouse refuses (${held.error})`;
}

/** What an operator reads about a table's held rows (status, TUI): one line per value, then what to do. */
export function heldRowsLines(table: string, cursor: string, held: readonly HeldRowsView[]): string[] {
  if (held.length === 0) return [];
  const lines = held.slice(0, 3).map((h) => `${table}: ${heldRowsText(cursor, h)}, held back since ${since(h.heldAt)}; ${h.see}`);
  if (held.length > 3) lines.push(`${table}: … and ${held.length - 3} more cursor values held back`);
  lines.push(
    `  fix: change or delete them in ClickHouse; the next run reads them again (then \`offload repair\` if they lie below the watermark)`,
  );
  return lines;
}

/** Held rows as status reports them: what a run reported, and since when. */
export interface HeldRowsView extends HeldRows {
  heldAt: string;
}

/** Held rows at or below a watermark (ISO): rows ClickHouse has up to it that Iceberg lacks, as late rows are. */
export function heldRowsUpTo(held: readonly HeldRowsView[], watermark: string | null): number {
  return watermark === null ? 0 : heldRowCount(held.filter((h) => h.at <= watermark));
}

/** Rows of every held value. */
export function heldRowCount(held: readonly HeldRows[]): number {
  return held.reduce((n, h) => n + h.rows, 0);
}

/** A state store record as status shows it. */
export function heldRowView(r: HeldRowsRecord): HeldRowsView {
  return { at: isoFromMicros(r.cursor), rows: r.rows, error: r.error, see: r.see, heldAt: r.heldAt };
}
