// Operations on one Iceberg table: create, load, and the changes the offload makes — fast append,
// replace partitions, add columns, expire snapshots.
//
// Staging is separate from committing, which is what the exactly-once protocol needs (docs/architecture.md,
// steps 7 stage and 8 commit): `stage*` writes every file of the new version (manifests, manifest list, and
// for the JDBC catalog the next `NNNNN-<uuid>.metadata.json`, all create-only) and touches no catalog; the
// caller then commits it with `catalog.commit(staged, tx)` (catalog.ts: the JDBC catalog moves its pointer
// inside the caller's PostgreSQL transaction, next to its watermark update; a REST catalog applies it as one
// request). A lost race is answered with `rebuildOn` (or `restage`), which builds the same change on the
// newer version and reuses the data files and the manifest that adds them.
//
// createTable, loadTable, restage, commitStaged, commitWithRetry and expireSnapshots work on a
// PointerCatalog (the JDBC catalog's pointer store) directly; commitToCatalog works on any Catalog.
import { CommitConflict, OffloadError, SchemaError } from '../core/errors.js';
import { CatalogError, type Catalog, type CatalogConnection, type PointerCatalog } from './catalog.js';
import { expiryDeleteList, planExpiry, resolveExpiryPolicy, type ExpiryDeletes, type ExpiryPolicy, type ExpiryRules } from './expire.js';
import { discardUnreferenced, FileNotFound, type FileIO } from './io.js';
import { CommitOutcomeUnknown } from './rest-protocol.js';
import { newSnapshotId, newTableMetadata, nextMetadataFileLocation, parseMetadata, stringifyMetadata } from './metadata.js';
import {
  type AnyStagedCommit,
  buildOnBase,
  type BuildOptions,
  newCommitUuid,
  StagedAlreadyCommitted,
  writeAddedManifest,
  type NewColumn,
  type ReplacePartitionsChange,
  type StagedCommit,
  type Table,
  type TableChange,
} from './snapshot-producer.js';
import type { PartitionValue } from './partition.js';
import type { RewriteChange } from './rewrite-commit.js';
import type { ContentFile, DataFile, PartitionSpec, Schema, TableIdentifier } from './types.js';
import { formatIdentifier } from './types.js';

export { RewriteConflict } from './rewrite-commit.js';
export { StagedAlreadyCommitted, type AnyStagedCommit, type NewColumn, type StagedCommit, type Table, type TableChange };

// ---------------------------------------------------------------------------------------------
// Create and load.

export interface CreateTableOptions {
  schema: Schema;
  /** Default: unpartitioned. */
  spec?: PartitionSpec;
  /** The table's base location; default `<warehouse>/<namespace levels>/<name>` (Java's JdbcCatalog layout). */
  location?: string;
  /** Needed when `location` is not given, e.g. `s3://bucket/iceberg` or `file:///var/lib/offload`. */
  warehouse?: string;
  properties?: Record<string, string>;
  /** What to do when the table already exists: fail with a CatalogError (default) or load it. */
  ifExists?: 'fail' | 'load';
}

const UNPARTITIONED: PartitionSpec = { 'spec-id': 0, fields: [] };

/** The default location of a table in a warehouse: `<warehouse>/<ns level>/…/<name>`. */
export function defaultTableLocation(warehouse: string, ident: TableIdentifier): string {
  return `${warehouse.replace(/\/+$/, '')}/${ident.namespace.split('.').join('/')}/${ident.name}`;
}

/** Where a table's data files go: `write.data.path` if set, else `<location>/data`. */
export function dataLocation(table: Table): string {
  const custom = table.metadata.properties['write.data.path'];
  return (custom ?? `${table.metadata.location.replace(/\/+$/, '')}/data`).replace(/\/+$/, '');
}

/**
 * Creates a table: writes `metadata/00000-<uuid>.metadata.json` (create-only) and registers it in the
 * catalog. When the table exists already it is a CatalogError ('table-exists'), or with
 * `ifExists: 'load'` the existing table — also when another worker created it in between.
 */
