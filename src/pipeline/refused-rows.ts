// Part of step 4 (extract): when the source refuses a value in some row (ClickHouse's 407 "Decimal convert
// overflow" in a candle query's cast, text that does not parse, …) the same rows fail every run until they
// are changed at the source. The run then ends with one line naming the table, the window, the error and
// where the rows are: the window is halved until the rows that fail sit at one cursor value (or the
// probes run out), each half read as the extraction reads it, keeping nothing.
import type { TableConfig } from '../config/tables.js';
import type { Lower } from '../clickhouse/window.js';
import { OffloadError } from '../core/errors.js';
import { formatInstant, isoFromMicros, type Micros, type Watermark } from '../core/watermark.js';
import { cursorUnit, type RowSource, type SourceShape } from './source.js';

/** Rows of a table's window the source cannot read; exit 1 (the data, not the tool, must change). */
export class RowsRefused extends OffloadError {
  constructor(
    readonly table: string,
    /** What failed where ("window (…]: ClickHouse error 407: … — rows at … cannot be read;"). */
    readonly reason: string,
    /** What the operator does about it, ending with how to see the rows. */
    readonly advice: string,
    /** The narrowest range found that holds rows the source refuses: (lower, upper]. */
    readonly rows: { lower: Lower | null; upper: Micros },
    options?: { cause?: unknown; committed?: string; found?: RefusalFound; runId?: string },
  ) {
    super(`${reason} ${options?.committed ?? 'Nothing was committed.'} ${advice}`, options);
    this.found = options?.found ?? { value: null, error: reason, see: advice };
    this.runId = options?.runId ?? null;
  }

  /** The run whose batch met the rows. */
  readonly runId: string | null;

  /** What was found, in parts: what a table that holds the rows back records. */
  readonly found: RefusalFound;
}

export interface RefusalFound {
  /** The one cursor value the refused rows share; null when the halving could not narrow them to one. */
  value: Micros | null;
  /** The source's words: "ClickHouse error 407: Decimal convert overflow". */
  error: string;
  /** How a person sees the rows: "see them: SELECT …". */
  see: string;
}

export interface LocateOptions {
  /** Most probes (each reads part of the window once). Default 40: a second in 35 years of a DateTime cursor. */
  maxProbes?: number;
  /** Stop halving after this long and report the range found so far. Default 60 s. */
  budgetMs?: number;
  /** Whether an error is the source refusing a value (the same kind as the one being located). */
  isRowValueError: (err: unknown) => boolean;
}

/** The narrowest (lower, upper] inside the batch's window whose rows the source refuses. */
export async function locateRefusedRows(
  source: RowSource,
  shape: SourceShape,
  lower: Lower | null,
  upper: Micros,
  options: LocateOptions,
): Promise<{ lower: Lower | null; upper: Micros }> {
  const unit = cursorUnit(shape.window);
  const deadline = Date.now() + (options.budgetMs ?? 60_000);
  let lo = lower;
  let hi = upper;
  for (let probes = 0; probes < (options.maxProbes ?? 40) && Date.now() < deadline; probes++) {
    const from = lo?.cursor ?? 0n;
    const steps = (hi - from) / unit; // cursor values in (from, hi]
    // One cursor value left — or, from the first row, nothing after the epoch but `hi`.
    if (steps < 1n || (steps === 1n && lo !== null)) break;
    const mid = from + (steps / 2n) * unit;
    const err = await source.probe(shape, lo, mid);
    if (err === null) lo = { cursor: mid, tieBreak: null };
    else if (options.isRowValueError(err)) hi = mid;
    else break; // the source failed otherwise (unreachable, timed out): keep what is known
  }
  return { lower: lo, upper: hi };
}

function windowText(from: Watermark, upper: Micros): string {
  return `(${formatInstant(from.timestamp)}${from.tieBreak !== null ? ` #${from.tieBreak}` : ''}, ${formatInstant(isoFromMicros(upper))}]`;
}

/**
 * The failure of a batch whose rows the source refuses: where they are, and how to see them — one line.
 * `err` is the source's error ("ClickHouse error 407: extracting rows: Decimal convert overflow").
 */
export async function refusedRowsError(
  cfg: TableConfig,
  source: RowSource,
  shape: SourceShape,
  batch: { from: Watermark; lower: Lower | null; upper: Micros },
  err: Error & { code?: number },
  options: LocateOptions & { runId?: string },
): Promise<RowsRefused> {
  const found = await locateRefusedRows(source, shape, batch.lower, batch.upper, options);
  const unit = cursorUnit(shape.window);
  const isOneValue = found.lower !== null && found.lower.tieBreak === null && found.upper - found.lower.cursor <= unit;
  const at = isOneValue
    ? `at ${cfg.cursor} = ${formatInstant(isoFromMicros(found.upper))}`
    : `with ${cfg.cursor} in (${found.lower ? formatInstant(isoFromMicros(found.lower.cursor)) : 'the first row'}, ${formatInstant(isoFromMicros(found.upper))}]`;
  const hint = source.rowsHint(shape, found.lower, found.upper);
  const see = hint.kind === 'query' ? `see them: ${hint.sql}` : `see them: the table's query with WHERE ${hint.sql}`;
  // The server's words without the step or the wire form: "ClickHouse error 407: Decimal convert overflow".
  const detail = err.message
    .replace(/^ClickHouse failed while sending rows: /, '')
    .replace(/^ClickHouse(?: error \d+)?: (?:extracting rows: )?/, '')
    .replace(/^Code:\s*\d+[.,]\s*(?:e\.displayText\(\) = )?(?:DB::Exception:\s*)?/, '');
  const error = err.code !== undefined ? `ClickHouse error ${err.code}: ${detail}` : err.message;
  return new RowsRefused(
    cfg.name,
    `window ${windowText(batch.from, batch.upper)}: ${error} — rows ${at} cannot be read.`,
    `Change or delete them at the source (for a query table: in the tables it reads), then run again; ${see}`,
    found,
    { cause: err, found: { value: isOneValue ? found.upper : null, error, see }, runId: options.runId },
  );
}
