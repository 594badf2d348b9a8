// An Iceberg REST catalog client: configuration (`GET /v1/config`: prefix, defaults, overrides), namespaces,
// tables, and the commit (`POST /v1/{prefix}/namespaces/{ns}/tables/{t}` with requirements and updates).
// Plain fetch, no SDK. The server writes the metadata files: a commit sends the staged snapshot (our
// manifests and manifest list) as updates, guarded by assert-ref-snapshot-id, and gets back the table
// as the server now has it. docs/rest-catalog.md explains how exactly-once holds on top of this.
import { describeCatalog, type RestCatalogSettings } from '../config/catalog.js';
import { CatalogError, ensureNamespaceIn, type Catalog, type CatalogConnection, type NewTable, type TableVersion } from './catalog.js';
import { defaultRetryPolicy, type RetryPolicy } from './io.js';
import { credentialsFor, type CatalogCredentials } from './rest-auth.js';
import { CatalogHttp } from './rest-http.js';
import {
  CatalogPaths,
  commitRequest,
  createTableBody,
  identifiersFromResponse,
  namespaceLevels,
  namespacesFromResponse,
  parseConfigResponse,
  RestCommitConflict,
  tableFromResponse,
  type CatalogConfig,
} from './rest-protocol.js';
import type { Table } from './snapshot-producer.js';
import type { TableIdentifier } from './types.js';
import { formatIdentifier } from './types.js';

export interface RestCatalogOptions {
  /** Default: the global fetch (undici). */
  fetch?: typeof fetch;
  /** Default: Date.now; token renewal is timed by it. */
  now?: () => number;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /** Reads only (default: the storage policy of io.ts, 6 attempts). */
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const USER_AGENT = 'clickhouse-iceberg-offload';
/** The routes a commit needs, as `GET /v1/config` lists endpoints (servers that list none support them all). */
const REQUIRED_ENDPOINTS = [
  'GET /v1/{prefix}/namespaces/{namespace}/tables/{table}',
  'POST /v1/{prefix}/namespaces/{namespace}/tables/{table}',
];

/** What `GET /v1/config` bound the client to. */
interface Connection {
  config: CatalogConfig;
  paths: CatalogPaths;
}

export class RestCatalog implements Catalog {
  readonly kind = 'rest' as const;
  private readonly http: CatalogHttp;
  private readonly credentials: CatalogCredentials;
  private connection: Promise<Connection> | null = null;
  private connected: Connection | null = null;

  /** A client that asks the server for its configuration on first use (opening one connects to nothing). */
  constructor(
    readonly settings: RestCatalogSettings,
    options: RestCatalogOptions = {},
  ) {
    const fetchImpl = options.fetch ?? fetch;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.credentials = credentialsFor(settings.auth, {
      catalogUri: settings.uri,
      fetch: fetchImpl,
      now: options.now ?? Date.now,
      timeoutMs,
    });
    this.http = new CatalogHttp(settings.uri, {
      credentials: this.credentials,
      fetch: fetchImpl,
      timeoutMs,
      retry: { ...defaultRetryPolicy, ...options.retry },
      headers: { 'user-agent': USER_AGENT },
      sleep: options.sleep,
    });
  }

  /** Asks the server for its configuration (with the warehouse, when given) and returns a client bound to it. */
  static async connect(settings: RestCatalogSettings, options: RestCatalogOptions = {}): Promise<RestCatalog> {
    const catalog = new RestCatalog(settings, options);
    await catalog.bound();
    return catalog;
  }

  /** What the server said at connect time (prefix, merged properties, endpoints). */
  get config(): CatalogConfig {
    if (!this.connected) throw new CatalogError('invalid', `the REST catalog at ${this.settings.uri} is not connected yet`);
    return this.connected.config;
  }

  /** The configuration, asked for once (again after a failed attempt). */
  private bound(): Promise<Connection> {
    this.connection ??= this.configure().then(
      (c) => (this.connected = c),
      (err) => {
        this.connection = null;
        throw err;
      },
    );
    return this.connection;
  }

  private async configure(): Promise<Connection> {
    const settings = this.settings;
    const query = settings.warehouse ? `?${new URLSearchParams({ warehouse: settings.warehouse })}` : '';
    const answer = await this.http.send('GET', `${settings.uri}/v1/config${query}`, { op: 'config' });
    const config = parseConfigResponse(answer, settings.uri, {
      uri: settings.uri,
      ...(settings.warehouse ? { warehouse: settings.warehouse } : {}),
    });
    const missing = config.endpoints ? REQUIRED_ENDPOINTS.filter((e) => !config.endpoints!.includes(e)) : [];
    if (missing.length > 0)
      throw new CatalogError(
        'invalid',
        `the REST catalog at ${settings.uri} does not offer ${missing.join(' and ')}; the offload cannot commit through it`,
      );
    if (config.properties['oauth2-server-uri']) this.credentials.adoptServerTokenEndpoint(config.properties['oauth2-server-uri']);
    return { config, paths: new CatalogPaths(config.uri, config.prefix) };
  }

  private async paths(): Promise<CatalogPaths> {
    return (await this.bound()).paths;
  }

  /** For messages: the catalog's URI (and warehouse). */
  get name(): string {
    return `${this.settings.uri}${this.settings.warehouse ? ` (warehouse ${this.settings.warehouse})` : ''}`;
  }

  get description(): string {
    const prefix = this.connected?.config.prefix;
    return `${describeCatalog(this.settings)}${prefix ? `, prefix ${prefix}` : ''}`;
  }