export async function createTable(
  catalog: PointerCatalog,
  io: FileIO,
  ident: TableIdentifier,
  options: CreateTableOptions,
): Promise<Table> {
  const name = formatIdentifier(ident);
  if (await catalog.tableExists(ident)) {
    if (options.ifExists === 'load') return loadTable(catalog, io, ident);
    throw new CatalogError('table-exists', `table ${name} already exists in catalog ${catalog.name}`);
  }
  const location = options.location ?? (options.warehouse ? defaultTableLocation(options.warehouse, ident) : undefined);
  if (!location) throw new SchemaError(`cannot create ${name}: give its location or the warehouse it goes in`);
  const metadata = newTableMetadata({
    location,
    schema: options.schema,
    spec: options.spec ?? UNPARTITIONED,
    properties: options.properties,
  });
  const metadataLocation = nextMetadataFileLocation(metadata, null);
  await io.createExclusive(metadataLocation, stringifyMetadata(metadata));
  try {
    await catalog.ensureNamespace(ident.namespace);
    await catalog.createTable(ident, metadataLocation);
  } catch (err) {
    await discardUnreferenced(io, metadataLocation); // registered nowhere
    if (err instanceof CatalogError && err.reason === 'table-exists') {
      if (options.ifExists === 'load') return loadTable(catalog, io, ident);
      throw new CatalogError('table-exists', `table ${name} already exists in catalog ${catalog.name}`);
    }
    throw err;
  }
  return { ident: { ...ident }, metadataLocation, metadata };
}

/** Reads the metadata file at `metadataLocation`. */
/**
 * The catalog names a metadata file the store does not have: the catalog (PostgreSQL) and the objects (S3)
 * disagree, which no retry mends. Said as what an operator checks: objects deleted, or another store named.
 */
export class MetadataMissing extends FileNotFound {
  constructor(ident: TableIdentifier, uri: string) {
    super(uri);
    this.message =
      `Iceberg table ${formatIdentifier(ident)}: its metadata file ${uri} does not exist, though the catalog names it — ` +
      'were the warehouse objects deleted, or do OFFLOAD_WAREHOUSE and AWS_ENDPOINT_URL_S3 name another store than the one it was written to?';
  }
}

export async function readTableAt(io: FileIO, ident: TableIdentifier, metadataLocation: string): Promise<Table> {
  const text = await io.readText(metadataLocation).catch((err: unknown) => {
    throw err instanceof FileNotFound && err.uri === metadataLocation ? new MetadataMissing(ident, metadataLocation) : err;
  });
  return { ident: { ...ident }, metadataLocation, metadata: parseMetadata(text, metadataLocation) };
}

/** The table's current version, as the catalog points at it. */
export async function loadTable(catalog: PointerCatalog, io: FileIO, ident: TableIdentifier): Promise<Table> {
  const row = await catalog.loadTable(ident);
  const name = formatIdentifier(ident);
  if (!row) throw new CatalogError('no-such-table', `table ${name} does not exist in catalog ${catalog.name}`);
  if (!row.metadataLocation)
    throw new CatalogError(
      'invalid',
      `table ${name} has no metadata location in catalog ${catalog.name} (left half-made by another engine?)`,
    );
  return readTableAt(io, ident, row.metadataLocation);
}

// ---------------------------------------------------------------------------------------------
// Staging.

export interface StageSnapshotOptions extends BuildOptions {
  /** Extra snapshot summary properties, e.g. `offload.run-id`, `offload.watermark`; they cannot replace the standard ones. */
  summaryProperties?: Record<string, string>;
}

async function stageDataChange(
  kind:
    | 'append'
    | Pick<ReplacePartitionsChange, 'kind' | 'partitions'>
    | Pick<RewriteChange, 'kind' | 'removedFiles' | 'startingSequenceNumber' | 'carrySummaryKeys'>,
  table: Table,
  io: FileIO,
  dataFiles: readonly DataFile[],
  options: StageSnapshotOptions,
): Promise<AnyStagedCommit> {
  const snapshotId = newSnapshotId(table.metadata.snapshots.map((s) => s['snapshot-id']));
  const commitUuid = newCommitUuid();
  // Replacing partitions with nothing (a partition emptied at the source) adds no manifest.
  const isRemovalOnly = typeof kind !== 'string' && kind.kind === 'replace-partitions' && dataFiles.length === 0;
  const { manifest, specId } = isRemovalOnly
    ? { manifest: null, specId: table.metadata['default-spec-id'] }
    : await writeAddedManifest(table, io, dataFiles, snapshotId, commitUuid);
  const common = { snapshotId, commitUuid, specId, dataFiles: [...dataFiles], summaryProperties: { ...options.summaryProperties } };
  let change: TableChange;
  if (typeof kind === 'string') change = { kind, ...common, addedManifest: manifest! };
  else if (kind.kind === 'replace-partitions') change = { ...kind, ...common, addedManifest: manifest };
  else change = { ...kind, ...common, addedManifest: manifest! };
  try {
    return await buildOnBase(table, io, change, 1, options);
  } catch (err) {
    if (manifest) await discardUnreferenced(io, manifest.manifestPath);
    throw err;
  }
}

