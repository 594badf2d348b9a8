// Step 3, plan: which rows a run takes. The decisions are pure functions of numbers (first part); the
// numbers come from the source (RowSource: window statistics, row counts per bucket) and the watermark
// from the state store (last part, "Planning I/O"), which also records the run as running before anything
// is written — the fault point `after-plan` sits just after that.
//
// The window. A table's watermark W = (t, k): t the last cursor value offloaded, k the largest tie-break
// value among the rows at t that were offloaded (null when the table has no tie-break column). A run takes
//     (cursor > t) OR (cursor = t AND tieBreak > k)        and        cursor <= H
// where H is the newest cursor value that is at least `lag` old (the late-data allowance), or for
// aggregate tables the start of the newest window that closed at least `lag` ago (window_start + interval
// + lag <= now: a 1h candle goes only after its hour and the lag have passed).
//
// Rows sharing a timestamp. Batches are cut only between whole cursor values, and every run takes every
// row at its upper bound H, so no timestamp is ever split between two runs: nothing lost, nothing taken
// twice — whatever the tie-break column holds (Kraken's sequence_number is a constant channel id; it is
// never relied on to be unique). The tie-break only lets a later run pick up a row at t that arrives after
// t was offloaded, when its tie-break is larger than any taken (an increasing ingest offset); a row at t
// with a tie-break <= k arriving afterwards is late beyond the allowance. k is the seed's
// `last_offload_max_sequence` made exact: the largest tie-break value offloaded at the watermark.
//
// Late rows. A row whose cursor is <= the watermark when it arrives (cursor older than now − lag at the
// time of the run that passed it) is not offloaded: `lag` must cover how late rows can arrive. `offload
// status` shows such rows as the difference between ClickHouse (up to the watermark) and Iceberg.
import { randomUUID } from 'node:crypto';
import type { TableConfig } from '../config/tables.js';
import { OffloadError } from '../core/errors.js';
import { EPOCH, isoFromMicros, microsFromIso, type Micros, type Watermark } from '../core/watermark.js';
import type { PartitionSpec, Schema } from '../iceberg/types.js';
import type { StateStore } from '../state/store.js';
import type { OffloadEvents } from './events.js';
import { faultPoint } from './faults.js';
import { cursorUnit, type CursorCount, type RowSource, type Slice, type SourceShape } from './source.js';

// The planner's units are declared beside the RowSource that counts and extracts them (no import cycle).
export type { CursorCount, Slice };

export function watermarkOf(cursor: Micros, tieBreak: string | null): Watermark {
  return { timestamp: isoFromMicros(cursor), tieBreak };
}

/** The lower edge of a window: exclusive at (cursor, tieBreak); null = from the very first row. */
export interface LowerBound {
  cursor: Micros;
  /** Rows at `cursor` with a tie-break above this are still to be taken; null = every row at `cursor` was taken. */
  tieBreak: string | null;
}

/** What the tables' watermark row says about where the next window starts. */
export function lowerBoundOf(watermark: Watermark, hasCommitted: boolean): LowerBound | null {
  // A table that never committed starts before its first row (its seeded 1970-01-01 would otherwise
  // exclude rows at exactly 1970-01-01 00:00:00).
  if (!hasCommitted) return null;
  return { cursor: microsFromIso(watermark.timestamp), tieBreak: watermark.tieBreak };
}

export function watermarkOfLower(lower: LowerBound | null, initial: Watermark): Watermark {
  return lower === null ? initial : watermarkOf(lower.cursor, lower.tieBreak);
}

/**
 * The newest cursor value a run may take, as a cutoff: rows with cursor <= cutoff are old enough.
 * Events: now − lag. Aggregates with a window of `intervalMs`: a window starting at s is closed once
 * s + interval <= now − lag, so window_start <= now − lag − interval.
 */
export function cutoffMicros(now: Micros, lagMs: number, closedWindowMs: number | null): Micros {
  return now - BigInt(Math.round(lagMs)) * 1000n - BigInt(Math.round(closedWindowMs ?? 0)) * 1000n;
}

/**
 * Where the first batch of a large window ends, given counts per bucket of cursor values (ascending):
 * the index of the bucket in which the running total first exceeds `maxRows`, with the rows before it;
 * null when the whole window fits.
 */
export function crossingBucket(buckets: readonly CursorCount[], maxRows: number): { index: number; rowsBefore: number } | null {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) {
    if (total + buckets[i].rows > maxRows) return { index: i, rowsBefore: total };
    total += buckets[i].rows;
  }
  return null;
}