  // ── namespaces ──────────────────────────────────────────────────────────────────────────────

  async namespaceExists(namespace: string): Promise<boolean> {
    return (await this.loadNamespaceProperties(namespace).catch(notFoundAs(null))) !== null;
  }

  async loadNamespaceProperties(namespace: string): Promise<Record<string, string>> {
    const b = (await this.http.send('GET', (await this.paths()).namespace(namespace), { op: 'load-namespace', namespace })) as {
      properties?: Record<string, string>;
    } | null;
    return { ...(b?.properties ?? {}) };
  }

  async createNamespace(namespace: string, properties: Record<string, string> = {}): Promise<void> {
    await this.http.send(
      'POST',
      (await this.paths()).namespaces(),
      { op: 'create-namespace', namespace },
      { namespace: namespaceLevels(namespace), properties },
    );
  }

  /** Creates the namespace unless it exists (also when another client creates it meanwhile). Returns whether it was created. */
  ensureNamespace(namespace: string, properties: Record<string, string> = {}): Promise<boolean> {
    return ensureNamespaceIn(this, namespace, properties);
  }

  /** Top-level namespaces, or the children of `parent`; every page. */
  async listNamespaces(parent?: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = namespacesFromResponse(
        await this.http.send('GET', (await this.paths()).namespaces(parent, token), { op: 'list-namespaces' }),
      );
      out.push(...page.namespaces);
      token = page.nextPageToken ?? undefined;
    } while (token);
    return out.sort();
  }

  /** Drops an empty namespace. Returns false when it does not exist. */
  async dropNamespace(namespace: string): Promise<boolean> {
    try {
      await this.http.send('DELETE', (await this.paths()).namespace(namespace), { op: 'drop-namespace', namespace });
      return true;
    } catch (err) {
      return notFoundAs(false)(err);
    }
  }

  // ── tables ──────────────────────────────────────────────────────────────────────────────────

  async listTables(namespace: string): Promise<TableIdentifier[]> {
    const out: TableIdentifier[] = [];
    let token: string | undefined;
    do {
      const page = identifiersFromResponse(
        await this.http.send('GET', (await this.paths()).tables(namespace, token), { op: 'list-tables', namespace }),
        `the tables of ${namespace}`,
      );
      out.push(...page.identifiers);
      token = page.nextPageToken ?? undefined;
    } while (token);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async tableExists(ident: TableIdentifier): Promise<boolean> {
    return (await this.loadTable(ident)) !== null;
  }

  /** The table as the catalog has it now (its metadata location and content), or null when it does not exist. */
  async loadTable(ident: TableIdentifier): Promise<Table | null> {
    try {
      return tableFromResponse(ident, await this.http.send('GET', (await this.paths()).table(ident), { op: 'load-table', ident })).table;
    } catch (err) {
      return notFoundAs(null)(err);
    }
  }

  /** Creates the table (the namespace must exist); the server assigns field ids and the location unless given. */
  async createTable(ident: TableIdentifier, table: NewTable): Promise<Table> {
    const answer = await this.http.send(
      'POST',
      (await this.paths()).tables(ident.namespace),
      { op: 'create-table', ident },
      createTableBody(ident.name, table),
    );
    return tableFromResponse(ident, answer).table;
  }

  /** Removes the table from the catalog without purging its files. Returns false when it did not exist. */
  async dropTable(ident: TableIdentifier): Promise<boolean> {
    try {
      await this.http.send('DELETE', (await this.paths()).table(ident, { purgeRequested: 'false' }), { op: 'drop-table', ident });
      return true;
    } catch (err) {
      return notFoundAs(false)(err);
    }
  }

  /** The request line of a commit to `ident` (`POST <path>`): where a drill cuts the answer of one. */
  async commitRequestLine(ident: TableIdentifier): Promise<string> {
    return `POST ${new URL((await this.paths()).table(ident)).pathname}`;
  }

  /**
   * Commits `version` (built on its `baseTable`) as requirements + updates. Returns the table as the server has it
   * afterwards (the server's own metadata file). CommitConflict: the table moved on, nothing applied;
   * CommitOutcomeUnknown: it may have been applied (reload and look for the snapshot).
   */
  async commit(version: TableVersion, tx?: CatalogConnection): Promise<Table> {
    const ident = version.ident;
    const base = version.baseTable;
    // Another system: nothing can make this request part of a state transaction.
    if (tx) throw new CatalogError('invalid', `${formatIdentifier(ident)}: a REST catalog commit cannot join a transaction`);
    const request = commitRequest(ident, base.metadata, version.metadata);
    if (request.updates.length === 0) return base;
    try {
      const answer = await this.http.send(
        'POST',
        (await this.paths()).table(ident),
        { op: 'commit', ident, expected: base.metadataLocation },
        request,
      );
      return tableFromResponse(ident, answer).table;
    } catch (err) {
      if (!(err instanceof RestCommitConflict)) throw err;
      // Name the version that won, as the JDBC catalog's conflict does.
      const current = await this.loadTable(ident).catch(() => null);
      throw new RestCommitConflict(formatIdentifier(ident), base.metadataLocation, current?.metadataLocation ?? null, err.reason);
    }
  }
}

/** For lookups where "not there" is an answer: a CatalogError no-such-* becomes `value`, anything else is rethrown. */
function notFoundAs<T>(value: T): (err: unknown) => T {
  return (err) => {
    if (err instanceof CatalogError && (err.reason === 'no-such-table' || err.reason === 'no-such-namespace')) return value;
    throw err;
  };
}