/**
 * Fast append: one new manifest adding `dataFiles` (already uploaded under the table location), a
 * manifest list with it and the current snapshot's manifests, and the next metadata file with an
 * `append` snapshot. Nothing is committed.
 */
export function stageAppend(
  table: Table,
  io: FileIO,
  dataFiles: readonly DataFile[],
  options?: StageSnapshotOptions & { metadataFile?: true },
): Promise<StagedCommit>;
export function stageAppend(
  table: Table,
  io: FileIO,
  dataFiles: readonly DataFile[],
  options: StageSnapshotOptions,
): Promise<AnyStagedCommit>;
export function stageAppend(
  table: Table,
  io: FileIO,
  dataFiles: readonly DataFile[],
  options: StageSnapshotOptions = {},
): Promise<AnyStagedCommit> {
  return stageDataChange('append', table, io, dataFiles, options);
}

/**
 * Replace partitions: one `overwrite` snapshot in which every file of the partitions `dataFiles` fall
 * in — and of `options.partitions` — is DELETED and `dataFiles` are ADDED (an unpartitioned table: every
 * file). With no data files, the named partitions are emptied. Nothing is committed.
 */
export function stageReplacePartitions(
  table: Table,
  io: FileIO,
  dataFiles: readonly DataFile[],
  options?: StageSnapshotOptions & { partitions?: Array<Record<string, PartitionValue>>; metadataFile?: true },
): Promise<StagedCommit>;
export function stageReplacePartitions(
  table: Table,
  io: FileIO,
  dataFiles: readonly DataFile[],
  options: StageSnapshotOptions & { partitions?: Array<Record<string, PartitionValue>> },
): Promise<AnyStagedCommit>;
export function stageReplacePartitions(
  table: Table,
  io: FileIO,
  dataFiles: readonly DataFile[],
  options: StageSnapshotOptions & { partitions?: Array<Record<string, PartitionValue>> } = {},
): Promise<AnyStagedCommit> {
  const partitions = (options.partitions ?? []).map((p) => ({ ...p }));
  if (dataFiles.length === 0 && partitions.length === 0)
    throw new SchemaError(`${formatIdentifier(table.ident)}: nothing to commit (no data files, no partition to empty)`);
  return stageDataChange({ kind: 'replace-partitions', partitions }, table, io, dataFiles, options);
}

/**
 * Compaction's `replace` snapshot: `dataFiles` (already uploaded) replace `removedFiles` — data files of
 * one partition and the position delete files whose deletes `dataFiles` already applied — holding exactly
 * their live rows. `table` must be the version the rows were read at: if the commit must be built again
 * on a newer one, that happens only while every removed file is still live and no newer delete file may
 * apply to them (else RewriteConflict). `carrySummaryKeys` are copied from the parent snapshot of each
 * attempt (e.g. the offload's watermark, which a rewrite keeps true). With a metadata file (a pointer
 * catalog's commit). Nothing is committed.
 */
export async function stageRewrite(
  table: Table,
  io: FileIO,
  rewrite: { removedFiles: readonly ContentFile[]; dataFiles: readonly DataFile[] },
  options: StageSnapshotOptions & { carrySummaryKeys?: string[]; metadataFile?: true } = {},
): Promise<StagedCommit> {
  if (rewrite.removedFiles.length === 0) throw new SchemaError(`${formatIdentifier(table.ident)}: a rewrite removes at least one file`);
  const rewriteOf = {
    kind: 'rewrite' as const,
    removedFiles: [...rewrite.removedFiles],
    startingSequenceNumber: table.metadata['last-sequence-number'],
    carrySummaryKeys: [...(options.carrySummaryKeys ?? [])],
  };
  return (await stageDataChange(rewriteOf, table, io, rewrite.dataFiles, { ...options, metadataFile: true })) as StagedCommit;
}

