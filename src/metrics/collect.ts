// Turns what the offload reports into metric updates: its events (each committed batch, each run's
// outcome, commit conflicts) as they happen, and per tick the status report (watermarks, row counts,
// busy tables, last runs) and the tables' files. Pure bookkeeping on the registry of registry.ts: no I/O.
//
// The metrics count runs as the pipeline reports them — one `committed` event per committed batch, one
// terminal event per run that ends otherwise — so they hold whether a tick offloads a table until it is up
// to date or one bounded run per tick.
import type { Watermark } from '../core/watermark.js';
import type { OffloadEvent } from '../pipeline/events.js';
import { heldRowCount } from '../pipeline/held-rows.js';
import type { TableOutcome } from '../pipeline/layers.js';
import type { Layer, StatusReport } from '../pipeline/status-model.js';
import type { TableFiles } from '../pipeline/table-files.js';
import { CONFLICT_RESOLUTIONS, RUN_OUTCOMES, type ConflictResolution, type OffloadMetrics, type RunOutcome } from './registry.js';

export interface MonitoredTable {
  name: string;
  layer: Layer;
  /** The configured lag (late-data allowance). */
  lagMs: number;
  /** Candle tables: the window length. */
  closedWindowMs: number | null;
}

const OUTCOME_OF: Partial<Record<OffloadEvent['kind'], RunOutcome>> = {
  committed: 'committed',
  'up-to-date': 'up_to_date',
  busy: 'busy',
  failed: 'failed',
  skipped: 'skipped',
};

const RESOLUTION_OF: Record<string, ConflictResolution> = {
  'commit-conflict-restaged': 'restaged',
  'commit-conflict-replanned': 'replanned',
};

/**
 * The most the freshness lag reaches by design between two runs (the schedule aside): a row waits for the
 * table's lag; a candle also for its window to close, and the watermark is the start of the newest closed
 * window, so the lag of a candle table runs from lag + window up to lag + 2 × window.
 */
export function expectedLagSeconds(t: Pick<MonitoredTable, 'lagMs' | 'closedWindowMs'>): number {
  return (t.lagMs + 2 * (t.closedWindowMs ?? 0)) / 1000;
}

/** Watermark → Unix seconds (µs precision is more than a lag needs). */
export function watermarkSeconds(w: Watermark): number {
  return Date.parse(w.timestamp) / 1000;
}

/**
 * A value with the time it was observed. A status refresh reads PostgreSQL while runs go on, so its answer
 * may be older than an event that arrived meanwhile: the newer observation wins.
 */
interface Observed<T> {
  value: T;
  at: number;
}

interface TableState {
  labels: { table: string; layer: Layer };
  watermark?: Observed<number>;
  /** Start of the run under way (ms), or null. */
  running?: Observed<number | null>;
  busy?: Observed<boolean>;
  /** The latest success known (Unix seconds), 0 for none. */
  lastSuccess: number;
  /** When the current attempt began: the claim, or the previous batch's commit. */
  attemptStartedAt: number | null;
  /** A terminal event arrived since the last `settle`. */
  reported: boolean;
}

export class MetricsCollector {
  private readonly tables = new Map<string, TableState>();

  constructor(
    private readonly metrics: OffloadMetrics,
    tables: readonly MonitoredTable[],
    private readonly now: () => number = Date.now,
  ) {
    for (const t of tables) {
      const labels = { table: t.name, layer: t.layer };
      this.tables.set(t.name, { labels, attemptStartedAt: null, reported: false, lastSuccess: 0 });
      // Every series exists from the start at 0, so increase() and rate() see the first run too.
      for (const outcome of RUN_OUTCOMES) metrics.runs.inc({ ...labels, outcome }, 0);
      for (const resolution of CONFLICT_RESOLUTIONS) metrics.commitConflicts.inc({ ...labels, resolution }, 0);
      metrics.rows.inc(labels, 0);
      metrics.bytes.inc(labels, 0);
      metrics.files.inc(labels, 0);
      metrics.expectedLag.set(labels, expectedLagSeconds(t));
      metrics.busy.set(labels, 0);
      metrics.runInProgress.set(labels, 0);
    }
    metrics.beforeScrape(() => this.updateClockGauges());
  }

  /** One pipeline event. Events of tables not monitored are ignored. */
  onEvent(e: OffloadEvent): void {
    if (e.kind === 'log') {
      const resolution = e.code ? RESOLUTION_OF[e.code] : undefined;
      const state = e.table ? this.tables.get(e.table) : undefined;
      if (resolution && state) this.metrics.commitConflicts.inc({ ...state.labels, resolution });
      return;
    }
    const state = this.tables.get(e.table);
    if (!state) return;
    const now = this.now();
    if (e.kind === 'phase' && e.phase === 'claim') {
      state.attemptStartedAt = now;
      return;
    }
    if (e.kind === 'planned' && e.runId) {
      state.running = { value: now, at: now };
      return;
    }
    const outcome = OUTCOME_OF[e.kind];
    if (outcome === undefined) return;
    state.reported = true;
    const { labels } = state;
    const startedAt = state.attemptStartedAt ?? now;
    let durationSec = (now - startedAt) / 1000;
    if (e.kind === 'committed') {
      this.metrics.rows.inc(labels, e.rows);
      this.metrics.bytes.inc(labels, e.bytes);
      this.metrics.files.inc(labels, e.files);
      durationSec = e.durationMs / 1000;
      this.setWatermark(state, watermarkSeconds(e.watermark), now);
    } else if (e.kind === 'up-to-date') {
      this.setWatermark(state, watermarkSeconds(e.watermark), now);
    }
    if (outcome === 'committed' || outcome === 'up_to_date') this.setLastSuccess(state, now / 1000);
    this.metrics.runs.inc({ ...labels, outcome });
    this.metrics.runDuration.observe({ ...labels, outcome }, Math.max(0, durationSec));
    state.running = { value: null, at: now };
    state.busy = { value: outcome === 'busy', at: now };
    this.metrics.busy.set(labels, outcome === 'busy' ? 1 : 0);
    // A further batch of the same table starts now.
    state.attemptStartedAt = outcome === 'committed' ? now : null;
  }