/**
 * The last whole cursor value of the first batch, given counts per cursor value (ascending) inside the
 * crossing bucket and the rows before it: the largest value whose running total stays within `maxRows`.
 * A batch always takes at least one whole cursor value, even one with more rows than `maxRows`: rows
 * sharing a timestamp are never split. Returns null when the batch should end before this bucket.
 */
export function lastCursorWithin(counts: readonly CursorCount[], rowsBefore: number, maxRows: number): Micros | null {
  let total = rowsBefore;
  let last: Micros | null = null;
  for (const c of counts) {
    if (total + c.rows > maxRows) {
      if (last === null && rowsBefore === 0) return c.cursor; // one cursor value larger than a batch: take it whole
      return last;
    }
    total += c.rows;
    last = c.cursor;
  }
  return last;
}

export interface WindowStats {
  /** The source's clock (ClickHouse now()). */
  now: Micros;
  /** Newest cursor value in the window that is old enough; null when no row is. */
  newest: Micros | null;
  /** Rows in (W, newest]. */
  rows: number;
}

export type Plan =
  | { kind: 'up-to-date'; lower: LowerBound | null; cutoff: Micros }
  | {
      kind: 'window';
      lower: LowerBound | null;
      /** Inclusive upper cursor value of this run (a whole cursor value). */
      upper: Micros;
      /** The newest eligible cursor value of the whole window (later batches continue up to it). */
      windowUpper: Micros;
      cutoff: Micros;
      /** Rows in (lower, upper] when planned. */
      rows: number;
      /** Rows in the whole window (lower, windowUpper]. */
      windowRows: number;
      /** Runs the window will take at this batch size (an estimate: rows keep arriving). */
      batches: number;
    };

/** Up to date, or the whole window as one batch when it fits in `maxRows`. */
export function planFromStats(lower: LowerBound | null, stats: WindowStats, cutoff: Micros, maxRows: number): Plan {
  if (stats.newest === null || stats.rows === 0) return { kind: 'up-to-date', lower, cutoff };
  return {
    kind: 'window',
    lower,
    upper: stats.newest,
    windowUpper: stats.newest,
    cutoff,
    rows: stats.rows,
    windowRows: stats.rows,
    batches: Math.max(1, Math.ceil(stats.rows / Math.max(1, maxRows))),
  };
}

/** The same plan, cut to a first batch ending at `upper` with `rows` rows. */
export function cutPlan(plan: Extract<Plan, { kind: 'window' }>, upper: Micros, rows: number): Plan {
  return { ...plan, upper, rows };
}

// ─── Slices: a batch cut along partition boundaries, so that extraction, Parquet encoding and upload
// overlap (slice i+1 streams from ClickHouse while DuckDB encodes slice i) and no partition is split
// between two slices (one data file per partition per run, below the target size).

export type TimeTransform = 'year' | 'month' | 'day' | 'hour';

