// The Iceberg REST catalog protocol (open-api/rest-catalog-open-api.yaml in Apache Iceberg), as pure
// functions: resource paths, request bodies, the commit's requirements and updates computed from a base
// version and the next one, and the answers (config, load-table, errors) read back. No I/O here, so all
// of it is unit-tested; rest-catalog.ts sends what this builds.
import { CommitConflict, ExitCode, OffloadError } from '../core/errors.js';
import { CatalogError } from './catalog.js';
import { metadataFromJson, readJson, writeJson } from './metadata.js';
import type { Table } from './snapshot-producer.js';
import type { PartitionSpec, Schema, Snapshot, SnapshotRef, TableIdentifier, TableMetadata } from './types.js';
import { formatIdentifier } from './types.js';

// ─── errors a caller acts on ────────────────────────────────────────────────────────────────────────

/** The catalog cannot be reached (the request never left), or answered 5xx/429 to a request that changes nothing. */
export class CatalogUnavailable extends OffloadError {
  override readonly exitCode: number = ExitCode.unavailable;
  constructor(
    readonly uri: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot reach the Iceberg REST catalog at ${uri} (${detail}).\n  Is the server running and OFFLOAD_CATALOG_URI right? \`dev/rest-catalog.sh status\` shows the local stack's.`,
      options,
    );
  }
}

/** The catalog refused our credentials (401/403, or the token endpoint said no). */
export class CatalogAccessDenied extends OffloadError {
  override readonly exitCode: number = ExitCode.config;
}

/**
 * A commit was sent and no answer says whether it was applied (connection lost after sending, a timeout,
 * 5xx). The table may or may not hold the change: reload it and look for the change's snapshot (its id,
 * or the run id in its summary) before doing anything else. Never retried blindly.
 */
export class CommitOutcomeUnknown extends OffloadError {
  override readonly exitCode: number = ExitCode.unavailable;
  constructor(
    readonly table: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`commit to ${table} sent, outcome unknown (${detail}); reload the table to see whether it was applied`, options);
  }
}

/** A CommitConflict (nothing applied; rebuild on the new version) with the catalog's reason, e.g. which requirement failed. */
export class RestCommitConflict extends CommitConflict {
  constructor(
    table: string,
    expected: string | null,
    actual: string | null,
    readonly reason: string,
  ) {
    super(table, expected, actual);
    this.message = `${this.message} (the catalog answered ${reason})`;
  }
}

// ─── configuration (GET /v1/config) ─────────────────────────────────────────────────────────────────

export interface CatalogConfig {
  /** The merged properties: server defaults, then ours, then server overrides. */
  properties: Record<string, string>;
  /** The path prefix every catalog route carries (`/v1/{prefix}/namespaces…`), or null. */
  prefix: string | null;
  /** The base URI to use from now on (a server may override it). */
  uri: string;
  /** `METHOD /v1/{prefix}/path` the server supports, when it says (servers before 1.7 do not). */
  endpoints: string[] | null;
}

function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new OffloadError(`REST catalog: ${what} is not an object`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
}

/** Reads the config answer and merges it with our own properties (defaults < ours < overrides). */
export function parseConfigResponse(body: unknown, uri: string, ours: Record<string, string>): CatalogConfig {
  if (!body || typeof body !== 'object') throw new OffloadError(`REST catalog ${uri}: GET /v1/config did not answer a JSON object`);
  const b = body as Record<string, unknown>;
  const properties = { ...stringMap(b.defaults, 'config defaults'), ...ours, ...stringMap(b.overrides, 'config overrides') };
  const endpoints = Array.isArray(b.endpoints) ? b.endpoints.map(String) : null;
  return {
    properties,
    prefix: properties.prefix ? properties.prefix.replace(/^\/+|\/+$/g, '') : null,
    uri: (properties.uri ?? uri).replace(/\/+$/, ''),
    endpoints,
  };
}

// ─── paths ──────────────────────────────────────────────────────────────────────────────────────────

