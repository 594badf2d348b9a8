// Table metadata (format version 2): create, add a snapshot, add a schema, expire snapshots, and
// the JSON file with 64-bit ids written and read as exact integers. Every change returns a new
// object; a commit writes it as the next `NNNNN-<uuid>.metadata.json`.
import { randomBytes, randomUUID } from 'node:crypto';
import { OffloadError, SchemaError } from '../core/errors.js';
import { lastPartitionId } from './partition.js';
import { highestFieldId } from './schema.js';
import type { PartitionSpec, Schema, Snapshot, SnapshotSummary, TableMetadata } from './types.js';

export const DEFAULT_PROPERTIES: Readonly<Record<string, string>> = {
  'write.format.default': 'parquet',
  'write.parquet.compression-codec': 'zstd',
};

/** Java's default for write.metadata.previous-versions-max. */
const DEFAULT_PREVIOUS_VERSIONS_MAX = 100;

export interface NewTableOptions {
  /** The table's base location, e.g. `s3://bucket/warehouse/cold/silver_trades`. */
  location: string;
  schema: Schema;
  spec: PartitionSpec;
  properties?: Record<string, string>;
  tableUuid?: string;
  timestampMs?: number;
}

/** Metadata of a new, empty v2 table: schema 0, spec 0, sort order 0 (unsorted), no snapshot. */
export function newTableMetadata(opts: NewTableOptions): TableMetadata {
  const schema: Schema = { ...opts.schema, 'schema-id': 0 };
  const spec: PartitionSpec = { ...opts.spec, 'spec-id': 0 };
  return {
    'format-version': 2,
    'table-uuid': opts.tableUuid ?? randomUUID(),
    location: opts.location.replace(/\/+$/, ''),
    'last-sequence-number': 0n,
    'last-updated-ms': opts.timestampMs ?? Date.now(),
    'last-column-id': highestFieldId(schema),
    'current-schema-id': 0,
    schemas: [schema],
    'default-spec-id': 0,
    'partition-specs': [spec],
    'last-partition-id': lastPartitionId(spec),
    'default-sort-order-id': 0,
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    properties: { ...DEFAULT_PROPERTIES, ...opts.properties },
    'current-snapshot-id': null,
    refs: {},
    snapshots: [],
    statistics: [],
    'partition-statistics': [],
    'snapshot-log': [],
    'metadata-log': [],
  };
}

// ---------------------------------------------------------------------------------------------
// Snapshots.

/** A random positive 63-bit snapshot id, not one of `taken` (spec Appendix F: ids should be random). */
export function newSnapshotId(taken: Iterable<bigint> = []): bigint {
  const used = new Set(taken);
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
    if (id !== 0n && !used.has(id)) return id;
  }
}

export function currentSnapshot(m: TableMetadata): Snapshot | undefined {
  const id = m.refs.main?.['snapshot-id'] ?? m['current-snapshot-id'];
  return id === null || id === undefined ? undefined : m.snapshots.find((s) => s['snapshot-id'] === id);
}

export function snapshotById(m: TableMetadata, id: bigint): Snapshot | undefined {
  return m.snapshots.find((s) => s['snapshot-id'] === id);
}

/** The snapshot and its ancestors still in the metadata, newest first. */
export function snapshotAncestry(m: TableMetadata, id: bigint | null | undefined = currentSnapshot(m)?.['snapshot-id']): Snapshot[] {
  const out: Snapshot[] = [];
  const seen = new Set<bigint>();
  let s = id === null || id === undefined ? undefined : snapshotById(m, id);
  while (s && !seen.has(s['snapshot-id'])) {
    out.push(s);
    seen.add(s['snapshot-id']);
    s = s['parent-snapshot-id'] === undefined ? undefined : snapshotById(m, s['parent-snapshot-id']);
  }
  return out;
}

