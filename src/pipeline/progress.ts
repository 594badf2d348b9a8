// The progress of one table's run as an operator reads it: rows planned for the whole run (counted once,
// when the run fixes its upper bound), rows done so far (counted as they stream from the source, exact
// once a slice is written), percent, a smoothed rate and the time left. Pure: every method takes the
// time, so the model is unit-tested without a clock. The offload feeds it (progress-report.ts emits it).
//
// Why smoothed: rows arrive in bursts (a slice streams while the previous one is encoded), and a rate
// taken over the last burst or since the start swings the time left by minutes from one second to the
// next. An exponentially weighted moving average over a few seconds follows a real change of speed and
// ignores the bursts.

/** What the screen shows of a run at one moment. */
export interface ProgressSnapshot {
  /** Rows of the run done so far; never decreases. */
  rows: number;
  /** Rows the run takes: the window's count when planned, raised when more turn up, exact once done. */
  totalRows: number;
  /** Rows per second, smoothed; 0 until measured. */
  rowsPerSec: number;
  /** Seconds until every planned row is done at that rate; null until the rate is measured. */
  etaSec: number | null;
  /** Since the run of this table began. */
  elapsedMs: number;
}

export interface RunProgressOptions {
  /** Time constant of the rate's moving average. Default 5 s. */
  smoothingMs?: number;
  /** No rate (and no time left) before rows have flowed this long. Default 1 s. */
  warmUpMs?: number;
}

export class RunProgress {
  private done = 0;
  private planned: number;
  /** Rows of the batches committed before the current one (exact). */
  private committed = 0;
  /** Rows of the current batch done so far. */
  private batchDone = 0;
  private rate = 0;
  private isRateMeasured = false;
  /** Where the rate was last sampled: rows done then, and when. */
  private sample: { rows: number; at: number } | null = null;
  private readonly smoothingMs: number;
  private readonly warmUpMs: number;

  constructor(
    planned: number,
    private readonly startedAt: number,
    options: RunProgressOptions = {},
  ) {
    this.planned = Math.max(0, planned);
    this.smoothingMs = options.smoothingMs ?? 5000;
    this.warmUpMs = options.warmUpMs ?? 1000;
  }

  /**
   * A batch was planned with `rowsLeft` rows still to take in the run (the first batch: the whole window).
   * The total follows what the source holds now; the rows done stay.
   */
  planBatch(rowsLeft: number): void {
    this.batchDone = 0;
    this.planned = Math.max(this.done, this.committed + Math.max(0, rowsLeft));
  }

  /** Rows begin to stream: the rate is measured from here (planning and claiming are not throughput). */
  extractionStarted(at: number): void {
    this.sample ??= { rows: this.done, at };
  }

  /** Rows of the current batch done so far (an estimate while streaming); a smaller value than before is ignored. */
  batchRows(rows: number, at: number): void {
    this.batchDone = Math.max(this.batchDone, rows);
    this.advance(this.committed + this.batchDone, at);
  }

  /** The current batch committed `rows` rows (exact). */
  batchCommitted(rows: number, at: number): void {
    this.committed += rows;
    this.batchDone = 0;
    this.advance(this.committed, at);
  }

  /** The run ended: what it committed is all there was to take. */
  finish(at: number): void {
    this.done = this.committed;
    this.planned = this.committed;
    this.sampleRate(at);
  }

  /** Time passes without rows (the rate decays during a stall). */
  tick(at: number): void {
    this.sampleRate(at);
  }

  snapshot(at: number): ProgressSnapshot {
    const left = Math.max(0, this.planned - this.done);
    let etaSec: number | null = null;
    if (left === 0 && this.done > 0) etaSec = 0;
    else if (this.isRateMeasured && this.rate > 0) etaSec = Math.round(left / this.rate);
    return {
      rows: this.done,
      totalRows: this.planned,
      rowsPerSec: Math.round(this.rate),
      etaSec,
      elapsedMs: Math.max(0, at - this.startedAt),
    };
  }

  private advance(rows: number, at: number): void {
    if (rows > this.done) this.done = rows;
    // Rows beyond the plan (arrived since the count): the total grows with them, never the percent past 100.
    if (this.done > this.planned) this.planned = this.done;
    this.sampleRate(at);
  }

  private sampleRate(at: number): void {
    if (this.sample === null) return;
    const dt = at - this.sample.at;
    if (!this.isRateMeasured) {
      if (dt < this.warmUpMs) return;
      this.rate = ((this.done - this.sample.rows) * 1000) / dt;
      this.isRateMeasured = true;
      this.sample = { rows: this.done, at };
      return;
    }
    // Samples closer than this carry more noise than information.
    if (dt < 250) return;
    const instant = ((this.done - this.sample.rows) * 1000) / dt;
    const weight = 1 - Math.exp(-dt / this.smoothingMs);
    this.rate += weight * (instant - this.rate);
    this.sample = { rows: this.done, at };
  }
}

// ─── One batch: rows per slice as they stream, for the run's rows done.

export interface BatchProgress {
  rows: number;
  bytes: number;
  files: number;
}

/**
 * Rows of each slice as far as known: counted while they stream (or, on a path that cannot count them,
 * estimated from the bytes at the bytes per row of the slices already written), capped at the slice's
 * planned rows, then exact once the slice is written.
 */
export class SliceTally {
  private readonly counted: number[];
  private readonly bytes: number[];
  private readonly exact: Array<number | null>;
  constructor(private readonly caps: number[]) {
    this.counted = caps.map(() => 0);
    this.bytes = caps.map(() => 0);
    this.exact = caps.map(() => null);
  }
  streamed(slice: number, what: { rows?: number; bytes?: number }): void {
    if (what.rows !== undefined) this.counted[slice] = Math.max(this.counted[slice], what.rows);
    if (what.bytes !== undefined) this.bytes[slice] = Math.max(this.bytes[slice], what.bytes);
  }
  written(slice: number, rows: number): void {
    this.exact[slice] = rows;
  }
  progress(files: number): BatchProgress {
    let writtenRows = 0;
    let writtenBytes = 0;
    for (let i = 0; i < this.caps.length; i++) {
      if (this.exact[i] === null) continue;
      writtenRows += this.exact[i]!;
      writtenBytes += this.bytes[i];
    }
    const bytesPerRow = writtenRows > 0 ? writtenBytes / writtenRows : 0;
    let rows = 0;
    for (let i = 0; i < this.caps.length; i++) {
      const exact = this.exact[i];
      if (exact !== null) {
        rows += exact;
        continue;
      }
      const fromBytes = bytesPerRow > 0 ? Math.floor(this.bytes[i] / bytesPerRow) : 0;
      rows += Math.min(this.caps[i], Math.max(this.counted[i], fromBytes));
    }
    return { rows, bytes: this.bytes.reduce((a, b) => a + b, 0), files };
  }
}