/** A namespace in a path or query: its levels URL-encoded and joined by the unit separator 0x1F. */
export function encodeNamespace(namespace: string): string {
  return namespaceLevels(namespace).map(encodeURIComponent).join('%1F');
}

/** `a.b` → ['a', 'b'] (the project names namespaces with dots, as the JDBC catalog stores them). */
export function namespaceLevels(namespace: string): string[] {
  const levels = namespace.split('.');
  if (levels.some((l) => l === ''))
    throw new CatalogError('invalid', `namespace "${namespace}" is not valid (levels separated by single dots)`);
  return levels;
}

export function namespaceFromLevels(levels: unknown, what: string): string {
  if (!Array.isArray(levels) || levels.length === 0 || levels.some((l) => typeof l !== 'string'))
    throw new OffloadError(`REST catalog: ${what} is not a namespace (array of strings)`);
  return levels.join('.');
}

/** The routes of the REST catalog, each under `{uri}/v1/{prefix}`. */
export class CatalogPaths {
  constructor(
    private readonly uri: string,
    private readonly prefix: string | null,
  ) {}

  private base(): string {
    return `${this.uri}/v1${this.prefix ? `/${this.prefix}` : ''}`;
  }

  namespaces(parent?: string, pageToken?: string): string {
    const q = new URLSearchParams();
    if (parent) q.set('parent', namespaceLevels(parent).join('\x1f'));
    if (pageToken) q.set('pageToken', pageToken);
    const qs = q.toString();
    return `${this.base()}/namespaces${qs ? `?${qs}` : ''}`;
  }

  namespace(namespace: string): string {
    return `${this.base()}/namespaces/${encodeNamespace(namespace)}`;
  }

  tables(namespace: string, pageToken?: string): string {
    return `${this.namespace(namespace)}/tables${pageToken ? `?pageToken=${encodeURIComponent(pageToken)}` : ''}`;
  }

  table(ident: TableIdentifier, query: Record<string, string> = {}): string {
    const qs = new URLSearchParams(query).toString();
    return `${this.namespace(ident.namespace)}/tables/${encodeURIComponent(ident.name)}${qs ? `?${qs}` : ''}`;
  }
}

// ─── bodies ─────────────────────────────────────────────────────────────────────────────────────────

/** JSON text of a request body, 64-bit ids exact. */
export function requestBody(v: unknown): string {
  return writeJson(v);
}

/** The lossless JSON of an answer (snapshot ids stay bigint); empty text is null. */
export function responseBody(text: string, source: string): unknown {
  return text.trim() === '' ? null : readJson(text, source);
}

export interface NewTableRequest {
  schema: Schema;
  spec: PartitionSpec;
  /** Default: the server's (usually `<warehouse>/<namespace>/<name>`). */
  location?: string;
  properties?: Record<string, string>;
}

/** The CreateTableRequest. Format version 2 is asked for explicitly: that is the version we read and write. */
export function createTableBody(name: string, t: NewTableRequest): unknown {
  return {
    name,
    ...(t.location ? { location: t.location } : {}),
    schema: t.schema,
    'partition-spec': t.spec,
    'stage-create': false,
    properties: { 'format-version': '2', ...t.properties },
  };
}

/** A LoadTableResult (load, create, commit answers): the table at its metadata location. */
export function tableFromResponse(ident: TableIdentifier, body: unknown): { table: Table; config: Record<string, string> } {
  const name = formatIdentifier(ident);
  const b = body as Record<string, unknown> | null;
  if (!b || typeof b !== 'object') throw new OffloadError(`REST catalog: the answer for ${name} is not a JSON object`);
  const location = b['metadata-location'];
  if (typeof location !== 'string' || !location) throw new OffloadError(`REST catalog: the answer for ${name} has no metadata-location`);
  const metadata = metadataFromJson(b.metadata, `REST catalog answer for ${name} (${location})`);
  return { table: { ident: { ...ident }, metadataLocation: location, metadata }, config: stringMap(b.config, `config of ${name}`) };
}