export interface SnapshotChange {
  operation: SnapshotSummary['operation'];
  /** Location of the snapshot's manifest list. */
  manifestList: string;
  addedDataFiles: number;
  addedRecords: bigint;
  addedFilesSize: bigint;
  /** For overwrite/delete: what the snapshot removed. */
  deletedDataFiles?: number;
  deletedRecords?: bigint;
  removedFilesSize?: bigint;
  /** Partitions with files added or removed. */
  changedPartitionCount: number;
  /** Extra summary properties, e.g. `offload.run-id`; they may not replace the standard ones. */
  properties?: Record<string, string>;
  /** Defaults to a fresh random id. The manifest list must already carry it, so callers usually pass it. */
  snapshotId?: bigint;
  timestampMs?: number;
}

const TOTALS: Array<[total: string, added: string, removed: string]> = [
  ['total-data-files', 'added-data-files', 'deleted-data-files'],
  ['total-delete-files', 'added-delete-files', 'removed-delete-files'],
  ['total-records', 'added-records', 'deleted-records'],
  ['total-files-size', 'added-files-size', 'removed-files-size'],
  ['total-position-deletes', 'added-position-deletes', 'removed-position-deletes'],
  ['total-equality-deletes', 'added-equality-deletes', 'removed-equality-deletes'],
];

function snapshotSummary(change: SnapshotChange, previous: SnapshotSummary | undefined): SnapshotSummary {
  const summary: SnapshotSummary = {
    operation: change.operation,
    'added-data-files': String(change.addedDataFiles),
    'added-records': String(change.addedRecords),
    'added-files-size': String(change.addedFilesSize),
  };
  if (change.operation !== 'append') {
    summary['deleted-data-files'] = String(change.deletedDataFiles ?? 0);
    summary['deleted-records'] = String(change.deletedRecords ?? 0n);
    summary['removed-files-size'] = String(change.removedFilesSize ?? 0n);
  } else if (change.deletedDataFiles || change.deletedRecords || change.removedFilesSize) {
    throw new SchemaError('an append snapshot cannot remove files; use overwrite');
  }
  summary['changed-partition-count'] = String(change.changedPartitionCount);
  // Totals follow from the parent's; a parent without a total (another writer) leaves it unknown, as Java does.
  for (const [total, added, removed] of TOTALS) {
    const before = previous === undefined ? '0' : previous[total];
    if (before === undefined || !/^\d+$/.test(before)) continue;
    const value = BigInt(before) + BigInt(summary[added] ?? '0') - BigInt(summary[removed] ?? '0');
    if (value >= 0n) summary[total] = String(value);
  }
  for (const [k, v] of Object.entries(change.properties ?? {})) {
    if (k in summary) throw new SchemaError(`snapshot summary property "${k}" is set by Iceberg and cannot be given`);
    summary[k] = v;
  }
  return summary;
}

/** Adds a snapshot on main: next sequence number, parent = the current snapshot, totals carried forward. */
export function addSnapshot(m: TableMetadata, change: SnapshotChange): { metadata: TableMetadata; snapshot: Snapshot } {
  const parent = currentSnapshot(m);
  const snapshotId = change.snapshotId ?? newSnapshotId(m.snapshots.map((s) => s['snapshot-id']));
  if (snapshotById(m, snapshotId)) throw new SchemaError(`snapshot id ${snapshotId} is already in the table`);
  const timestampMs = change.timestampMs ?? Date.now();
  const sequenceNumber = m['last-sequence-number'] + 1n;
  const snapshot: Snapshot = {
    'snapshot-id': snapshotId,
    ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}),
    'sequence-number': sequenceNumber,
    'timestamp-ms': timestampMs,
    'manifest-list': change.manifestList,
    summary: snapshotSummary(change, parent?.summary),
    'schema-id': m['current-schema-id'],
  };
  return {
    snapshot,
    metadata: {
      ...m,
      'last-sequence-number': sequenceNumber,
      'last-updated-ms': Math.max(m['last-updated-ms'], timestampMs),
      'current-snapshot-id': snapshotId,
      refs: { ...m.refs, main: { ...m.refs.main, 'snapshot-id': snapshotId, type: 'branch' } },
      snapshots: [...m.snapshots, snapshot],
      'snapshot-log': [...m['snapshot-log'], { 'timestamp-ms': timestampMs, 'snapshot-id': snapshotId }],
    },
  };
}

