// Run-all in layers: bronze tables in parallel (bounded), then silver, then gold. A layer in which a table
// failed stops the layers that depend on it (silver is made from bronze, gold from silver): their tables are
// reported as skipped, with the reason. A table another worker holds (busy) is not a failure.
import type { Layer, TableConfig } from '../config/tables.js';
import { LAYERS } from '../config/tables.js';
import { mapLimit } from '../core/concurrency.js';
import { offloadTable, type OffloadDeps, type OffloadOptions, type OffloadResult } from './offload.js';
import { OffloadEvents, withoutTableName } from './events.js';
import { OffloadStopped } from './stop.js';

export type TableOutcome =
  | { table: string; layer: Layer; status: OffloadResult['status']; result: OffloadResult }
  | { table: string; layer: Layer; status: 'failed'; error: Error }
  | { table: string; layer: Layer; status: 'skipped'; reason: string };

export interface LayerRunOptions extends OffloadOptions {
  /** Tables of one layer offloaded at once. Default 2 (one per core: each uses DuckDB's threads and ClickHouse's). */
  concurrency?: number;
  /** One table's own stop request, besides `signal` (which stops them all): that table alone stops, the others go on. */
  tableSignal?: (table: string) => AbortSignal;
}

/** Offloads `tables` layer by layer; never throws for a table's failure (it is in the outcomes). */
export async function runLayers(tables: readonly TableConfig[], deps: OffloadDeps, options: LayerRunOptions = {}): Promise<TableOutcome[]> {
  const events = options.events ?? new OffloadEvents();
  // A table that fails before its offload reports anything (claiming it: PostgreSQL down) still gets its `failed` line.
  const reported = new Set<string>();
  const stopListening = events.on((e) => {
    if (e.kind === 'failed') reported.add(e.table);
  });
  try {
    return await runInLayers(tables, deps, options, events, reported);
  } finally {
    stopListening();
  }
}

async function runInLayers(
  tables: readonly TableConfig[],
  deps: OffloadDeps,
  options: LayerRunOptions,
  events: OffloadEvents,
  reported: ReadonlySet<string>,
): Promise<TableOutcome[]> {
  const outcomes: TableOutcome[] = [];
  let stoppedBy: string | null = null;
  for (const layer of LAYERS) {
    const inLayer = tables.filter((t) => t.layer === layer);
    if (inLayer.length === 0) continue;
    if (stoppedBy !== null) {
      for (const t of inLayer) {
        const reason = `not run: ${stoppedBy}`;
        events.emit({ kind: 'skipped', table: t.name, reason });
        outcomes.push({ table: t.name, layer, status: 'skipped', reason });
      }
      continue;
    }
    const results = await mapLimit(inLayer, options.concurrency ?? 2, async (t): Promise<TableOutcome> => {
      // A stop request (options.signal) starts no further table; one already running stops before its commit.
      const own = options.tableSignal?.(t.name);
      const signal = own && options.signal ? AbortSignal.any([options.signal, own]) : (own ?? options.signal);
      if (signal?.aborted) {
        const reason = 'not run: a stop was requested';
        events.emit({ kind: 'skipped', table: t.name, reason });
        return { table: t.name, layer, status: 'skipped', reason };
      }
      try {
        const result = await offloadTable(t, deps, { ...options, events, signal });
        return { table: t.name, layer, status: result.status, result };
      } catch (err) {
        if (err instanceof OffloadStopped) return { table: t.name, layer, status: 'skipped', reason: err.message };
        const error = err instanceof Error ? err : new Error(String(err));
        if (!reported.has(t.name)) events.emit({ kind: 'failed', table: t.name, error: error.message });
        return { table: t.name, layer, status: 'failed', error };
      }
    });
    outcomes.push(...results);
    const failed = results.filter((r): r is Extract<TableOutcome, { status: 'failed' }> => r.status === 'failed');
    if (failed.length > 0) stoppedBy = `the ${layer} layer failed (${whyFailed(failed)}), and later layers are made from it`;
  }
  return outcomes;
}

/** `a, b: cannot reach PostgreSQL …; c: …`: the failed tables grouped by the first line of their error. */
function whyFailed(failed: ReadonlyArray<{ table: string; error: Error }>): string {
  const byReason = new Map<string, string[]>();
  for (const f of failed) {
    const reason = withoutTableName(f.table, f.error.message.split('\n')[0]);
    byReason.set(reason, [...(byReason.get(reason) ?? []), f.table]);
  }
  return [...byReason].map(([reason, names]) => `${names.join(', ')}: ${reason}`).join('; ');
}
