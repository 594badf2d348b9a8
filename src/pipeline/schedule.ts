// The interval mode of `offload run --every <duration>`: runs an offload (usually the layered run of every
// table) on a fixed schedule in the foreground until stopped.
//
// - Ticks are due at start, start + every, start + 2·every, … (a fixed schedule, not "every after the end").
// - A tick still running when the next is due is not started twice: the due tick is skipped and logged.
//   (Across processes the tables' advisory locks already make concurrent runs safe; this only keeps one
//   process from piling up work on itself.)
// - A stop (SIGTERM/SIGINT through `stop`) aborts the running tick's signal. The offload checks it between
//   batches and tables and before its commit transaction begins, so a commit under way is completed and
//   nothing starts after it; the loop then waits for the tick to end and returns.
// - One log line per table per tick, from the tick's terminal events (finished — a run that committed, with
//   its totals —, up to date, busy, failed, skipped); a table that got none (stopped or crashed tick) still
//   gets its line. Each tick is one run per table: it ends, however fast rows keep arriving.
import type { Layer } from './status-model.js';
import type { Watermark } from '../core/watermark.js';
import type { OffloadEvent } from './events.js';

/** What a table's line says happened to it in a tick. */
export type TableTickStatus = 'committed' | 'up-to-date' | 'busy' | 'failed' | 'skipped' | 'not-run';

export type ScheduleLogLine =
  | { event: 'started'; time: string; everyMs: number; tables: number }
  | {
      event: 'table';
      time: string;
      tick: number;
      table: string;
      layer: Layer | null;
      status: TableTickStatus;
      rows?: number;
      files?: number;
      bytes?: number;
      snapshotId?: string;
      watermark?: Watermark;
      durationMs?: number;
      runId?: string;
      error?: string;
      reason?: string;
    }
  | { event: 'tick-skipped'; time: string; tick: number; runningTick: number; runningForMs: number }
  | {
      event: 'tick-finished';
      time: string;
      tick: number;
      durationMs: number;
      committed: number;
      rows: number;
      failed: number;
      error?: string;
    }
  | { event: 'log'; time: string; tick: number; table?: string; level: 'warn' | 'error'; message: string }
  | { event: 'stopping'; time: string; reason: string; runningTick: number | null }
  | { event: 'stopped'; time: string; ticks: number; skipped: number; failedTicks: number };

export interface TickContext {
  /** 1-based number of the due time this tick was started for. */
  tick: number;
  /** Aborted when the schedule is asked to stop: the offload stops before its next commit, never inside one. */
  signal: AbortSignal;
  /** Every event of the tick's offloads goes here. */
  emit: (event: OffloadEvent) => void;
}

export interface ScheduleOptions {
  everyMs: number;
  /** The configured tables, in the order their lines should be completed at the end of a tick. */
  tables: ReadonlyArray<{ name: string; layer: Layer }>;
  /** Runs one tick; resolves when its offloads have ended (failures arrive as `failed` events or a rejection). */
  tick: (ctx: TickContext) => Promise<void>;
  /** Aborted to stop (the command wires SIGTERM/SIGINT to it). The reason, if a string, is logged. */
  stop: AbortSignal;
  log: (line: ScheduleLogLine) => void;
  /** For tests: the clock (ms since the epoch). */
  now?: () => number;
}

export interface ScheduleSummary {
  ticks: number;
  skipped: number;
  failedTicks: number;
}

const TERMINAL: Partial<Record<OffloadEvent['kind'], TableTickStatus>> = {
  finished: 'committed',
  'up-to-date': 'up-to-date',
  busy: 'busy',
  failed: 'failed',
  skipped: 'skipped',
};

/** Resolves at `at` (ms since the epoch) or as soon as `signal` aborts. */
function sleepUntil(at: number, now: () => number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, at - now()));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function reasonText(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  if (reason instanceof Error && reason.name !== 'AbortError') return reason.message;
  return 'stop requested';
}