/**
 * Records the metadata file this version replaces (spec: metadata-log). Call once per new metadata
 * file, on the base read from `previousMetadataFile`, before applying changes.
 */
export function appendMetadataLog(base: TableMetadata, previousMetadataFile: string): TableMetadata {
  const max = Number(base.properties['write.metadata.previous-versions-max'] ?? DEFAULT_PREVIOUS_VERSIONS_MAX);
  const log = [...base['metadata-log'], { 'timestamp-ms': base['last-updated-ms'], 'metadata-file': previousMetadataFile }];
  return { ...base, 'metadata-log': log.slice(Math.max(0, log.length - Math.max(1, max))) };
}

/** Makes `schema` current: reuses the id of an identical schema already in the table, else takes the next id. */
export function addSchema(m: TableMetadata, schema: Schema, timestampMs = Date.now()): { metadata: TableMetadata; schemaId: number } {
  // Same fields, ids, types and docs: Java's Schema.sameSchema.
  const same = m.schemas.find((s) => writeJson(s.fields) === writeJson(schema.fields));
  const schemaId = same ? same['schema-id'] : Math.max(-1, ...m.schemas.map((s) => s['schema-id'])) + 1;
  const schemas = same ? m.schemas : [...m.schemas, { ...schema, 'schema-id': schemaId }];
  return {
    schemaId,
    metadata: {
      ...m,
      schemas,
      'current-schema-id': schemaId,
      'last-column-id': Math.max(m['last-column-id'], highestFieldId(schema)),
      'last-updated-ms': Math.max(m['last-updated-ms'], timestampMs),
    },
  };
}

export function currentSchema(m: TableMetadata): Schema {
  const s = m.schemas.find((x) => x['schema-id'] === m['current-schema-id']);
  if (!s) throw new SchemaError(`table ${m.location}: current-schema-id ${m['current-schema-id']} is not among its schemas`);
  return s;
}

export function defaultSpec(m: TableMetadata): PartitionSpec {
  const s = m['partition-specs'].find((x) => x['spec-id'] === m['default-spec-id']);
  if (!s) throw new SchemaError(`table ${m.location}: default-spec-id ${m['default-spec-id']} is not among its partition specs`);
  return s;
}

/** Removes snapshots (never the current one); refs to them go, and the snapshot log before the last removed one. */
export function removeSnapshots(m: TableMetadata, ids: Iterable<bigint>, timestampMs = Date.now()): TableMetadata {
  const remove = new Set(ids);
  const current = currentSnapshot(m);
  if (current && remove.has(current['snapshot-id']))
    throw new SchemaError(`snapshot ${current['snapshot-id']} is the current snapshot and cannot be removed`);
  const snapshots = m.snapshots.filter((s) => !remove.has(s['snapshot-id']));
  const kept = new Set(snapshots.map((s) => s['snapshot-id']));
  const refs = Object.fromEntries(Object.entries(m.refs).filter(([, r]) => kept.has(r['snapshot-id'])));
  // A log entry whose snapshot is gone ends the usable history before it (Java does the same).
  let snapshotLog: TableMetadata['snapshot-log'] = [];
  for (const e of m['snapshot-log']) snapshotLog = kept.has(e['snapshot-id']) ? [...snapshotLog, e] : [];
  return {
    ...m,
    snapshots,
    refs,
    'snapshot-log': snapshotLog,
    'last-updated-ms': Math.max(m['last-updated-ms'], timestampMs),
  };
}

export interface ExpireOptions {
  /** Snapshots older than this (ms since epoch) may go. */
  olderThanMs: number;
  /** Newest snapshots of each branch always kept (spec: min-snapshots-to-keep), default 1. */
  minSnapshotsToKeep?: number;
  timestampMs?: number;
}

