// The typed progress events of an offload: the pipeline emits them; the CLI prints them and the TUI's
// store reduces them. Neither consumer knows the other.

import type { Watermark } from '../core/watermark.js';

export type OffloadPhase = 'claim' | 'recover' | 'plan' | 'extract' | 'write' | 'upload' | 'stage' | 'commit';

export type OffloadEvent =
  | { kind: 'phase'; table: string; runId: string; phase: OffloadPhase }
  | {
      kind: 'planned';
      table: string;
      runId: string;
      window: { lower: Watermark; upper: Watermark };
      estimatedRows: number;
      batches: number;
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
    }
  | {
      kind: 'committed';
      table: string;
      runId: string;
      snapshotId: string;
      watermark: Watermark;
      rows: number;
      files: number;
      bytes: number;
      durationMs: number;
    }
  | { kind: 'up-to-date'; table: string; watermark: Watermark }
  | { kind: 'busy'; table: string }
  | { kind: 'failed'; table: string; runId?: string; error: string }
  | { kind: 'skipped'; table: string; reason: string }
  | { kind: 'log'; table?: string; level: 'info' | 'warn' | 'error'; message: string };

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
