// Builds a new table version on top of a base version: the manifest(s), the manifest list and the
// next metadata file, all written (create-only) but committed by no one — the catalog's compare-and-set
// is the caller's, inside its own transaction. Kept apart from table.ts so that the same change can
// be built again on a newer base after a lost compare-and-set: the data files and the manifest that
// adds them are written once and reused; only what depends on the base (manifest list, rewritten
// manifests, metadata) is built again.
import { randomUUID } from 'node:crypto';
import { mapLimit } from '../core/concurrency.js';
import { OffloadError, SchemaError } from '../core/errors.js';
import { discardUnreferenced, type FileIO } from './io.js';
import { summarizeManifest, UNASSIGNED_SEQUENCE_NUMBER, writeManifest, writeManifestList } from './manifest.js';
import {
  addSchema,
  addSnapshot,
  appendMetadataLog,
  currentSchema,
  currentSnapshot,
  defaultSpec,
  manifestFileName,
  manifestListFileName,
  metadataDirectory,
  nextMetadataFileLocation,
  snapshotById,
  stringifyMetadata,
} from './metadata.js';
import { partitionKey, readManifestEntries, readSnapshotManifests } from './reader.js';
import { assignFreshIds } from './schema.js';
import type { DataFile, IcebergType, ManifestEntry, ManifestFile, NestedField, Schema, TableIdentifier, TableMetadata } from './types.js';
import { formatIdentifier } from './types.js';

/** A table at one version: the metadata file the catalog pointed at when it was loaded, and its content. */
export interface Table {
  ident: TableIdentifier;
  metadataLocation: string;
  metadata: TableMetadata;
}

/** A column to add: ids of nested types are assigned on staging (any given ids are replaced). */
export interface NewColumn {
  name: string;
  type: IcebergType;
  doc?: string;
}

/** What a staged commit does, kept so that it can be built again on a newer base. */
export type TableChange = DataChange | SchemaChange;

/** Adds data files (append), or replaces the partitions they fall in (replace-partitions). */
export interface DataChange {
  kind: 'append' | 'replace-partitions';
  /** The new snapshot's id; it stays the same on every attempt (the manifest's entries carry it). */
  snapshotId: bigint;
  commitUuid: string;
  /** The partition spec the data files were written with (the table's default spec when staged). */
  specId: number;
  dataFiles: DataFile[];
  /** The manifest adding `dataFiles`, written on the first attempt and reused by every later one. */
  addedManifest: ManifestFile;
  summaryProperties: Record<string, string>;
}

export interface SchemaChange {
  kind: 'schema';
  addColumns: NewColumn[];
  makeOptional: string[];
}

/**
 * A new table version written to storage and waiting for the catalog's commit (a TableVersion of catalog.ts).
 * `Next`: string when its metadata file was written (the JDBC catalog's), null when not (a REST catalog's).
 */
export interface StagedCommit<Next extends string | null = string> {
  ident: TableIdentifier;
  /** The version it is built on. */
  baseTable: Table;
  /** The metadata location the commit expects the catalog to hold (compare-and-set `expected`). */
  base: string;
  /** The new metadata file (compare-and-set `next`); null when the catalog writes its own (a REST catalog). */
  next: Next;
  metadata: TableMetadata;
  /** The snapshot this commit adds (null for a schema-only change). */
  snapshotId: bigint | null;
  /** 1 for the first build, +1 for each restage. */
  attempt: number;
  change: TableChange;
  /** Files this attempt wrote that depend on its base (manifest list, rewritten manifests, metadata file). */
  attemptFiles: string[];
}

// ---------------------------------------------------------------------------------------------
// Writing the added manifest (once per staged change).

function checkDataFiles(table: Table, dataFiles: readonly DataFile[], specFieldNames: string[]): void {
  const name = formatIdentifier(table.ident);
  if (dataFiles.length === 0) throw new SchemaError(`${name}: nothing to commit (no data files)`);
  const seen = new Set<string>();
  for (const f of dataFiles) {
    if (seen.has(f.filePath)) throw new SchemaError(`${name}: data file ${f.filePath} is given twice`);
    seen.add(f.filePath);
    if (f.content !== 0 || f.fileFormat !== 'PARQUET') throw new SchemaError(`${name}: ${f.filePath} is not a Parquet data file`);
    const keys = Object.keys(f.partition).sort();
    const expected = [...specFieldNames].sort();
    if (keys.length !== expected.length || keys.some((k, i) => k !== expected[i]))
      throw new SchemaError(
        `${name}: data file ${f.filePath} has partition fields (${keys.join(', ') || 'none'}) but the table's partition spec has (${expected.join(', ') || 'none'})`,
      );
  }
}