/** Snapshot expiry (spec "Snapshot Retention Policy"): returns the new metadata and the snapshots removed. */
export function expireSnapshots(m: TableMetadata, opts: ExpireOptions): { metadata: TableMetadata; expired: Snapshot[] } {
  const retain = new Set<bigint>();
  for (const ref of Object.values(m.refs)) {
    retain.add(ref['snapshot-id']);
    if (ref.type !== 'branch') continue;
    const keep = ref['min-snapshots-to-keep'] ?? opts.minSnapshotsToKeep ?? 1;
    snapshotAncestry(m, ref['snapshot-id']).forEach((s, i) => {
      if (i < keep || s['timestamp-ms'] >= opts.olderThanMs) retain.add(s['snapshot-id']);
    });
  }
  const expired = m.snapshots.filter((s) => !retain.has(s['snapshot-id']) && s['timestamp-ms'] < opts.olderThanMs);
  if (expired.length === 0) return { metadata: m, expired };
  return {
    metadata: removeSnapshots(
      m,
      expired.map((s) => s['snapshot-id']),
      opts.timestampMs,
    ),
    expired,
  };
}

// ---------------------------------------------------------------------------------------------
// File names. Java names metadata files `%05d-<uuid>.metadata.json`, version 0 at creation.

export function metadataFileName(version: number, uuid: string = randomUUID()): string {
  if (!Number.isInteger(version) || version < 0) throw new SchemaError(`metadata version ${version} is not a non-negative integer`);
  return `${String(version).padStart(5, '0')}-${uuid}.metadata.json`;
}

/** The version number of a metadata file location (`…/00012-<uuid>.metadata.json` → 12), or null if it does not follow the convention. */
export function parseMetadataFileVersion(location: string): number | null {
  const m = /(?:^|\/)(\d+)-[^/]*\.metadata\.json(?:\.gz)?$/.exec(location);
  return m ? Number(m[1]) : null;
}

/** Where metadata files go: `write.metadata.path` if set, else `<location>/metadata`. */
export function metadataDirectory(m: TableMetadata): string {
  const custom = m.properties['write.metadata.path'];
  if (custom)
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(custom) ? custom.replace(/\/+$/, '') : `${m.location}/${custom.replace(/^\/+|\/+$/g, '')}`;
  return `${m.location}/metadata`;
}

/** The location of the metadata file that follows `current` (null for a new table: version 0). */
export function nextMetadataFileLocation(m: TableMetadata, current: string | null): string {
  const version = current === null ? 0 : (parseMetadataFileVersion(current) ?? m['metadata-log'].length) + 1;
  return `${metadataDirectory(m)}/${metadataFileName(version)}`;
}

/** Java's manifest list name: `snap-<snapshot id>-<attempt>-<commit uuid>.avro`. */
export function manifestListFileName(snapshotId: bigint, commitUuid: string, attempt = 1): string {
  return `snap-${snapshotId}-${attempt}-${commitUuid}.avro`;
}

/** Java's manifest name: `<commit uuid>-m<n>.avro`. */
export function manifestFileName(commitUuid: string, n: number): string {
  return `${commitUuid}-m${n}.avro`;
}

// ---------------------------------------------------------------------------------------------
// JSON. JSON.parse turns 64-bit ids into doubles, so both directions are done here: bigint is
// written as a bare integer and read back as bigint for the id fields (and for any integer a
// double cannot hold exactly).

const BIGINT_KEYS = new Set(['snapshot-id', 'parent-snapshot-id', 'current-snapshot-id', 'sequence-number', 'last-sequence-number']);

export class MetadataJsonError extends OffloadError {}