/** Schema evolution: a new schema (new id) with `columns` appended as optional fields with ids above last-column-id, and the named columns made optional. */
export function stageSchemaChange(
  table: Table,
  io: FileIO,
  change: { addColumns?: NewColumn[]; makeOptional?: string[] },
  options?: { metadataFile?: true },
): Promise<StagedCommit>;
export function stageSchemaChange(
  table: Table,
  io: FileIO,
  change: { addColumns?: NewColumn[]; makeOptional?: string[] },
  options: BuildOptions,
): Promise<AnyStagedCommit>;
export function stageSchemaChange(
  table: Table,
  io: FileIO,
  change: { addColumns?: NewColumn[]; makeOptional?: string[] },
  options: BuildOptions = {},
): Promise<AnyStagedCommit> {
  return buildOnBase(
    table,
    io,
    { kind: 'schema', addColumns: [...(change.addColumns ?? [])], makeOptional: [...(change.makeOptional ?? [])] },
    1,
    options,
  );
}

/** Adds optional columns (new schema id, new field ids above last-column-id); data files written before read them as null. */
export function stageAddColumns(table: Table, io: FileIO, columns: NewColumn[]): Promise<StagedCommit> {
  return stageSchemaChange(table, io, { addColumns: columns });
}

/**
 * After a lost compare-and-set: builds the staged change again on the table's current version (or on
 * `current`, when the caller has it), reusing its data files and added manifest — no data is
 * written again. The superseded attempt's manifest list, rewritten manifests and metadata file are
 * deleted (nothing references them). Throws StagedAlreadyCommitted when the current version already
 * holds the change (an ambiguous commit that went through).
 */
export async function restage(
  catalog: PointerCatalog,
  io: FileIO,
  staged: StagedCommit,
  options: { current?: Table } = {},
): Promise<StagedCommit> {
  return rebuildOn(options.current ?? (await loadTable(catalog, io, staged.ident)), io, staged);
}

/**
 * `restage` on a version the caller loaded (through any Catalog): the same change built on `current`, with a
 * metadata file only if the first build had one. StagedAlreadyCommitted when `current` already holds it.
 */
export async function rebuildOn<Next extends string | null>(
  current: Table,
  io: FileIO,
  staged: StagedCommit<Next>,
): Promise<StagedCommit<Next>> {
  const name = formatIdentifier(staged.ident);
  const isNamed =
    staged.next !== null &&
    (current.metadataLocation === staged.next || current.metadata['metadata-log'].some((e) => e['metadata-file'] === staged.next));
  if (isNamed || (staged.next === null && commitOutcome(current, staged) === 'committed'))
    throw new StagedAlreadyCommitted(name, staged.next === null ? `the staged change` : `metadata ${staged.next}`);
  if (current.metadataLocation === staged.base)
    throw new OffloadError(`${name}: the catalog still points at ${staged.base}; commit the staged version instead of restaging it`);
  const rebuilt = await buildOnBase(current, io, staged.change, staged.attempt + 1, { metadataFile: staged.next !== null });
  await discardUnreferenced(io, staged.attemptFiles);
  return rebuilt as StagedCommit<Next>; // a metadata file exactly when the first build had one
}

/**
 * Whether `current` (the table reloaded after a commit whose outcome is unknown) holds the staged change:
 * its snapshot (ids are random 63-bit numbers, so only this change can have added it), or for a schema
 * change the staged current schema. 'not-committed' means the same change may be committed again.
 */
export function commitOutcome(current: Table | null, staged: AnyStagedCommit): 'committed' | 'not-committed' {
  if (!current) return 'not-committed';
  if (staged.snapshotId !== null)
    return current.metadata.snapshots.some((s) => s['snapshot-id'] === staged.snapshotId) ? 'committed' : 'not-committed';
  const wanted = staged.metadata.schemas.find((s) => s['schema-id'] === staged.metadata['current-schema-id']);
  const has = current.metadata.schemas.find((s) => s['schema-id'] === current.metadata['current-schema-id']);
  return wanted && has && JSON.stringify(wanted.fields) === JSON.stringify(has.fields) ? 'committed' : 'not-committed';
}