/** Writes the manifest that adds `dataFiles` (entries carry the snapshot id, sequence numbers are inherited) and returns its manifest-list record. */
export async function writeAddedManifest(
  table: Table,
  io: FileIO,
  dataFiles: readonly DataFile[],
  snapshotId: bigint,
  commitUuid: string,
): Promise<{ manifest: ManifestFile; specId: number }> {
  const schema = currentSchema(table.metadata);
  const spec = defaultSpec(table.metadata);
  checkDataFiles(
    table,
    dataFiles,
    spec.fields.map((f) => f.name),
  );
  const entries: ManifestEntry[] = dataFiles.map((dataFile) => ({
    status: 1,
    snapshotId,
    sequenceNumber: null,
    fileSequenceNumber: null,
    dataFile,
  }));
  const path = `${metadataDirectory(table.metadata)}/${manifestFileName(commitUuid, 0)}`;
  const bytes = writeManifest(entries, { schema, spec, snapshotId });
  await io.createExclusive(path, bytes);
  const manifest = summarizeManifest(entries, { schema, spec, manifestPath: path, manifestLength: BigInt(bytes.byteLength), snapshotId });
  return { manifest, specId: spec['spec-id'] };
}

// ---------------------------------------------------------------------------------------------
// Building a version on a base.

/** The base already holds this change: its compare-and-set went through (an ambiguous commit), so it must not be built again. */
export class StagedAlreadyCommitted extends OffloadError {
  constructor(
    readonly table: string,
    readonly what: string,
  ) {
    super(`${table}: ${what} is already committed; nothing to restage`);
  }
}

const hasLiveFiles = (m: ManifestFile): boolean => m.addedFilesCount > 0 || m.existingFilesCount > 0;

interface FileCounts {
  files: number;
  records: bigint;
  bytes: bigint;
}

const countFiles = (files: readonly DataFile[]): FileCounts => ({
  files: files.length,
  records: files.reduce((s, f) => s + f.recordCount, 0n),
  bytes: files.reduce((s, f) => s + f.fileSizeInBytes, 0n),
});

export interface BuildOptions {
  /** Write the next metadata file (default true); false for a catalog that writes its own (REST). */
  metadataFile?: boolean;
}

/**
 * Builds the change on `base` and writes the manifest list, any rewritten manifests and (unless told not to)
 * the next metadata file.
 */
export async function buildOnBase(
  base: Table,
  io: FileIO,
  change: TableChange,
  attempt: number,
  options: BuildOptions = {},
): Promise<AnyStagedCommit> {
  const name = formatIdentifier(base.ident);
  const written: string[] = [];
  try {
    let metadata = appendMetadataLog(base.metadata, base.metadataLocation);
    let snapshotId: bigint | null = null;
    if (change.kind === 'schema') {
      metadata = applySchemaChange(name, metadata, change);
    } else {
      if (snapshotById(base.metadata, change.snapshotId)) throw new StagedAlreadyCommitted(name, `snapshot ${change.snapshotId}`);
      if (base.metadata['default-spec-id'] !== change.specId)
        throw new SchemaError(
          `${name}: the partition spec changed from ${change.specId} to ${base.metadata['default-spec-id']} since the data files were written; write them again`,
        );
      snapshotId = change.snapshotId;
      const parent = currentSnapshot(base.metadata);
      const parentManifests = parent ? await readSnapshotManifests(io, parent) : [];
      const sequenceNumber = base.metadata['last-sequence-number'] + 1n;
      const added = countFiles(change.dataFiles);
      const changedPartitions = new Set(change.dataFiles.map((f) => partitionKey(change.specId, f.partition)));

      let manifests: ManifestFile[];
      let deleted: FileCounts = { files: 0, records: 0n, bytes: 0n };
      let operation: 'append' | 'overwrite' = 'append';
      const properties = { ...change.summaryProperties };
      if (change.kind === 'append') {
        manifests = [change.addedManifest, ...parentManifests.filter(hasLiveFiles)];
      } else {
        operation = 'overwrite';
        properties['replace-partitions'] = 'true';
        const replaced = await replacePartitions(base, io, parentManifests, change, written);
        manifests = [change.addedManifest, ...replaced.manifests];
        deleted = countFiles(replaced.deletedFiles);
        for (const f of replaced.deletedFiles) changedPartitions.add(partitionKey(change.specId, f.partition));
      }

      const listPath = `${metadataDirectory(base.metadata)}/${manifestListFileName(change.snapshotId, change.commitUuid, attempt)}`;
      const listBytes = writeManifestList(manifests, {
        snapshotId: change.snapshotId,
        parentSnapshotId: parent?.['snapshot-id'] ?? null,
        sequenceNumber,
      });
      await io.createExclusive(listPath, listBytes);
      written.push(listPath);

      metadata = addSnapshot(metadata, {
        operation,
        manifestList: listPath,
        snapshotId: change.snapshotId,
        addedDataFiles: added.files,
        addedRecords: added.records,
        addedFilesSize: added.bytes,
        ...(operation === 'overwrite'
          ? { deletedDataFiles: deleted.files, deletedRecords: deleted.records, removedFilesSize: deleted.bytes }
          : {}),
        changedPartitionCount: changedPartitions.size,
        properties,
        // Snapshot times never go backwards along the log, even when this clock is behind the last writer's.
        timestampMs: Math.max(Date.now(), base.metadata['last-updated-ms']),
      }).metadata;
    }

    let next: string | null = null;
    if (options.metadataFile !== false) {
      next = nextMetadataFileLocation(base.metadata, base.metadataLocation);
      await io.createExclusive(next, stringifyMetadata(metadata));
      written.push(next);
    }
    return {
      ident: base.ident,
      baseTable: base,
      base: base.metadataLocation,
      next,
      metadata,
      snapshotId,
      attempt,
      change,
      attemptFiles: written,
    };
  } catch (err) {
    await discardUnreferenced(io, written);
    throw err;
  }
}

