// An OffloadBackend holding plain data, for the UI's own tests: the test decides what each status
// load returns and plays each offload's events by hand (`runs[i].emit(…)`, `runs[i].finish()`).
import type { OffloadEvent } from '../../../src/pipeline/events.js';
import type { StatusReport } from '../../../src/pipeline/status-model.js';
import type { OffloadBackend, RunOptions, RunScope, TableDetails } from '../../../src/ui/backend.js';
import { sampleDetails, sampleReport } from './fixtures.js';

export interface ScriptedRun {
  scope: RunScope;
  signal: AbortSignal;
  /** A table's own stop within offload all (absent for one table: `signal` is its stop). */
  tableSignal?: (table: string) => AbortSignal;
  emit: (event: OffloadEvent) => void;
  finish: () => void;
  fail: (error: Error) => void;
  /** While true an abort is ignored, as the pipeline does once its commit transaction has begun. */
  isCommitting: boolean;
}

export class MemoryBackend implements OffloadBackend {
  report: StatusReport = sampleReport();
  statusError: Error | null = null;
  /** When set, a status load waits for this promise first (a slow service). */
  statusGate: Promise<void> | null = null;
  statusLoads = 0;
  detailsLoads: string[] = [];
  readonly runs: ScriptedRun[] = [];
  isClosed = false;

  async loadStatus(): Promise<StatusReport> {
    this.statusLoads++;
    if (this.statusGate) await this.statusGate;
    if (this.statusError) throw this.statusError;
    return structuredClone(this.report);
  }

  async loadDetails(table: string): Promise<TableDetails> {
    this.detailsLoads.push(table);
    return sampleDetails(table);
  }

  run(scope: RunScope, onEvent: (event: OffloadEvent) => void, signal: AbortSignal, options: RunOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const run: ScriptedRun = {
        scope,
        signal,
        tableSignal: options.tableSignal,
        emit: onEvent,
        finish: resolve,
        fail: reject,
        isCommitting: false,
      };
      signal.addEventListener('abort', () => {
        if (!run.isCommitting) resolve();
      });
      this.runs.push(run);
    });
  }

  async close(): Promise<void> {
    this.isClosed = true;
  }
}
