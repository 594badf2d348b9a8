// The invariant checks of exactly-once, with their numbers: what a drill asserts after every recovery, one
// function per invariant, each in the file of its name:
//
//   rows-lost / rows-duplicated  rows.ts
//   watermark-matches-snapshot   watermark-matches-snapshot.ts
//   no-run-left-running          no-run-left-running.ts
//   metadata-readable            metadata-readable.ts
//   pyiceberg-loads              pyiceberg-loads.ts (the reader: pyiceberg-reader.ts, pyiceberg_reader.py)
//   orphans-collected            orphans-collected.ts
//
// verifyTable runs them all on one table; each can also be called on its own.
import type { TableConfig } from '../config/tables.js';
import type { CheckName, InvariantCheck, VerifyServices } from './check.js';
import type { FileInventory } from './file-inventory.js';
import { checkMetadataReadable } from './metadata-readable.js';
import { checkNoRunLeftRunning } from './no-run-left-running.js';
import { checkOrphansCollected, type OrphanCollector } from './orphans-collected.js';
import { checkPyIcebergLoads } from './pyiceberg-loads.js';
import { checkRows, type RowComparison } from './rows.js';
import { loadTableState } from './state.js';
import { checkWatermarkMatchesSnapshot } from './watermark-matches-snapshot.js';

export interface VerifyOptions {
  /** The catalog name tables are registered under (iceberg_tables.catalog_name). */
  catalogName: string;
  /** Removes orphans (`offload gc`); when absent the orphan check only counts them. */
  collectOrphans?: OrphanCollector;
  /** Each check as it begins and as it ends: comparing every row of a large table takes minutes. */
  onChecking?: (names: CheckName[]) => void;
  onCheck?: (check: InvariantCheck) => void;
}

export interface TableVerification {
  table: string;
  target: string;
  checks: InvariantCheck[];
  rows: RowComparison | null;
  files: { before: FileInventory; after: FileInventory | null } | null;
  isHeld: boolean;
  elapsedMs: number;
}

/**
 * Every invariant of one table after its offloads have ended (none may be running when this is
 * called: a live run legitimately holds a 'running' row and unreferenced files).
 */
export async function verifyTable(s: VerifyServices, table: TableConfig, options: VerifyOptions): Promise<TableVerification> {
  const began = performance.now();
  const checking = (...names: CheckName[]) => options.onChecking?.(names);
  const done = <T extends InvariantCheck>(check: T): T => {
    options.onCheck?.(check);
    return check;
  };
  const state = await loadTableState(s, table);
  checking('rows-lost', 'rows-duplicated');
  const rows = await checkRows(s, table, state);
  for (const c of rows.checks) done(c);
  const watermark = done(checkWatermarkMatchesSnapshot(state));
  checking('no-run-left-running');
  const running = done(await checkNoRunLeftRunning(s.pool, table.name));
  checking('metadata-readable');
  const metadata = await checkMetadataReadable(s, table, state);
  done(metadata.check);
  checking('pyiceberg-loads');
  const pyiceberg = done(await checkPyIcebergLoads(s.pyiceberg, table, state.metadata, rows.rows?.icebergRows ?? null));
  const before = metadata.inventory;
  checking('orphans-collected');
  const orphans = await checkOrphansCollected(s, table, before, options.collectOrphans);
  done(orphans.check);
  const checks = [...rows.checks, watermark, running, metadata.check, pyiceberg, orphans.check];
  return {
    table: table.name,
    target: table.target,
    checks,
    rows: rows.rows,
    files: before ? { before, after: orphans.after } : null,
    isHeld: checks.every((c) => c.status !== 'broken'),
    elapsedMs: Math.round(performance.now() - began),
  };
}
