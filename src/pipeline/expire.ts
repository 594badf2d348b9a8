// `offload expire`: snapshot expiry and metadata cleanup of configured tables, as a policy — Iceberg's table
// properties (history.expire.max-snapshot-age-ms, history.expire.min-snapshots-to-keep,
// write.metadata.previous-versions-max, with Java's defaults), each overridable. Under the table's lock, after
// recovery has resolved any run a dead process left (whose snapshot it must still find), so no offload,
// compaction or repair commits meanwhile. The new version is committed through the catalog's
// compare-and-set; only then are the files it no longer references deleted (iceberg/expire.ts lists
// exactly which). Kept apart from gc: gc deletes what no metadata references, expiry changes what the
// table's history references — time travel to the removed snapshots ends with it.
import type { TableConfig } from '../config/tables.js';
import type { ExpiryDeletes } from '../iceberg/expire.js';
import { expireSnapshots } from '../iceberg/table.js';
import { claimForMaintenance, type MaintenanceDeps, pointerCatalogOf } from './maintenance.js';
import { tableIdentifier } from './prepare.js';

export interface ExpireOptions {
  /** Plan only: commit nothing, delete nothing; `deleted` lists what would go. */
  dryRun?: boolean;
  /** Snapshots older than this may go (default: the table's history.expire.max-snapshot-age-ms, else 5 days). */
  maxSnapshotAgeMs?: number;
  /** The newest snapshots always kept (default: history.expire.min-snapshots-to-keep, else 1). */
  retainLast?: number;
  /** Previous metadata files kept in the log (default: write.metadata.previous-versions-max, else 100). */
  maxPreviousMetadataFiles?: number;
  onLog?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface TableExpiry {
  table: string;
  target: string;
  status: 'expired' | 'nothing-to-expire' | 'dry-run' | 'busy' | 'no-table';
  /** Snapshot ids removed (dry run: to remove). */
  expiredSnapshots: string[];
  /** Files deleted (dry run: to delete), by kind. */
  deleted: ExpiryDeletes;
  durationMs: number;
}

const NOTHING: ExpiryDeletes = { manifestLists: [], manifests: [], dataFiles: [], deleteFiles: [], metadataFiles: [] };

/** Expires one table's snapshots and old metadata files by its policy (and the options' overrides). */
export async function expireTable(cfg: TableConfig, deps: MaintenanceDeps, o: ExpireOptions = {}): Promise<TableExpiry> {
  const began = Date.now();
  const result = (status: TableExpiry['status'], expired: bigint[] = [], deleted = NOTHING): TableExpiry => ({
    table: cfg.name,
    target: cfg.target,
    status,
    expiredSnapshots: expired.map(String),
    deleted,
    durationMs: Date.now() - began,
  });
  const claimed = await claimForMaintenance(cfg, deps, o.onLog ?? (() => undefined));
  if (!claimed) return result('busy');
  try {
    if (!claimed.table) return result('no-table');
    const r = await expireSnapshots(deps.state.connection, pointerCatalogOf(deps.catalog, cfg.name), deps.io, tableIdentifier(cfg), {
      policy: {
        maxSnapshotAgeMs: o.maxSnapshotAgeMs,
        minSnapshotsToKeep: o.retainLast,
        maxPreviousMetadataFiles: o.maxPreviousMetadataFiles,
      },
      dryRun: o.dryRun,
    });
    const changed = r.expired.length > 0 || r.deletedFiles.length > 0;
    return result(o.dryRun ? 'dry-run' : changed ? 'expired' : 'nothing-to-expire', r.expired, r.deleted);
  } finally {
    await claimed.lock.release();
  }
}
