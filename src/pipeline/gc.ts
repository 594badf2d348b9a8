// Orphan files, collected by `offload gc` outside any run (maintenance, not a step of the protocol): files
// under a table's location that the table's metadata no longer reaches — the data files, manifests, manifest
// lists and metadata files of runs that never committed (a process killed between upload and commit, a lost
// compare-and-set), and the metadata files of committed versions that have left the metadata log (it keeps
// the newest `write.metadata.previous-versions-max`, 100 by default). They are deleted only when
//   - no run holds the table: gc takes the table's own lock for the whole listing and deletion (busy → skip),
//   - nothing the table's current metadata reaches names them (every kept snapshot's manifest list,
//     manifests, live data files and live delete files other engines wrote; the current metadata file and
//     those in its metadata-log), and
//   - they are older than a safety age (default 1 hour), so a writer that does not take our lock (another
//     engine committing to the same table) is never raced.
import type { TableConfig } from '../config/tables.js';
import { ExitCode, OffloadError } from '../core/errors.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO, FileInfo } from '../iceberg/io.js';
import { readReferencedFiles } from '../iceberg/reader.js';
import type { Table } from '../iceberg/table.js';
import type { StateStore } from '../state/store.js';
import { tableIdentifier } from './prepare.js';
import { currentTable } from './recover.js';
import { removeTableWorkDirs } from './work-dirs.js';

export { removeStaleWorkDirs } from './work-dirs.js';

export const DEFAULT_GC_MIN_AGE_MS = 3_600_000;

export interface GcDeps {
  state: StateStore;
  catalog: Catalog;
  io: FileIO;
  /** Local scratch (OFFLOAD_WORK_DIR; default: the system's temp directory): killed runs' directories are removed. */
  workDir?: string;
}

export interface GcOptions {
  /** Only files older than this are deleted (default 1 hour). */
  minAgeMs?: number;
  /** List what would be deleted; delete nothing. */
  dryRun?: boolean;
  now?: Date;
}

export interface GcTableResult {
  table: string;
  target: string;
  /** 'error': the table's metadata could not be read (see `error`); nothing of it was deleted, other tables go on. */
  status: 'collected' | 'dry-run' | 'busy' | 'no-table' | 'error';
  error?: string;
  /** Files under the table location. */
  listed: number;
  /** Of them, referenced by the table's metadata (kept). */
  referenced: number;
  /** Unreferenced and old enough: deleted (or, with dryRun, to delete). */
  orphans: Array<{ uri: string; size: number; lastModified: string }>;
  /** Unreferenced but younger than the safety age: kept this time. */
  tooYoung: number;
  deleted: string[];
  /** Local work directories of the table's killed runs: removed (or, with dryRun, to remove). */
  workDirs: string[];
}

/** Collects one table's orphan files. */
export async function gcTable(cfg: TableConfig, deps: GcDeps, options: GcOptions = {}): Promise<GcTableResult> {
  const minAgeMs = options.minAgeMs ?? DEFAULT_GC_MIN_AGE_MS;
  const base: GcTableResult = {
    table: cfg.name,
    target: cfg.target,
    status: 'no-table',
    listed: 0,
    referenced: 0,
    orphans: [],
    tooYoung: 0,
    deleted: [],
    workDirs: [],
  };
  const lock = await deps.state.tryLockTable(cfg.name);
  if (!lock) return { ...base, status: 'busy' };
  try {
    // No run of the table is alive while we hold its lock: its work directories are killed runs'.
    base.workDirs = await removeTableWorkDirs(deps.workDir, cfg.name, (ids) => deps.state.knownRunIds(cfg.name, ids), options.dryRun);
    let table: Table | null;
    let referenced: Set<string>;
    try {
      table = await currentTable(deps.catalog, deps.io, tableIdentifier(cfg));
      if (!table) return base;
      referenced = await referencedFiles(deps.io, table);
    } catch (err) {
      // What the table references is unknown: nothing of it may be deleted, and the other tables go on —
      // unless no table can be read (a service unreachable, a setting refused, `offload init` never run).
      if (err instanceof OffloadError && (err.exitCode === ExitCode.unavailable || err.exitCode === ExitCode.config)) throw err;
      return { ...base, status: 'error', error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
    }
    const cutoff = (options.now ?? new Date()).getTime() - minAgeMs;
    const { listed, referenced: kept, orphans, tooYoung } = await classifyFiles(deps.io, table, referenced, cutoff);
    // Still ours? The lock is held for the whole pass: a lost connection means a run could have started.
    if (!lock.isHeld()) return { ...base, status: 'busy' };
    const result: GcTableResult = {
      ...base,
      status: options.dryRun ? 'dry-run' : 'collected',
      listed: listed.length,
      referenced: kept,
      orphans: orphans.map((f) => ({ uri: f.uri, size: f.size, lastModified: f.lastModified.toISOString() })),
      tooYoung,
    };
    if (!options.dryRun && orphans.length > 0) {
      await deps.io.deleteMany(orphans.map((f) => f.uri));
      result.deleted = orphans.map((f) => f.uri);
    }
    return result;
  } finally {
    await lock.release();
  }
}

/** Every file the table's metadata reaches (kept snapshots' manifest lists, manifests, live data and delete files; metadata files). */
export async function referencedFiles(io: FileIO, table: Table): Promise<Set<string>> {
  const refs = await readReferencedFiles(io, table.metadata, table.metadataLocation);
  return new Set([...refs.metadataFiles, ...refs.manifestLists, ...refs.manifests, ...refs.dataFiles, ...refs.deleteFiles].map(normalize));
}

export interface FileClassification {
  /** Every file under the table location. */
  listed: FileInfo[];
  /** How many of them the metadata references. */
  referenced: number;
  /** Unreferenced and last modified before the cutoff: what gc deletes. */
  orphans: FileInfo[];
  /** Unreferenced but newer than the cutoff (possibly a run under way). */
  tooYoung: number;
}

/** Sorts the files under the table location into referenced, orphans (older than `cutoffMs`) and too young. */
export async function classifyFiles(
  io: FileIO,
  table: Table,
  referenced: ReadonlySet<string>,
  cutoffMs: number,
): Promise<FileClassification> {
  const location = table.metadata.location.replace(/\/+$/, '');
  const listed = await io.list(`${location}/`);
  const orphans: FileInfo[] = [];
  let tooYoung = 0;
  let kept = 0;
  for (const f of listed) {
    if (referenced.has(normalize(f.uri))) kept++;
    else if (f.lastModified.getTime() > cutoffMs) tooYoung++;
    else orphans.push(f);
  }
  return { listed, referenced: kept, orphans, tooYoung };
}

/** s3a:// and s3:// name the same object. */
function normalize(uri: string): string {
  return uri.replace(/^s3a:\/\//, 's3://');
}