/** Deletes what staging wrote (manifests, manifest list, metadata file), for a caller that gives up; with `dataFiles`, the data files too; as discardUnreferenced, never failing. Never call it on a version that may be committed. */
export async function discardStaged(io: FileIO, staged: AnyStagedCommit, options: { dataFiles?: boolean } = {}): Promise<void> {
  const files = [...staged.attemptFiles];
  if (staged.change.kind !== 'schema') {
    if (staged.change.addedManifest) files.push(staged.change.addedManifest.manifestPath);
    if (options.dataFiles) files.push(...staged.change.dataFiles.map((f) => f.filePath));
  }
  await discardUnreferenced(io, files);
}

// ---------------------------------------------------------------------------------------------
// Committing (for callers without a transaction of their own).

/** The table as it is once `staged` is committed (to a catalog that points at our metadata file). */
export function committedTable(staged: StagedCommit): Table {
  return { ident: { ...staged.ident }, metadataLocation: staged.next, metadata: staged.metadata };
}

/**
 * Commits a staged version on its own: the compare-and-set of the catalog pointer, one statement and
 * so atomic by itself (give a pool, or a client outside a transaction). Throws CommitConflict when the
 * table moved on.
 */
export async function commitStaged(db: CatalogConnection, catalog: PointerCatalog, staged: StagedCommit): Promise<Table> {
  await catalog.compareAndSetMetadataLocation(db, staged.ident, { expected: staged.base, next: staged.next });
  return committedTable(staged);
}

/** commitStaged, restaging after each lost compare-and-set, at most `maxAttempts` commits in all. */
export async function commitWithRetry(
  db: CatalogConnection,
  catalog: PointerCatalog,
  io: FileIO,
  staged: StagedCommit,
  options: { maxAttempts?: number } = {},
): Promise<Table> {
  const maxAttempts = options.maxAttempts ?? 4;
  let attempt = staged;
  for (let i = 1; ; i++) {
    try {
      return await commitStaged(db, catalog, attempt);
    } catch (err) {
      if (!(err instanceof CommitConflict) || i >= maxAttempts) throw err;
      attempt = await restage(catalog, io, attempt);
    }
  }
}

/**
 * Commits a staged version through any Catalog, for a committer with no state transaction of its own
 * (schema evolution, maintenance): after a lost race the change is built again on the reloaded table;
 * after an unknown outcome (a REST answer lost) the reloaded table says whether it applied, and if not the
 * same version is sent again — it applies at most once, its requirements name the version it was built on.
 * At most `maxAttempts` commits in all; files of a version that may have applied are never deleted.
 */
