// Step 1, claim: the table's advisory lock in the state store (state/locks.ts), held by this worker's
// session for the whole offload. Another worker holds it → "busy", and nothing at all is done: two workers
// on two machines never offload one table at once. The lock goes with its connection: a run that lost it
// stops before committing (lock.signal).
import type { TableConfig } from '../config/tables.js';
import { ConfigError } from '../core/errors.js';
import type { TableLock } from '../state/locks.js';
import type { StateStore } from '../state/store.js';
import type { OffloadEvents } from './events.js';

/** The table's lock, or null (after a `busy` event) when another worker holds it. */
export async function claimTable(cfg: TableConfig, state: StateStore, events: OffloadEvents): Promise<TableLock | null> {
  events.emit({ kind: 'phase', table: cfg.name, runId: '', phase: 'claim' });
  const lock = await state.tryLockTable(cfg.name);
  if (!lock) events.emit({ kind: 'busy', table: cfg.name });
  return lock;
}

/** The table's watermark row (created at 1970-01-01 on its first offload); a clear error before `offload init`. */
export async function ensureWatermarkRow(cfg: TableConfig, state: StateStore): Promise<void> {
  await state.ensureWatermarks([{ table: cfg.name, icebergTable: cfg.target }]).catch((err: { code?: string }) => {
    if (err.code === '42P01')
      throw new ConfigError(
        'PostgreSQL has no offload tables (offload_watermarks, offload_runs, iceberg_tables) yet: run `offload init` first',
      );
    throw err;
  });
}