export function identifiersFromResponse(body: unknown, what: string): { identifiers: TableIdentifier[]; nextPageToken: string | null } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (!Array.isArray(b.identifiers)) throw new OffloadError(`REST catalog: ${what} has no identifiers list`);
  const identifiers = b.identifiers.map((x: unknown) => {
    const i = x as { namespace?: unknown; name?: unknown };
    if (typeof i?.name !== 'string') throw new OffloadError(`REST catalog: ${what} lists an identifier without a name`);
    return { namespace: namespaceFromLevels(i.namespace, `${what} identifier ${i.name}`), name: i.name };
  });
  return { identifiers, nextPageToken: typeof b['next-page-token'] === 'string' ? b['next-page-token'] : null };
}

export function namespacesFromResponse(body: unknown): { namespaces: string[]; nextPageToken: string | null } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (!Array.isArray(b.namespaces)) throw new OffloadError('REST catalog: the namespace list has no namespaces');
  return {
    namespaces: b.namespaces.map((n: unknown) => namespaceFromLevels(n, 'a listed namespace')),
    nextPageToken: typeof b['next-page-token'] === 'string' ? b['next-page-token'] : null,
  };
}

// ─── the commit: requirements and updates from base → next ──────────────────────────────────────────

export type TableRequirement =
  | { type: 'assert-table-uuid'; uuid: string }
  | { type: 'assert-ref-snapshot-id'; ref: string; 'snapshot-id': bigint | null }
  | { type: 'assert-current-schema-id'; 'current-schema-id': number }
  | { type: 'assert-last-assigned-field-id'; 'last-assigned-field-id': number };

export type TableUpdate =
  | { action: 'add-schema'; schema: Schema; 'last-column-id': number }
  | { action: 'set-current-schema'; 'schema-id': number }
  | { action: 'add-snapshot'; snapshot: Snapshot }
  | ({ action: 'set-snapshot-ref'; 'ref-name': string } & SnapshotRef)
  | { action: 'remove-snapshot-ref'; 'ref-name': string }
  | { action: 'remove-snapshots'; 'snapshot-ids': bigint[] }
  | { action: 'set-properties'; updates: Record<string, string> }
  | { action: 'remove-properties'; removals: string[] };

export interface TableCommitBody {
  identifier: { namespace: string[]; name: string };
  requirements: TableRequirement[];
  updates: TableUpdate[];
}

const same = (a: unknown, b: unknown): boolean => writeJson(a ?? null) === writeJson(b ?? null);

/**
 * What the REST catalog must apply to turn `base` into `next` (both as our metadata builders make them),
 * guarded so that it applies only to the version it was built on: the table's uuid, every changed
 * branch's snapshot (assert-ref-snapshot-id: a concurrent commit → 409), and for a schema change the
 * current schema and last column id. The server writes its own metadata file; `next`'s file is not used.
 * Changes the offload never makes (partition specs, sort orders, location, format version) are refused.
 */
