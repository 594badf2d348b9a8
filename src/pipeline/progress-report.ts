// A run's `progress` events, from its progress model (progress.ts): at most every 250 ms while rows move,
// and once a second while none do, so the elapsed time goes on and the rate follows a stall.
import type { OffloadEvents } from './events.js';
import { RunProgress, type BatchProgress } from './progress.js';

const EMIT_EVERY_MS = 250;
const HEARTBEAT_MS = 1000;

export class ProgressReport {
  private model: RunProgress | null = null;
  private runId = '';
  private batch: BatchProgress = { rows: 0, bytes: 0, files: 0 };
  private done = { bytes: 0, files: 0 };
  private lastEmitAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private trailing: NodeJS.Timeout | undefined;

  constructor(
    private readonly events: OffloadEvents,
    private readonly table: string,
    /** When this table's run began (its claim). */
    private readonly startedAt: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A batch was planned with `rowsLeft` rows still to take in the run; the first one fixes the run's total. */
  planned(runId: string, rowsLeft: number): void {
    this.model ??= new RunProgress(rowsLeft, this.startedAt);
    this.model.planBatch(rowsLeft);
    this.runId = runId;
    this.batch = { rows: 0, bytes: 0, files: 0 };
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        this.model?.tick(this.clock());
        this.emit();
      }, HEARTBEAT_MS);
      this.timer.unref();
    }
    this.emit();
  }

  /** The batch's rows begin to stream. */
  extracting(): void {
    this.model?.extractionStarted(this.clock());
  }

  /** The batch's progress so far. */
  moved(progress: BatchProgress): void {
    this.batch = progress;
    const at = this.clock();
    this.model?.batchRows(progress.rows, at);
    if (at - this.lastEmitAt >= EMIT_EVERY_MS) this.emit();
    // Held back by the pace: shown at the next beat, so the last rows of a slice never wait for the heartbeat.
    else this.trailing ??= setTimeout(() => this.emit(), this.lastEmitAt + EMIT_EVERY_MS - at).unref();
  }

  /** The batch committed `rows` rows (exact). */
  committed(rows: number): void {
    this.model?.batchCommitted(rows, this.clock());
    this.done = { bytes: this.done.bytes + this.batch.bytes, files: this.done.files + this.batch.files };
    this.batch = { rows: 0, bytes: 0, files: 0 };
    this.emit();
  }

  /** The run committed everything it will: one last event with the exact total. */
  finished(): void {
    this.model?.finish(this.clock());
    this.emit();
    this.close();
  }

  /** The run ended (committed, up to date, failed or stopped): no more events. */
  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.trailing);
    this.timer = undefined;
    this.trailing = undefined;
  }

  private emit(): void {
    clearTimeout(this.trailing);
    this.trailing = undefined;
    if (!this.model) return;
    const at = this.clock();
    this.lastEmitAt = at;
    const s = this.model.snapshot(at);
    this.events.emit({
      kind: 'progress',
      table: this.table,
      runId: this.runId,
      rows: s.rows,
      bytes: this.done.bytes + this.batch.bytes,
      files: this.done.files + this.batch.files,
      rowsPerSec: s.rowsPerSec,
      totalRows: s.totalRows,
      ...(s.etaSec !== null ? { etaSec: s.etaSec } : {}),
      elapsedMs: s.elapsedMs,
    });
  }
}