/**
 * Replace partitions: every live entry of the parent in a partition the new files touch is written
 * again as DELETED (by this snapshot) in a rewritten manifest, its other entries as EXISTING; manifests
 * without such entries are carried as they are. Entries already DELETED are dropped, as Java does.
 */
async function replacePartitions(
  base: Table,
  io: FileIO,
  parentManifests: ManifestFile[],
  change: DataChange,
  written: string[],
): Promise<{ manifests: ManifestFile[]; deletedFiles: DataFile[] }> {
  const touched = new Set(change.dataFiles.map((f) => partitionKey(change.specId, f.partition)));
  const live = parentManifests.filter(hasLiveFiles);
  const candidates = live.filter((m) => m.partitionSpecId === change.specId);
  const entriesByPath = new Map<string, ManifestEntry[]>();
  const read = await mapLimit(candidates, 8, (m) => readManifestEntries(io, m));
  for (const [i, m] of candidates.entries()) entriesByPath.set(m.manifestPath, read[i]);

  const schema = currentSchema(base.metadata);
  const spec = base.metadata['partition-specs'].find((s) => s['spec-id'] === change.specId)!;
  const directory = metadataDirectory(base.metadata);
  const rewriteUuid = randomUUID();
  const manifests: ManifestFile[] = [];
  const deletedFiles: DataFile[] = [];
  let n = 0;
  for (const m of live) {
    const entries = entriesByPath.get(m.manifestPath);
    const isTouched = (e: ManifestEntry): boolean => e.status !== 2 && touched.has(partitionKey(change.specId, e.dataFile.partition));
    if (!entries?.some(isTouched)) {
      manifests.push(m);
      continue;
    }
    const rewritten: ManifestEntry[] = [];
    for (const e of entries) {
      if (e.status === 2) continue;
      if (isTouched(e)) {
        rewritten.push({ ...e, status: 2, snapshotId: change.snapshotId });
        deletedFiles.push(e.dataFile);
      } else rewritten.push({ ...e, status: 0 });
    }
    const path = `${directory}/${manifestFileName(rewriteUuid, n++)}`;
    const bytes = writeManifest(rewritten, { schema, spec, snapshotId: change.snapshotId });
    await io.createExclusive(path, bytes);
    written.push(path);
    manifests.push(
      summarizeManifest(rewritten, {
        schema,
        spec,
        manifestPath: path,
        manifestLength: BigInt(bytes.byteLength),
        snapshotId: change.snapshotId,
        sequenceNumber: UNASSIGNED_SEQUENCE_NUMBER,
      }),
    );
  }
  return { manifests, deletedFiles };
}

/** The schema change applied to `metadata`: new optional columns with ids above last-column-id, and columns relaxed to optional. */
function applySchemaChange(name: string, metadata: TableMetadata, change: SchemaChange): TableMetadata {
  const schema = currentSchema(metadata);
  const existing = new Set(schema.fields.map((f) => f.name));
  const adding = new Set<string>();
  for (const c of change.addColumns) {
    if (!c.name) throw new SchemaError(`${name}: a new column needs a name`);
    if (existing.has(c.name)) throw new SchemaError(`${name}: column "${c.name}" already exists (schema ${schema['schema-id']})`);
    if (adding.has(c.name)) throw new SchemaError(`${name}: column "${c.name}" is added twice`);
    adding.add(c.name);
  }
  const fields: NestedField[] = schema.fields.map((f) => {
    if (!change.makeOptional.includes(f.name) || !f.required) return f;
    return { ...f, required: false };
  });
  const unknown = change.makeOptional.filter((n) => !existing.has(n));
  if (unknown.length > 0) throw new SchemaError(`${name}: cannot make ${unknown.map((n) => `"${n}"`).join(', ')} optional: no such column`);
  const { fields: added } = assignFreshIds(
    change.addColumns.map((c) => ({ id: 0, name: c.name, required: false, type: c.type, ...(c.doc !== undefined ? { doc: c.doc } : {}) })),
    metadata['last-column-id'] + 1,
  );
  const next: Schema = { ...schema, fields: [...fields, ...added] };
  const unchanged = added.length === 0 && fields.every((f, i) => f === schema.fields[i]);
  if (unchanged) throw new SchemaError(`${name}: the schema change changes nothing`);
  return addSchema(metadata, next).metadata;
}

/** A staged version with or without its metadata file. */
export type AnyStagedCommit = StagedCommit<string | null>;

/** A fresh commit UUID for names of files one staged change writes. */
export function newCommitUuid(): string {
  return randomUUID();
}
