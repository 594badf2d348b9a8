// The typed progress events of an offload: the pipeline emits them; the CLI prints them and the TUI's
// store reduces them. Neither consumer knows the other.

import type { Watermark } from '../core/watermark.js';

export type OffloadPhase = 'claim' | 'recover' | 'plan' | 'extract' | 'write' | 'upload' | 'stage' | 'commit';

/** What a commit leaves (one batch's, or a whole run's). */
export interface CommitOutcome {
  table: string;
  runId: string;
  snapshotId: string;
  watermark: Watermark;
  rows: number;
  files: number;
  bytes: number;
  durationMs: number;
}

export type OffloadEvent =
  | { kind: 'phase'; table: string; runId: string; phase: OffloadPhase }
  | {
      kind: 'planned';
      table: string;
      runId: string;
      window: { lower: Watermark; upper: Watermark };
      /** Rows of this batch (one commit). */
      estimatedRows: number;
      /** Batches the run's window takes at the batch size (an estimate). */
      batches: number;
      /** Rows still to take in the run's window (W, H], this batch's included: the whole run's at its first batch. */
      runRows?: number;
      /** 1 for the run's first batch. */
      batch?: number;
    }
  | {
      kind: 'progress';
      table: string;
      runId: string;
      rows: number;
      bytes: number;
      files: number;
      rowsPerSec: number;
      totalRows?: number;
      etaSec?: number;
      /** Since this table's run began. */
      elapsedMs?: number;
    }
  | ({ kind: 'committed' } & CommitOutcome)
  /** A run that committed has ended: the totals of its batches (one `committed` each), the last one's run id and snapshot. */
  | ({ kind: 'finished'; batches: number } & CommitOutcome)
  | { kind: 'up-to-date'; table: string; watermark: Watermark }
  | { kind: 'busy'; table: string }
  | { kind: 'failed'; table: string; runId?: string; error: string }
  | { kind: 'skipped'; table: string; reason: string }
  | { kind: 'log'; table?: string; level: 'info' | 'warn' | 'error'; message: string; code?: LogCode };

/**
 * What a log event is about, for consumers that count rather than read (metrics, JSON logs): a lost
 * compare-and-set on commit, either rebuilt on the new table version or dropped because the watermark moved;
 * a committed batch with strings that were not UTF-8 (written with U+FFFD); rows ClickHouse refuses, held
 * back, and held rows it reads again (pipeline/held-rows.ts).
 */
export type LogCode =
  | 'commit-conflict-restaged'
  | 'commit-conflict-replanned'
  | 'invalid-utf8-replaced'
  | 'rows-held'
  | 'held-rows-released';

export type OffloadEventListener = (event: OffloadEvent) => void;

/** A tiny typed emitter: synchronous delivery, listeners never see another listener's exceptions. */
export class OffloadEvents {
  private readonly listeners = new Set<OffloadEventListener>();

  on(listener: OffloadEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: OffloadEvent): void {
    event = withoutTablePrefix(event);
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        /* a faulty listener must not break the offload */
      }
    }
  }
}

/**
 * Errors raised inside an offload often start with the table's name (`t: cursor column …`), and every
 * consumer shows the event's table before its text: the name is dropped from the text, so no line reads
 * `t: FAILED — t: …`.
 */
export function withoutTableName(table: string, text: string): string {
  return text.startsWith(`${table}: `) ? text.slice(table.length + 2) : text;
}

function withoutTablePrefix(event: OffloadEvent): OffloadEvent {
  if (event.kind === 'failed') return { ...event, error: withoutTableName(event.table, event.error) };
  if (event.kind === 'skipped') return { ...event, reason: withoutTableName(event.table, event.reason) };
  return event;
}