export function commitRequest(ident: TableIdentifier, base: TableMetadata, next: TableMetadata): TableCommitBody {
  const name = formatIdentifier(ident);
  const refuse = (what: string): never => {
    throw new OffloadError(`${name}: the change alters ${what}, which the REST commit does not express`);
  };
  if (base['table-uuid'] !== next['table-uuid']) refuse('the table uuid');
  if (base.location !== next.location) refuse('the table location');
  if (base['format-version'] !== next['format-version']) refuse('the format version');
  if (!same(base['partition-specs'], next['partition-specs']) || base['default-spec-id'] !== next['default-spec-id'])
    refuse('the partition spec');
  if (!same(base['sort-orders'], next['sort-orders']) || base['default-sort-order-id'] !== next['default-sort-order-id'])
    refuse('the sort order');

  const requirements: TableRequirement[] = [{ type: 'assert-table-uuid', uuid: base['table-uuid'] }];
  const updates: TableUpdate[] = [];

  // Schemas first: a snapshot added below may name the new schema.
  const baseSchemaIds = new Set(base.schemas.map((s) => s['schema-id']));
  if (next.schemas.length < base.schemas.length || base.schemas.some((s) => !next.schemas.some((n) => n['schema-id'] === s['schema-id'])))
    refuse('the schema list (a schema was removed)');
  const addedSchemas = next.schemas.filter((s) => !baseSchemaIds.has(s['schema-id']));
  if (addedSchemas.length > 0 || base['current-schema-id'] !== next['current-schema-id']) {
    requirements.push({ type: 'assert-current-schema-id', 'current-schema-id': base['current-schema-id'] });
    requirements.push({ type: 'assert-last-assigned-field-id', 'last-assigned-field-id': base['last-column-id'] });
    for (const s of addedSchemas) updates.push({ action: 'add-schema', schema: s, 'last-column-id': next['last-column-id'] });
    if (base['current-schema-id'] !== next['current-schema-id']) {
      // -1 is "the schema added last": the server numbers added schemas itself.
      const isLastAdded = addedSchemas.at(-1)?.['schema-id'] === next['current-schema-id'];
      updates.push({ action: 'set-current-schema', 'schema-id': isLastAdded ? -1 : next['current-schema-id'] });
    }
  }

  const baseSnapshots = new Set(base.snapshots.map((s) => s['snapshot-id']));
  const nextSnapshots = new Set(next.snapshots.map((s) => s['snapshot-id']));
  const added = next.snapshots
    .filter((s) => !baseSnapshots.has(s['snapshot-id']))
    .sort((a, b) => (a['sequence-number'] < b['sequence-number'] ? -1 : 1));
  const removed = base.snapshots.filter((s) => !nextSnapshots.has(s['snapshot-id'])).map((s) => s['snapshot-id']);
  const refNames = [...new Set([...Object.keys(base.refs), ...Object.keys(next.refs)])].sort((a, b) =>
    a === 'main' ? -1 : b === 'main' ? 1 : a.localeCompare(b),
  );
  const changedRefs = refNames.filter((r) => !same(base.refs[r], next.refs[r]));
  // Any change of history is guarded by main, the branch the offload and every reader follow.
  const guarded = new Set(changedRefs);
  if (added.length > 0 || removed.length > 0) guarded.add('main');
  for (const ref of [...guarded].sort((a, b) => (a === 'main' ? -1 : b === 'main' ? 1 : a.localeCompare(b)))) {
    requirements.push({ type: 'assert-ref-snapshot-id', ref, 'snapshot-id': base.refs[ref]?.['snapshot-id'] ?? null });
  }
  for (const s of added) updates.push({ action: 'add-snapshot', snapshot: s });
  for (const ref of changedRefs) {
    const r = next.refs[ref];
    updates.push(r ? { action: 'set-snapshot-ref', 'ref-name': ref, ...r } : { action: 'remove-snapshot-ref', 'ref-name': ref });
  }
  if (removed.length > 0) updates.push({ action: 'remove-snapshots', 'snapshot-ids': removed });

  const setProps: Record<string, string> = {};
  for (const [k, v] of Object.entries(next.properties)) if (base.properties[k] !== v) setProps[k] = v;
  const removals = Object.keys(base.properties).filter((k) => !(k in next.properties));
  if (Object.keys(setProps).length > 0) updates.push({ action: 'set-properties', updates: setProps });
  if (removals.length > 0) updates.push({ action: 'remove-properties', removals });

  return { identifier: { namespace: namespaceLevels(ident.namespace), name: ident.name }, requirements, updates };
}

// ─── errors the server answers ──────────────────────────────────────────────────────────────────────

/** The ErrorModel of an error answer (`{"error": {"message", "type", "code"}}`), as far as it is there. */
export function errorFromResponse(body: unknown): { message: string | null; type: string | null } {
  const e = (body as { error?: { message?: unknown; type?: unknown } } | null)?.error;
  return { message: typeof e?.message === 'string' ? e.message : null, type: typeof e?.type === 'string' ? e.type : null };
}