const US_PER_HOUR = 3_600_000_000n;
const US_PER_DAY = 86_400_000_000n;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** The partition period (Iceberg's transform value: hours/days/months/years since 1970, UTC) of µs `us`. */
export function periodOf(us: Micros, t: TimeTransform): number {
  if (t === 'hour') return Number(floorDiv(us, US_PER_HOUR));
  const days = floorDiv(us, US_PER_DAY);
  if (t === 'day') return Number(days);
  const d = new Date(Number(days) * 86_400_000);
  return t === 'month' ? (d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth() : d.getUTCFullYear() - 1970;
}

/** The first µs of a period. */
export function periodStart(period: number, t: TimeTransform): Micros {
  switch (t) {
    case 'hour':
      return BigInt(period) * US_PER_HOUR;
    case 'day':
      return BigInt(period) * US_PER_DAY;
    case 'month':
      return BigInt(Date.UTC(1970 + Math.floor(period / 12), ((period % 12) + 12) % 12, 1)) * 1000n;
    case 'year':
      return BigInt(Date.UTC(1970 + period, 0, 1)) * 1000n;
  }
}

/** The bucket size to count rows in, to find a transform's periods: hours for `hour`, UTC days otherwise. */
export function countingBucket(t: TimeTransform): Micros {
  return t === 'hour' ? US_PER_HOUR : US_PER_DAY;
}

/**
 * Cuts a batch into slices along the periods of the cursor's time partition transform. `counts` are rows
 * per counting bucket (ascending). Consecutive small periods are merged until a slice has `minSliceRows`
 * (fewer, larger steps); a slice of one period is a single partition unless `hasOtherPartitionFields`.
 * Without a time transform on the cursor (or with no counts) the batch is one slice.
 */
export function sliceBatch(
  counts: readonly CursorCount[],
  transform: TimeTransform | null,
  minSliceRows: number,
  hasOtherPartitionFields: boolean,
): Slice[] {
  const total = counts.reduce((s, c) => s + c.rows, 0);
  if (transform === null || counts.length === 0) {
    return [{ index: 0, from: null, to: null, rows: total, isSinglePartition: false }];
  }
  // rows per period, in order
  const periods: Array<{ period: number; rows: number }> = [];
  for (const c of counts) {
    const p = periodOf(c.cursor, transform);
    const last = periods[periods.length - 1];
    if (last && last.period === p) last.rows += c.rows;
    else periods.push({ period: p, rows: c.rows });
  }
  const slices: Slice[] = [];
  let group: Array<{ period: number; rows: number }> = [];
  const flush = () => {
    if (group.length === 0) return;
    const rows = group.reduce((s, g) => s + g.rows, 0);
    slices.push({
      index: slices.length,
      from: periodStart(group[0].period, transform),
      to: periodStart(group[group.length - 1].period + 1, transform),
      rows,
      isSinglePartition: group.length === 1 && !hasOtherPartitionFields,
    });
    group = [];
  };
  for (const p of periods) {
    // A period that is large on its own gets a slice of its own, so it can roll files at the target size.
    if (p.rows >= minSliceRows) {
      flush();
      group.push(p);
      flush();
      continue;
    }
    group.push(p);
    if (group.reduce((s, g) => s + g.rows, 0) >= minSliceRows) flush();
  }
  flush();
  // The outer edges stay open: the window predicate bounds them, so a row arriving after the counting is
  // never left between slices (writeSlice copes when such a row makes a "single partition" slice hold two).
  slices[0].from = null;
  slices[slices.length - 1].to = null;
  return slices;
}

/** The time transform the spec applies to the cursor column (the finest, if several), and whether other fields partition too. */
export function cursorPartitioning(
  spec: PartitionSpec,
  schema: Schema,
  cursor: string,
): { transform: TimeTransform | null; hasOtherFields: boolean } {
  const cursorField = schema.fields.find((f) => f.name === cursor);
  const order: TimeTransform[] = ['hour', 'day', 'month', 'year'];
  let transform: TimeTransform | null = null;
  let hasOtherFields = false;
  for (const f of spec.fields) {
    if (f.transform === 'void') continue;
    const t = f.transform as TimeTransform;
    if (cursorField && f['source-id'] === cursorField.id && order.includes(t)) {
      if (transform === null || order.indexOf(t) < order.indexOf(transform)) transform = t;
    } else hasOtherFields = true;
  }
  return { transform, hasOtherFields };
}

// ─── Planning I/O: the numbers from the source and the state store, the run recorded as running.

/** Most rows one run (one commit) takes unless configured: larger windows are cut at whole cursor values. */
export const DEFAULT_MAX_ROWS = 20_000_000;
/** Periods smaller than this are merged into one slice unless configured. */
export const DEFAULT_MIN_SLICE_ROWS = 250_000;

export interface PlannedNext {
  plan: Plan;
  /** The watermark the plan starts from (as read from the state store). */
  from: Watermark;
  lower: LowerBound | null;
}

/**
 * Plans the next batch from the table's watermark and the source's statistics. A run fixes its upper
 * bound H once, at its first plan (`upperBound` absent: the newest cursor value old enough now); every
 * later plan of the same run — the next batch, or a re-plan after a lost compare-and-set — is handed
 * that H and never looks past it, so a run on a table that keeps receiving rows ends.
 */
export async function planNext(
  cfg: TableConfig,
  state: StateStore,
  source: RowSource,
  shape: SourceShape,
  options: { now?: Date; maxRowsPerBatch?: number; upperBound?: Micros },
): Promise<PlannedNext> {
  const mark = await state.readWatermark(cfg.name);
  if (!mark) throw new OffloadError(`${cfg.name}: no watermark row (run \`offload init\`)`);
  const hasCommitted = mark.committedRunId !== null || mark.lastSuccessfulRun !== null || mark.watermark.timestamp !== EPOCH.timestamp;
  const lower = lowerBoundOf(mark.watermark, hasCommitted);
  let now: Micros;
  let cutoff: Micros;
  if (options.upperBound !== undefined) {
    cutoff = options.upperBound;
    now = cutoff;
  } else {
    now = options.now ? BigInt(options.now.getTime()) * 1000n : await source.now();
    cutoff = cutoffMicros(now, cfg.lagMs, cfg.closedWindowMs);
  }
  const stats = await source.windowStats(shape.window, lower, cutoff);
  const maxRows = options.maxRowsPerBatch ?? DEFAULT_MAX_ROWS;
  let plan = planFromStats(lower, { now, newest: stats.newest, rows: stats.rows }, cutoff, maxRows);
  if (plan.kind === 'window' && plan.rows > maxRows) {
    const cut = await firstBatch(source, shape, lower, plan.upper, maxRows);
    plan = cutPlan(plan, cut.upper, cut.rows);
  }
  return { plan, from: mark.watermark, lower };
}

/** The first batch of a large window: counts per day, hour, minute, second … narrowing to the crossing bucket, then whole cursor values. */
async function firstBatch(
  source: RowSource,
  shape: SourceShape,
  lower: LowerBound | null,
  upper: Micros,
  maxRows: number,
): Promise<{ upper: Micros; rows: number }> {
  const exact = cursorUnit(shape.window);
  const levels = [86_400_000_000n, 3_600_000_000n, 60_000_000n, 1_000_000n, 1_000n, 1n].filter((s) => s > exact);
  levels.push(exact);
  let range: { from: Micros; to: Micros } | undefined;
  let rowsBefore = 0;
  for (const size of levels) {
    const buckets = await source.bucketCounts(shape.window, lower, upper, size, range);
    if (size === exact) {
      const last = lastCursorWithin(buckets, rowsBefore, maxRows);
      if (last !== null) {
        const within = buckets.filter((b) => b.cursor <= last).reduce((s, b) => s + b.rows, 0);
        return { upper: last, rows: rowsBefore + within };
      }
      // The batch ends just before this range: at the newest cursor value below it.
      const before = await source.windowStats(shape.window, lower, range!.from - 1n);
      if (before.newest === null) throw new OffloadError('cannot find where the first batch ends (rows vanished while planning?)');
      return { upper: before.newest, rows: before.rows };
    }
    const cross = crossingBucket(buckets, maxRows - rowsBefore);
    if (cross === null) {
      // Everything fits after all (rows were removed meanwhile): the batch is the whole window.
      return { upper, rows: rowsBefore + buckets.reduce((s, b) => s + b.rows, 0) };
    }
    rowsBefore += cross.rowsBefore;
    const b = buckets[cross.index];
    range = { from: b.cursor, to: b.cursor + size };
  }
  throw new OffloadError('unreachable: batch planning ran out of levels');
}

/** Nothing to take: recorded like any run, so "last run" shows when the table was last checked. */
export async function recordUpToDate(cfg: TableConfig, state: StateStore, from: Watermark): Promise<void> {
  const runId = randomUUID();
  await state.startRun({ table: cfg.name, icebergTable: cfg.target, runId, windowStart: from, windowEnd: from });
  await state.markRunUpToDate(runId);
  await state.markTableUpToDate(cfg.name);
}

export interface StartedRun {
  runId: string;
  /** The exclusive lower edge of its window, as a watermark. */
  windowStart: Watermark;
  /** When the run began (ms since the epoch), for its duration. */
  started: number;
}

/** Records the planned batch as a run `running` (before anything is written) and reports the plan; fault point `after-plan`. */
export async function startRun(
  cfg: TableConfig,
  state: StateStore,
  next: PlannedNext,
  events: OffloadEvents,
  batch = 1,
): Promise<StartedRun> {
  const plan = next.plan as Extract<Plan, { kind: 'window' }>;
  const started = Date.now();
  const runId = randomUUID();
  const windowStart = watermarkOfLower(next.lower, next.from);
  await state.startRun({ table: cfg.name, icebergTable: cfg.target, runId, windowStart, windowEnd: watermarkOf(plan.upper, null) });
  await state.markTableRunning(cfg.name);
  events.emit({ kind: 'phase', table: cfg.name, runId, phase: 'plan' });
  events.emit({
    kind: 'planned',
    table: cfg.name,
    runId,
    window: { lower: windowStart, upper: watermarkOf(plan.upper, null) },
    estimatedRows: plan.rows,
    batches: plan.batches,
    runRows: plan.windowRows,
    batch,
  });
  faultPoint('after-plan', cfg.name);
  return { runId, windowStart, started };
}

/** The batch cut into slices along the partition periods of the cursor (row counts per period from the source). */
export async function planSlices(
  cfg: TableConfig,
  source: RowSource,
  shape: SourceShape,
  table: { schema: Schema; spec: PartitionSpec },
  next: PlannedNext,
  minSliceRows = DEFAULT_MIN_SLICE_ROWS,
): Promise<Slice[]> {
  const plan = next.plan as Extract<Plan, { kind: 'window' }>;
  const { transform, hasOtherFields } = cursorPartitioning(table.spec, table.schema, cfg.cursor);
  const counts = transform ? await source.bucketCounts(shape.window, next.lower, plan.upper, countingBucket(transform)) : [];
  return sliceBatch(counts, transform, minSliceRows, hasOtherFields);
}