  /**
   * The outcomes of a layered run: a table that ended without a terminal event (it failed before the
   * pipeline could report, e.g. PostgreSQL refused its lock) still counts, as failed or skipped.
   */
  settle(outcomes: readonly TableOutcome[]): void {
    for (const o of outcomes) {
      const state = this.tables.get(o.table);
      if (!state) continue;
      if (!state.reported) {
        if (o.status === 'failed') this.onEvent({ kind: 'failed', table: o.table, error: o.error.message });
        else if (o.status === 'skipped') this.onEvent({ kind: 'skipped', table: o.table, reason: o.reason });
      }
      state.reported = false;
    }
  }

  /** A status report whose collection started at `observedAt` (ms). Cells that failed drop their series. */
  onStatus(report: StatusReport, observedAt: number): void {
    for (const s of report.services) this.metrics.serviceUp.set({ service: s.name }, s.ok ? 1 : 0);
    for (const t of report.tables) {
      const state = this.tables.get(t.name);
      if (!state) continue;
      const { labels } = state;
      if (t.watermark.ok) this.setWatermark(state, watermarkSeconds(t.watermark.value), observedAt);
      if (t.clickhouse.ok) {
        this.metrics.pendingRows.set(labels, t.clickhouse.value.pendingRows);
        this.metrics.sourceRows.set(labels, t.clickhouse.value.totalRows);
      } else {
        this.metrics.pendingRows.remove(labels);
        this.metrics.sourceRows.remove(labels);
      }
      // Held rows live in PostgreSQL, as the watermark does: known when the watermark is.
      if (t.watermark.ok) this.metrics.heldRows.set(labels, heldRowCount(t.held));
      else this.metrics.heldRows.remove(labels);
      if (t.iceberg.ok) this.metrics.icebergRows.set(labels, t.iceberg.value.rows);
      else this.metrics.icebergRows.remove(labels);
      if (!state.busy || state.busy.at <= observedAt) {
        state.busy = { value: t.isBusy, at: observedAt };
        this.metrics.busy.set(labels, t.isBusy ? 1 : 0);
      }
      const run = t.lastRun;
      if (!state.running || state.running.at <= observedAt) {
        state.running = { value: run?.status === 'running' ? Date.parse(run.startedAt) : null, at: observedAt };
      }
      if (run && (run.status === 'committed' || run.status === 'up_to_date') && run.finishedAt) {
        this.setLastSuccess(state, Date.parse(run.finishedAt) / 1000);
      }
    }
    this.metrics.statusRefreshed.set(observedAt / 1000);
  }

  /** The files of one table (per tick). */
  onFiles(f: TableFiles): void {
    const state = this.tables.get(f.table);
    if (!state) return;
    const { labels } = state;
    this.metrics.dataFiles.set(labels, f.dataFiles);
    this.metrics.dataBytes.set(labels, f.dataBytes);
    this.metrics.partitions.set(labels, f.partitions);
    this.metrics.maxFilesPerPartition.set(labels, f.maxFilesPerPartition);
    this.metrics.smallFiles.set(labels, f.smallFiles);
    this.metrics.smallFileRatio.set(labels, f.dataFiles > 0 ? f.smallFiles / f.dataFiles : 0);
    this.metrics.orphanFiles.set(labels, f.orphanFiles);
    this.metrics.orphanBytes.set(labels, f.orphanBytes);
  }

  /** The files of a table could not be read this tick: its file series are dropped rather than left stale. */
  onFilesUnknown(table: string): void {
    const state = this.tables.get(table);
    if (!state) return;
    for (const g of [
      this.metrics.dataFiles,
      this.metrics.dataBytes,
      this.metrics.partitions,
      this.metrics.maxFilesPerPartition,
      this.metrics.smallFiles,
      this.metrics.smallFileRatio,
      this.metrics.orphanFiles,
      this.metrics.orphanBytes,
    ]) {
      g.remove(state.labels);
    }
  }

  private setWatermark(state: TableState, seconds: number, at: number): void {
    if (state.watermark && state.watermark.at > at) return;
    state.watermark = { value: seconds, at };
    this.metrics.watermark.set(state.labels, seconds);
  }

  /** Only forward: an event of this process may know a later success than the last run row read. */
  private setLastSuccess(state: TableState, seconds: number): void {
    if (seconds <= state.lastSuccess) return;
    state.lastSuccess = seconds;
    this.metrics.lastSuccess.set(state.labels, seconds);
  }

  private updateClockGauges(): void {
    const now = this.now();
    for (const state of this.tables.values()) {
      if (state.watermark) this.metrics.freshnessLag.set(state.labels, Math.max(0, now / 1000 - state.watermark.value));
      const since = state.running?.value ?? null;
      this.metrics.runInProgress.set(state.labels, since === null ? 0 : Math.max(0, (now - since) / 1000));
    }
  }
}