/** JSON text with bigints written as bare integers (64-bit ids exactly), undefined members left out. */
export function writeJson(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      if (!Number.isFinite(v)) throw new MetadataJsonError(`cannot write ${v} to JSON`);
      return JSON.stringify(v);
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : writeJson(x))).join(',')}]`;
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v as Record<string, unknown>))
        if (x !== undefined) parts.push(`${JSON.stringify(k)}:${writeJson(x)}`);
      return `{${parts.join(',')}}`;
    }
  }
  throw new MetadataJsonError(`cannot write a ${typeof v} to JSON`);
}

/** Parses JSON keeping 64-bit ids (and any integer a double cannot hold) as bigint; `source` names the text in errors. */
export function readJson(text: string, source: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new MetadataJsonError(`${source}: invalid JSON, ${what} at offset ${i}`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const string = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const value = (key: string | null): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = string();
        ws();
        if (text[i++] !== ':') fail('expected ":"');
        obj[k] = value(k);
        ws();
        const sep = text[i++];
        if (sep === '}') return obj;
        if (sep !== ',') fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(key));
        ws();
        const sep = text[i++];
        if (sep === ']') return arr;
        if (sep !== ',') fail('expected "," or "]"');
      }
    }
    if (c === '"') return string();
    for (const [word, literal] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return literal;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail('unexpected character');
    i += m[0].length;
    const isInteger = m[1] === undefined && m[2] === undefined;
    if (isInteger && ((key !== null && BIGINT_KEYS.has(key)) || !Number.isSafeInteger(Number(m[0])))) return BigInt(m[0]);
    return Number(m[0]);
  };
  const result = value(null);
  ws();
  if (i !== text.length) fail('unexpected text after the document');
  return result;
}

/** The metadata file's text. Java writes -1 for "no current snapshot" in v2; so do we, for older readers. */
export function stringifyMetadata(m: TableMetadata): string {
  return writeJson({ ...m, 'current-snapshot-id': m['current-snapshot-id'] ?? -1n });
}

const REQUIRED_V2 = [
  'format-version',
  'table-uuid',
  'location',
  'last-sequence-number',
  'last-updated-ms',
  'last-column-id',
  'schemas',
  'current-schema-id',
  'partition-specs',
  'default-spec-id',
  'last-partition-id',
  'sort-orders',
  'default-sort-order-id',
] as const;

/** Parses a v2 metadata file losslessly; `source` (its location) names it in errors. */
export function parseMetadata(text: string, source = 'table metadata'): TableMetadata {
  return metadataFromJson(readJson(text, source), source);
}

/** Table metadata from a value `readJson` produced (a metadata file, or the `metadata` of a REST catalog's answer). */
export function metadataFromJson(value: unknown, source = 'table metadata'): TableMetadata {
  const raw = value as Record<string, unknown>;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new MetadataJsonError(`${source}: not a JSON object`);
  if (raw['format-version'] !== 2)
    throw new MetadataJsonError(`${source}: format-version ${String(raw['format-version'])} is not supported (only 2)`);
  for (const k of REQUIRED_V2) if (raw[k] === undefined) throw new MetadataJsonError(`${source}: required field "${k}" is missing`);
  const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(v as number));
  const m = raw as unknown as TableMetadata;
  m['last-sequence-number'] = big(raw['last-sequence-number']);
  const current = raw['current-snapshot-id'];
  m['current-snapshot-id'] = current === undefined || current === null || big(current) === -1n ? null : big(current);
  m.properties = (raw.properties as Record<string, string> | undefined) ?? {};
  m.snapshots = (raw.snapshots as Snapshot[] | undefined) ?? [];
  m['snapshot-log'] = (raw['snapshot-log'] as TableMetadata['snapshot-log'] | undefined) ?? [];
  m['metadata-log'] = (raw['metadata-log'] as TableMetadata['metadata-log'] | undefined) ?? [];
  // Spec: there is always a main branch pointing at current-snapshot-id, even if refs is absent.
  const refs = (raw.refs as TableMetadata['refs'] | undefined) ?? {};
  if (!refs.main && m['current-snapshot-id'] !== null) refs.main = { 'snapshot-id': m['current-snapshot-id'], type: 'branch' };
  m.refs = refs;
  return m;
}