/** What a request was doing, so an error status becomes the error its caller acts on. */
export type CatalogOperation =
  | { op: 'config' | 'list-namespaces' }
  | { op: 'load-namespace' | 'create-namespace' | 'drop-namespace' | 'list-tables'; namespace: string }
  | { op: 'load-table' | 'create-table' | 'drop-table'; ident: TableIdentifier }
  | { op: 'commit'; ident: TableIdentifier; expected: string };

/**
 * The error for a non-2xx answer. 409 on a commit is a CommitConflict (nothing applied: rebuild on the
 * new version); 5xx on a commit is CommitOutcomeUnknown (it may have been applied); 401/403 are
 * CatalogAccessDenied; 404/409 elsewhere the CatalogError of the project's JDBC catalog.
 */
export function errorForStatus(status: number, body: unknown, operation: CatalogOperation, uri: string): OffloadError {
  const { message, type } = errorFromResponse(body);
  const said = `${status}${type ? ` ${type}` : ''}${message ? `: ${message}` : ''}`;
  const what =
    'ident' in operation
      ? formatIdentifier(operation.ident)
      : 'namespace' in operation
        ? `namespace ${operation.namespace}`
        : operation.op === 'config'
          ? 'the configuration'
          : 'the namespaces';
  if (status === 401 || status === 403 || status === 419) {
    return new CatalogAccessDenied(
      `the REST catalog at ${uri} refused access to ${what} (${said}); check OFFLOAD_CATALOG_CREDENTIAL / OFFLOAD_CATALOG_TOKEN / OFFLOAD_CATALOG_SCOPE`,
    );
  }
  if (operation.op === 'commit') {
    if (status === 409) return new RestCommitConflict(what, operation.expected, null, said);
    if (status >= 500) return new CommitOutcomeUnknown(what, `the catalog answered ${said}`);
    if (status === 404) return new CatalogError('no-such-table', `table ${what} does not exist in the REST catalog at ${uri} (${said})`);
    return new CatalogError('invalid', `the REST catalog at ${uri} rejected the commit to ${what} (${said}); nothing was applied`);
  }
  if (status >= 500 || status === 429) return new CatalogUnavailable(uri, `${operation.op} of ${what} answered ${said}`);
  if (status === 404) {
    if ('ident' in operation && type !== 'NoSuchNamespaceException')
      return new CatalogError('no-such-table', `table ${what} does not exist in the REST catalog at ${uri}`);
    const namespace = 'ident' in operation ? operation.ident.namespace : 'namespace' in operation ? operation.namespace : null;
    if (namespace !== null)
      return new CatalogError('no-such-namespace', `namespace ${namespace} does not exist in the REST catalog at ${uri}`);
    return new CatalogError(
      'invalid',
      `the REST catalog at ${uri} has no route for ${operation.op} (${said}); is OFFLOAD_CATALOG_URI its base URI (without /v1)?`,
    );
  }
  if (status === 409 || (status === 400 && type === 'NamespaceNotEmptyException')) {
    if (operation.op === 'create-namespace')
      return new CatalogError('namespace-exists', `${what} already exists in the REST catalog at ${uri}`);
    if (operation.op === 'create-table')
      return new CatalogError('table-exists', `table ${what} already exists in the REST catalog at ${uri}`);
    if (operation.op === 'drop-namespace')
      return new CatalogError('namespace-not-empty', `${what} is not empty (${said}); drop its tables first`);
  }
  if (status === 406) return new CatalogError('invalid', `the REST catalog at ${uri} does not support ${operation.op} (${said})`);
  return new CatalogError(
    'invalid',
    `the REST catalog at ${uri} rejected ${operation.op}${'ident' in operation || 'namespace' in operation ? ` of ${what}` : ''} (${said})`,
  );
}

/** A fetch failure in words: undici hides the system error code in `cause`. */
export function transportDetail(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  if (e?.name === 'AbortError') return 'aborted';
  const code = e?.cause?.code;
  if (code) return e.cause?.message?.includes(code) ? e.cause.message : `${code}${e.cause?.message ? ` ${e.cause.message}` : ''}`;
  return e?.cause?.message ?? e?.message ?? String(err);
}