export async function commitToCatalog(
  catalog: Catalog,
  io: FileIO,
  staged: AnyStagedCommit,
  options: { maxAttempts?: number; tx?: CatalogConnection } = {},
): Promise<Table> {
  const maxAttempts = options.maxAttempts ?? 4;
  let attempt = staged;
  for (let i = 1; ; i++) {
    try {
      return await catalog.commit(attempt, options.tx);
    } catch (err) {
      if (!(err instanceof CommitConflict || err instanceof CommitOutcomeUnknown)) throw err;
      const current = await catalog.loadTable(attempt.ident);
      if (current && commitOutcome(current, attempt) === 'committed') return current;
      if (i >= maxAttempts || !current) throw err;
      if (err instanceof CommitConflict) attempt = await rebuildOn(current, io, attempt);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Snapshot expiry (the policy and what it deletes: expire.ts).

export interface ExpireSnapshotsOptions {
  /** Keep at least this many of the newest snapshots of main (default 1 — the current one is always kept). */
  retainLast?: number;
  /** Expire only snapshots older than this (ms since the epoch); without it, age does not matter. */
  olderThanMs?: number;
  /** Previous metadata files the log keeps; those the new version drops from it are deleted (default: the table's write.metadata.previous-versions-max, else 100). */
  maxPreviousMetadataFiles?: number;
  /** Instead of the three above: a policy resolved against the table's properties at each attempt (resolveExpiryPolicy). */
  policy?: ExpiryPolicy;
  /** Delete the files no kept snapshot references (default true). */
  deleteFiles?: boolean;
  /** Plan only: commit nothing, delete nothing; `deleted` tells what would go. */
  dryRun?: boolean;
  maxAttempts?: number;
}

export interface ExpireResult {
  table: Table;
  expired: bigint[];
  /** Every file deleted (or, with dryRun, to delete), sorted. */
  deletedFiles: string[];
  /** The same by kind. */
  deleted: ExpiryDeletes;
}

function checkExpiryOptions(name: string, options: ExpireSnapshotsOptions): void {
  if (
    !options.policy &&
    options.retainLast === undefined &&
    options.olderThanMs === undefined &&
    options.maxPreviousMetadataFiles === undefined
  )
    throw new SchemaError(`expire snapshots of ${name}: give retainLast, olderThanMs or both (or maxPreviousMetadataFiles, or a policy)`);
  const whole = (v: number | undefined, min: number) => v === undefined || (Number.isInteger(v) && v >= min);
  if (!whole(options.retainLast, 1))
    throw new SchemaError(`expire snapshots of ${name}: retainLast must be a whole number ≥ 1 (got ${options.retainLast})`);
  if (!whole(options.maxPreviousMetadataFiles, 1))
    throw new SchemaError(
      `expire snapshots of ${name}: maxPreviousMetadataFiles must be a whole number ≥ 1 (got ${options.maxPreviousMetadataFiles})`,
    );
  if (options.olderThanMs !== undefined && !Number.isFinite(options.olderThanMs))
    throw new SchemaError(`expire snapshots of ${name}: olderThanMs must be a time in ms since the epoch (got ${options.olderThanMs})`);
}

/**
 * Removes old snapshots from the table and trims its metadata log (committed through the catalog,
 * retried on conflict), then deletes the manifest lists, manifests, data and delete files only the removed
 * snapshots referenced, and the metadata files the log no longer names. The current snapshot and
 * everything it reads are never touched.
 */
export async function expireSnapshots(
  db: CatalogConnection,
  catalog: PointerCatalog,
  io: FileIO,
  ident: TableIdentifier,
  options: ExpireSnapshotsOptions,
): Promise<ExpireResult> {
  const name = formatIdentifier(ident);
  checkExpiryOptions(name, options);
  const maxAttempts = options.maxAttempts ?? 4;
  const none: ExpiryDeletes = { manifestLists: [], manifests: [], dataFiles: [], deleteFiles: [], metadataFiles: [] };
  for (let attempt = 1; ; attempt++) {
    const base = await loadTable(catalog, io, ident);
    const now = Date.now();
    const rules: ExpiryRules = options.policy
      ? resolveExpiryPolicy(base.metadata, options.policy, now)
      : {
          olderThanMs: options.olderThanMs ?? Number.MAX_SAFE_INTEGER,
          retainLast: options.retainLast ?? 1,
          maxPreviousMetadataFiles: options.maxPreviousMetadataFiles ?? Number.MAX_SAFE_INTEGER,
        };
    const plan = await planExpiry(io, base, rules, now);
    const expired = plan.expired.map((s) => s['snapshot-id']);
    if (!plan.changes) return { table: base, expired: [], deletedFiles: [], deleted: none };
    if (options.dryRun) return { table: base, expired, deletedFiles: expiryDeleteList(plan.deletes), deleted: plan.deletes };
    const next = nextMetadataFileLocation(base.metadata, base.metadataLocation);
    await io.createExclusive(next, stringifyMetadata(plan.metadata));
    try {
      await catalog.compareAndSetMetadataLocation(db, ident, { expected: base.metadataLocation, next });
    } catch (err) {
      if (err instanceof CommitConflict) {
        await discardUnreferenced(io, next); // definitely not committed: planned again on the newer version
        if (attempt < maxAttempts) continue;
      }
      throw err;
    }
    const table: Table = { ident: { ...ident }, metadataLocation: next, metadata: plan.metadata };
    // Only after the commit: until then a reader of the old version may need every one of these files.
    if (options.deleteFiles === false) return { table, expired, deletedFiles: [], deleted: none };
    const deletedFiles = expiryDeleteList(plan.deletes);
    if (deletedFiles.length > 0) await io.deleteMany(deletedFiles);
    return { table, expired, deletedFiles, deleted: plan.deletes };
  }
}
