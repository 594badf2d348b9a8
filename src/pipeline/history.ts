// What a table went through, for `offload runs` and the TUI's details screen: its run records from the
// state store, and its snapshots and partitions from the Iceberg metadata (never a data scan).
import type { TableConfig } from '../config/tables.js';
import { readTableOverview, type TableOverview } from '../iceberg/reader.js';
import * as runs from '../state/runs.js';
import { tableIdentifier } from './prepare.js';
import type { Services } from './services.js';

export type { OffloadRun, RunStatus } from '../state/runs.js';
export type { TableOverview } from '../iceberg/reader.js';

/** Every state a run record can be in. */
export const RUN_STATUSES: runs.RunStatus[] = ['running', 'committed', 'aborted', 'failed', 'up_to_date'];

/** Runs, latest first (default: the 50 latest of every table). */
export function listRuns(services: Pick<Services, 'pool'>, filter: runs.ListRuns = {}): Promise<runs.OffloadRun[]> {
  return runs.list(services.pool, filter);
}

/** The table's snapshots, totals and partitions from its metadata; null when it has no Iceberg table yet. */
export async function readOverview(services: Pick<Services, 'catalog' | 'io'>, cfg: TableConfig): Promise<TableOverview | null> {
  const table = await services.catalog.loadTable(tableIdentifier(cfg));
  return table ? readTableOverview(services.io, table.metadata) : null;
}
