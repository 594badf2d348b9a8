// A stop requested from outside an offload (SIGTERM/SIGINT in `offload run`, the interval mode, the TUI):
// an AbortSignal the engine checks before each batch is planned and before a commit transaction begins,
// so a commit under way is always completed and nothing is ever cut in the middle of one.
import { OffloadError } from '../core/errors.js';

/** The table's offload was stopped on request before it committed (anything it wrote is discarded). */
export class OffloadStopped extends OffloadError {
  constructor(
    readonly table: string,
    readonly where: string,
  ) {
    super(`${table}: stopped ${where} (a stop was requested); nothing was committed by the interrupted run`);
  }
}

/** Throws OffloadStopped when `signal` has been aborted. */
export function throwIfStopped(signal: AbortSignal | undefined, table: string, where: string): void {
  if (signal?.aborted) throw new OffloadStopped(table, where);
}