/** Runs `tick` on a fixed schedule until `stop` aborts, then waits for the running tick and returns. */
export async function runOnSchedule(options: ScheduleOptions): Promise<ScheduleSummary> {
  const { everyMs, tables, stop, log } = options;
  if (!(everyMs > 0)) throw new RangeError(`everyMs must be positive, got ${everyMs}`);
  const now = options.now ?? Date.now;
  const time = () => new Date(now()).toISOString();
  const layerOf = new Map(tables.map((t) => [t.name, t.layer]));

  const summary: ScheduleSummary = { ticks: 0, skipped: 0, failedTicks: 0 };
  const tickStop = new AbortController();
  let running: { tick: number; startedAt: number; done: Promise<void> } | null = null;

  const onStop = () => {
    log({ event: 'stopping', time: time(), reason: reasonText(stop.reason), runningTick: running?.tick ?? null });
    tickStop.abort(stop.reason);
  };
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });

  const runTick = async (tick: number, startedAt: number): Promise<void> => {
    summary.ticks++;
    const reported = new Set<string>();
    let committed = 0;
    let rows = 0;
    let failed = 0;
    const emit = (e: OffloadEvent) => {
      if (e.kind === 'log') {
        if (e.level !== 'info') log({ event: 'log', time: time(), tick, table: e.table, level: e.level, message: e.message });
        return;
      }
      // Rows of every commit count, also those of a run that failed in a later batch.
      if (e.kind === 'committed') rows += e.rows;
      const status = TERMINAL[e.kind];
      if (status === undefined || !('table' in e) || reported.has(e.table)) return;
      reported.add(e.table);
      const line: Extract<ScheduleLogLine, { event: 'table' }> = {
        event: 'table',
        time: time(),
        tick,
        table: e.table,
        layer: layerOf.get(e.table) ?? null,
        status,
      };
      if (e.kind === 'finished') {
        committed++;
        Object.assign(line, {
          rows: e.rows,
          files: e.files,
          bytes: e.bytes,
          snapshotId: e.snapshotId,
          watermark: e.watermark,
          durationMs: e.durationMs,
          runId: e.runId,
        });
      } else if (e.kind === 'up-to-date') {
        line.watermark = e.watermark;
      } else if (e.kind === 'failed') {
        failed++;
        line.error = e.error;
        if (e.runId) line.runId = e.runId;
      } else if (e.kind === 'skipped') {
        line.reason = e.reason;
      }
      log(line);
    };
    let error: string | undefined;
    try {
      await options.tick({ tick, signal: tickStop.signal, emit });
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    // Every table gets its line, even when the tick was stopped or crashed before reaching it.
    for (const t of tables) {
      if (reported.has(t.name)) continue;
      const reason = tickStop.signal.aborted
        ? 'stopped before this table was offloaded'
        : error
          ? `the tick failed: ${error}`
          : 'no outcome reported';
      log({ event: 'table', time: time(), tick, table: t.name, layer: t.layer, status: 'not-run', reason });
    }
    if (failed > 0 || error !== undefined) summary.failedTicks++;
    log({
      event: 'tick-finished',
      time: time(),
      tick,
      durationMs: now() - startedAt,
      committed,
      rows,
      failed,
      ...(error !== undefined ? { error } : {}),
    });
  };

  const start = now();
  log({ event: 'started', time: new Date(start).toISOString(), everyMs, tables: tables.length });
  let due = 1; // the number of the next due time; due time n is at start + (n − 1)·every
  while (!stop.aborted) {
    await sleepUntil(start + (due - 1) * everyMs, now, stop);
    if (stop.aborted) break;
    const at = now();
    if (running) {
      summary.skipped++;
      log({ event: 'tick-skipped', time: time(), tick: due, runningTick: running.tick, runningForMs: at - running.startedAt });
    } else {
      const current: { tick: number; startedAt: number; done: Promise<void> } = { tick: due, startedAt: at, done: Promise.resolve() };
      current.done = runTick(due, at).finally(() => {
        if (running === current) running = null;
      });
      running = current;
    }
    // Due times that passed while this process could not run (a suspended machine) are not made up for.
    due = Math.max(due + 1, Math.floor((now() - start) / everyMs) + 1);
  }
  // `running` is reassigned inside the finally above; read it through a function so TypeScript keeps its type.
  const stillRunning = (): { done: Promise<void> } | null => running;
  await stillRunning()?.done;
  stop.removeEventListener('abort', onStop);
  log({ event: 'stopped', time: time(), ...summary });
  return summary;
}

/**
 * Aborts `controller` on the first SIGTERM or SIGINT (reason: the signal's name). Further signals while
 * stopping are reported through `onRepeat` and otherwise ignored: a commit under way is never cut.
 * Returns a function that removes the handlers.
 */
export function abortOnSignals(controller: AbortController, onRepeat?: (signal: NodeJS.Signals) => void): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) onRepeat?.(signal);
    else controller.abort(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.removeListener('SIGTERM', handler);
    process.removeListener('SIGINT', handler);
  };
}

/** A log line as one JSON document on one line (`--json`). */
export function formatScheduleJson(line: ScheduleLogLine): string {
  return JSON.stringify(line);
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** 900000 → "15m", 2000 → "2s", 5400000 → "1h30m". */
export function durationText(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}ms`);
  return parts.join('');
}

function watermarkText(w: Watermark): string {
  return `${w.timestamp}${w.tieBreak !== null ? ` #${w.tieBreak}` : ''}`;
}

/** A log line as people read it: time, tick, then what happened. */
export function formatScheduleLine(line: ScheduleLogLine): string {
  switch (line.event) {
    case 'started':
      return `${line.time}  every ${durationText(line.everyMs)}: offloading ${line.tables} tables; SIGTERM or Ctrl-C stops after the current commit`;
    case 'table': {
      const head = `${line.time}  tick ${line.tick}  ${line.table}${line.layer ? ` (${line.layer})` : ''}  ${line.status}`;
      switch (line.status) {
        case 'committed':
          return `${head}  ${count(line.rows ?? 0)} rows, ${count(line.files ?? 0)} files${line.watermark ? `, watermark ${watermarkText(line.watermark)}` : ''}${line.durationMs !== undefined ? `, ${seconds(line.durationMs)}` : ''}`;
        case 'up-to-date':
          return `${head}${line.watermark ? `  watermark ${watermarkText(line.watermark)}` : ''}`;
        case 'busy':
          return `${head}  another worker holds it; nothing done`;
        case 'failed':
          return `${head}  ${line.error ?? ''}`.trimEnd();
        default:
          return `${head}  ${line.reason ?? ''}`.trimEnd();
      }
    }
    case 'tick-skipped':
      return `${line.time}  tick ${line.tick}  skipped: tick ${line.runningTick} still running (for ${seconds(line.runningForMs)})`;
    case 'tick-finished':
      return `${line.time}  tick ${line.tick}  finished in ${seconds(line.durationMs)}: ${line.committed} committed (${count(line.rows)} rows), ${line.failed} failed${line.error ? `; ${line.error}` : ''}`;
    case 'log':
      return `${line.time}  tick ${line.tick}  ${line.level}${line.table ? ` ${line.table}` : ''}: ${line.message}`;
    case 'stopping':
      return `${line.time}  stopping (${line.reason})${line.runningTick !== null ? `: tick ${line.runningTick} ends after its current commit` : ''}`;
    case 'stopped':
      return `${line.time}  stopped after ${line.ticks} ticks (${line.skipped} skipped, ${line.failedTicks} with failures)`;
  }
}
