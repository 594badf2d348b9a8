// The Iceberg JDBC catalog, kept in PostgreSQL in the exact tables Apache Iceberg's Java JdbcCatalog
// (schema V1) and pyiceberg's SqlCatalog use (migrations/003_iceberg_jdbc_catalog.sql), so any engine
// pointed at the same database and catalog name sees our tables, and we see theirs.
//
// A table is one row of iceberg_tables: its current metadata file. A commit moves that pointer with a
// compare-and-set inside the caller's transaction, which is what makes data and watermark atomic.
// This module knows nothing of ClickHouse or of our other tables; it is handed a pg connection.
import type pg from 'pg';
import { CommitConflict, OffloadError } from '../core/errors.js';
import type { Table } from './snapshot-producer.js';
import { formatIdentifier, type PartitionSpec, type Schema, type TableIdentifier, type TableMetadata } from './types.js';

/** The catalog name our rows carry (catalog_name); point other engines at the same name. */
export const DEFAULT_CATALOG_NAME = 'offload';

/** What the catalog needs from PostgreSQL: a pg Pool, a client, or a client inside an open transaction. */
export interface CatalogConnection {
  // biome-ignore lint/suspicious/noExplicitAny: the default of pg's own query signature, so a Pool or a PoolClient fits
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export type CatalogErrorReason =
  | 'no-such-namespace'
  | 'namespace-exists'
  | 'namespace-not-empty'
  | 'no-such-table'
  | 'table-exists'
  | 'invalid';

/** A catalog operation that cannot be done as asked (names the namespace or table). */
export class CatalogError extends OffloadError {
  constructor(
    readonly reason: CatalogErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface CatalogTable {
  identifier: TableIdentifier;
  /** The current metadata file (null only for rows another engine left half-made). */
  metadataLocation: string | null;
  previousMetadataLocation: string | null;
}

// The reserved property JdbcCatalog and SqlCatalog write so an empty namespace exists; never shown as a property.
const EXISTS_PROPERTY = 'exists';
const TABLE_TYPE = 'TABLE';
// Java V1 reads rows without iceberg_type (written by V0 engines and by pyiceberg) as tables.
const IS_TABLE = `(iceberg_type = '${TABLE_TYPE}' OR iceberg_type IS NULL)`;
const UNIQUE_VIOLATION = '23505';
const MAX_NAME = 255;
const MAX_LOCATION = 1000;

/** `ns.` as a LIKE prefix, with LIKE's wildcards escaped by '!' (as SqlCatalog does). */
function childPattern(namespace: string): string {
  return `${namespace.replace(/[!_%]/g, (c) => `!${c}`)}.%`;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === UNIQUE_VIOLATION;
}

/**
 * Creates a namespace unless it exists, also when another client creates it in between. Looking first
 * spares a principal allowed to use a namespace but not to create one a refusal. Returns whether it was created.
 */
export async function ensureNamespaceIn(
  catalog: {
    namespaceExists(namespace: string): Promise<boolean>;
    createNamespace(namespace: string, properties: Record<string, string>): Promise<void>;
  },
  namespace: string,
  properties: Record<string, string>,
): Promise<boolean> {
  if (await catalog.namespaceExists(namespace)) return false;
  try {
    await catalog.createNamespace(namespace, properties);
    return true;
  } catch (err) {
    if (err instanceof CatalogError && err.reason === 'namespace-exists') return false;
    // Another client created it meanwhile, and the server said so badly: Iceberg's JDBC-backed REST server
    // answers a concurrent duplicate with 500 (the unique key's SQL error), not 409.
    if (await catalog.namespaceExists(namespace).catch(() => false)) return false;
    throw err;
  }
}

/**
 * The Iceberg catalog as the project uses it: ONE interface, two implementations chosen by configuration
 * (config/catalog.ts; pipeline/services.ts opens the one configured):
 *
 *   kind 'jdbc'  JdbcTableCatalog (jdbc-table-catalog.ts): the JDBC catalog in the state database. We write
 *                every metadata file; a commit moves the table's pointer to ours with a compare-and-set on
 *                the connection handed in as `tx` — inside the state store's transaction, so the watermark
 *                and the run record commit with it or nothing does.
 *   kind 'rest'  RestCatalog (rest-catalog.ts): an Iceberg REST catalog server. A commit is one request,
 *                atomic on its own and never part of a state transaction (`tx` must not be given): the
 *                version's requirements (assert-table-uuid, assert-ref-snapshot-id …) and updates
 *                (add-snapshot with our manifest list …); the server writes the metadata file, so staging
 *                writes none (`version.next` is null).
 *
 * How every committer uses it (the offload, schema evolution, expiry, compaction and repair alike):
 *   1. `loadTable` → the current `Table`;
 *   2. build the next version on it with the builders (table.ts / snapshot-producer.ts), asking for a
 *      metadata file only when `kind` is 'jdbc';
 *   3. `commit(version, tx)` → the table as now committed (for REST, with the server's metadata file).
 *      CommitConflict: the table moved on, nothing was applied — build the change again on the reloaded
 *      table. CommitOutcomeUnknown (REST only: the request left, no answer says whether it applied) —
 *      reload and look for the version's snapshot id (`commitOutcome` in table.ts) before anything else;
 *      never delete what the version references until that is settled.
 * `commitToCatalog` in table.ts does 2–3 with both answers handled, for a committer without a transaction.
 * This shape is what every committer codes against: keep it stable.
 */
export interface Catalog {
  /** Whether a commit joins the state store's transaction ('jdbc') or is a request of its own ('rest'). */
  readonly kind: 'jdbc' | 'rest';
  /** For messages: the JDBC catalog name, or the REST catalog's URI. Never a secret. */
  readonly name: string;
  /** For `status`: which catalog, where, how it authenticates. Never a secret. */
  readonly description: string;
  tableExists(id: TableIdentifier): Promise<boolean>;
  /** The table's current version (its metadata location and content), or null when there is no such table. */
  loadTable(id: TableIdentifier): Promise<Table | null>;
  /** Creates the namespace unless it exists (also when another client creates it meanwhile); whether it was created. */
  ensureNamespace(namespace: string): Promise<boolean>;
  /**
   * Creates the table (its namespace must exist): CatalogError 'table-exists' when it does. Data is written
   * with the returned table's schema and spec (a REST server assigns their ids).
   */
  createTable(id: TableIdentifier, table: NewTable): Promise<Table>;
  /** Applies `version` if the table is still at `version.baseTable`; the table as committed. */
  commit(version: TableVersion, tx?: CatalogConnection): Promise<Table>;
  listNamespaces(): Promise<string[]>;
  listTables(namespace: string): Promise<TableIdentifier[]>;
  /** Forgets the table (its files stay); false when it did not exist. */
  dropTable(id: TableIdentifier): Promise<boolean>;
  /** Drops an empty namespace; false when it did not exist. */
  dropNamespace(namespace: string): Promise<boolean>;
}

/** A table to create. */
export interface NewTable {
  schema: Schema;
  spec: PartitionSpec;
  /** Default: the catalog's (JDBC: `<warehouse>/<namespace levels>/<name>`; REST: the server's choice). */
  location?: string;
  properties?: Record<string, string>;
}

/** A new version of a table, built on `baseTable` (a StagedCommit is one). */
export interface TableVersion {
  ident: TableIdentifier;
  /** The version it was built on: the commit applies only while the table is still there. */
  baseTable: Table;
  /** The new version's metadata, as the builders made it. */
  metadata: TableMetadata;
  /** Our metadata file of it (the JDBC catalog points there); null when the catalog writes its own (REST). */
  next: string | null;
}

/**
 * A catalog that keeps each table as a pointer to its current metadata file and commits by a
 * compare-and-set of that pointer on a connection the caller hands in: JdbcCatalog, which
 * JdbcTableCatalog puts behind `Catalog` (and the batch loop's unit test keeps in memory).
 */
export interface PointerCatalog {
  readonly name: string;
  tableExists(id: TableIdentifier): Promise<boolean>;
  loadTable(id: TableIdentifier): Promise<CatalogTable | null>;
  ensureNamespace(namespace: string): Promise<boolean>;
  createTable(id: TableIdentifier, metadataLocation: string): Promise<void>;
  compareAndSetMetadataLocation(
    tx: CatalogConnection,
    id: TableIdentifier,
    change: { expected: string | null; next: string },
  ): Promise<void>;
  // Listing and dropping (drill sandboxes): the JDBC catalog's; a pointer store in memory has none.
  listNamespaces?(): Promise<string[]>;
  listTables?(namespace: string): Promise<TableIdentifier[]>;
  dropTable?(id: TableIdentifier): Promise<boolean>;
  dropNamespace?(namespace: string): Promise<boolean>;
}

export class JdbcCatalog implements PointerCatalog {
  constructor(
    private readonly db: CatalogConnection,
    readonly name: string = DEFAULT_CATALOG_NAME,
  ) {
    if (!name || name.length > MAX_NAME) throw new CatalogError('invalid', `catalog name "${name}" must be 1–${MAX_NAME} characters`);
  }

  private checkNamespace(namespace: string): void {
    if (!namespace || namespace.length > MAX_NAME || namespace.split('.').some((level) => level === '')) {
      throw new CatalogError(
        'invalid',
        `namespace "${namespace}" is not valid (1–${MAX_NAME} characters, levels separated by single dots)`,
      );
    }
  }

  private checkIdentifier(id: TableIdentifier): void {
    this.checkNamespace(id.namespace);
    if (!id.name || id.name.length > MAX_NAME) {
      throw new CatalogError('invalid', `table name "${id.name}" in ${id.namespace} must be 1–${MAX_NAME} characters`);
    }
  }

  private checkLocation(id: TableIdentifier, location: string): void {
    if (!location || location.length > MAX_LOCATION) {
      throw new CatalogError(
        'invalid',
        `${formatIdentifier(id)}: metadata location must be 1–${MAX_LOCATION} characters (got ${location.length})`,
      );
    }
  }

  // ── namespaces ──────────────────────────────────────────────────────────────────────────────

  /** Like JdbcCatalog: a namespace exists when a table or a property row names it or a child of it. */
  async namespaceExists(namespace: string, db: CatalogConnection = this.db): Promise<boolean> {
    this.checkNamespace(namespace);
    const r = await db.query(
      `SELECT 1 FROM iceberg_tables
        WHERE catalog_name = $1 AND (table_namespace = $2 OR table_namespace LIKE $3 ESCAPE '!')
       UNION ALL
       SELECT 1 FROM iceberg_namespace_properties
        WHERE catalog_name = $1 AND (namespace = $2 OR namespace LIKE $3 ESCAPE '!')
       LIMIT 1`,
      [this.name, namespace, childPattern(namespace)],
    );
    return r.rows.length > 0;
  }

  /** Creates a namespace with its properties (plus the reserved `exists`=`true` row). */
  async createNamespace(namespace: string, properties: Record<string, string> = {}): Promise<void> {
    this.checkNamespace(namespace);
    if (EXISTS_PROPERTY in properties) throw new CatalogError('invalid', `namespace property "${EXISTS_PROPERTY}" is reserved`);
    if (await this.namespaceExists(namespace)) throw new CatalogError('namespace-exists', `namespace ${namespace} already exists`);
    const entries = [...Object.entries(properties), [EXISTS_PROPERTY, 'true']];
    try {
      await this.db.query(
        `INSERT INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value)
         SELECT $1, $2, k, v FROM unnest($3::text[], $4::text[]) AS p(k, v)`,
        [this.name, namespace, entries.map((e) => e[0]), entries.map((e) => e[1])],
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new CatalogError('namespace-exists', `namespace ${namespace} already exists`);
      throw err;
    }
  }

  /** Creates the namespace unless it exists (safe under concurrency). Returns whether it was created. */
  async ensureNamespace(namespace: string, properties: Record<string, string> = {}): Promise<boolean> {
    this.checkNamespace(namespace);
    return ensureNamespaceIn(this, namespace, properties);
  }

  /** Every namespace of this catalog (full dotted names, sorted), from tables and from properties. */
  async listNamespaces(): Promise<string[]> {
    const r = await this.db.query<{ ns: string }>(
      `SELECT table_namespace AS ns FROM iceberg_tables WHERE catalog_name = $1
       UNION
       SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = $1
       ORDER BY 1`,
      [this.name],
    );
    return r.rows.map((x) => x.ns);
  }

  /** A namespace's properties (without the reserved `exists`). */
  async loadNamespaceProperties(namespace: string): Promise<Record<string, string>> {
    if (!(await this.namespaceExists(namespace))) throw new CatalogError('no-such-namespace', `namespace ${namespace} does not exist`);
    const r = await this.db.query<{ property_key: string; property_value: string | null }>(
      `SELECT property_key, property_value FROM iceberg_namespace_properties
        WHERE catalog_name = $1 AND namespace = $2 ORDER BY property_key`,
      [this.name, namespace],
    );
    const out: Record<string, string> = {};
    for (const row of r.rows) if (row.property_key !== EXISTS_PROPERTY) out[row.property_key] = row.property_value ?? '';
    return out;
  }

  /** Sets and removes namespace properties in one statement. */
  async updateNamespaceProperties(namespace: string, updates: Record<string, string>, removals: string[] = []): Promise<void> {
    if (EXISTS_PROPERTY in updates || removals.includes(EXISTS_PROPERTY)) {
      throw new CatalogError('invalid', `namespace property "${EXISTS_PROPERTY}" is reserved`);
    }
    const overlap = removals.filter((k) => k in updates);
    if (overlap.length) throw new CatalogError('invalid', `properties both set and removed: ${overlap.join(', ')}`);
    if (!(await this.namespaceExists(namespace))) throw new CatalogError('no-such-namespace', `namespace ${namespace} does not exist`);
    const entries = Object.entries(updates);
    await this.db.query(
      `WITH removed AS (
         DELETE FROM iceberg_namespace_properties
          WHERE catalog_name = $1 AND namespace = $2 AND property_key = ANY($5::text[])
       )
       INSERT INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value)
       SELECT $1, $2, k, v FROM unnest($3::text[], $4::text[]) AS p(k, v)
       ON CONFLICT (catalog_name, namespace, property_key) DO UPDATE SET property_value = EXCLUDED.property_value`,
      [this.name, namespace, entries.map((e) => e[0]), entries.map((e) => e[1]), removals],
    );
  }

  /** Drops an empty namespace. Returns false when it does not exist; refuses one with tables, views or children. */
  async dropNamespace(namespace: string): Promise<boolean> {
    if (!(await this.namespaceExists(namespace))) return false;
    const r = await this.db.query<{ tables: string; children: string }>(
      `SELECT (SELECT count(*) FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2) AS tables,
              (SELECT count(*) FROM (
                 SELECT table_namespace FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace LIKE $3 ESCAPE '!'
                 UNION
                 SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = $1 AND namespace LIKE $3 ESCAPE '!'
               ) c) AS children`,
      [this.name, namespace, childPattern(namespace)],
    );
    const tables = Number(r.rows[0].tables);
    const children = Number(r.rows[0].children);
    if (tables > 0 || children > 0) {
      throw new CatalogError(
        'namespace-not-empty',
        `namespace ${namespace} is not empty (${tables} table(s) or view(s), ${children} child namespace(s)); drop them first`,
      );
    }
    const d = await this.db.query(`DELETE FROM iceberg_namespace_properties WHERE catalog_name = $1 AND namespace = $2`, [
      this.name,
      namespace,
    ]);
    return (d.rowCount ?? 0) > 0;
  }

  // ── tables ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Registers a table at its first metadata file (iceberg_type 'TABLE', as Java V1 writes it). Like
   * JdbcCatalog's default (non-strict) mode, the namespace need not have a properties row: a table's
   * row makes its namespace exist for every engine.
   */
  async createTable(id: TableIdentifier, metadataLocation: string, db: CatalogConnection = this.db): Promise<void> {
    this.checkIdentifier(id);
    this.checkLocation(id, metadataLocation);
    try {
      await db.query(
        `INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type)
         VALUES ($1, $2, $3, $4, NULL, '${TABLE_TYPE}')`,
        [this.name, id.namespace, id.name, metadataLocation],
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new CatalogError('table-exists', `table ${formatIdentifier(id)} already exists`);
      throw err;
    }
  }

  /** The table's current metadata location, or null when there is no such table. */
  async loadTable(id: TableIdentifier, db: CatalogConnection = this.db): Promise<CatalogTable | null> {
    this.checkIdentifier(id);
    const r = await db.query<{ metadata_location: string | null; previous_metadata_location: string | null }>(
      `SELECT metadata_location, previous_metadata_location FROM iceberg_tables
        WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 AND ${IS_TABLE}`,
      [this.name, id.namespace, id.name],
    );
    const row = r.rows[0];
    if (!row) return null;
    return { identifier: { ...id }, metadataLocation: row.metadata_location, previousMetadataLocation: row.previous_metadata_location };
  }

  async tableExists(id: TableIdentifier, db: CatalogConnection = this.db): Promise<boolean> {
    return (await this.loadTable(id, db)) !== null;
  }

  /** The tables (not views) of a namespace, sorted by name. */
  async listTables(namespace: string): Promise<TableIdentifier[]> {
    this.checkNamespace(namespace);
    const r = await this.db.query<{ table_name: string }>(
      `SELECT table_name FROM iceberg_tables
        WHERE catalog_name = $1 AND table_namespace = $2 AND ${IS_TABLE} ORDER BY table_name`,
      [this.name, namespace],
    );
    return r.rows.map((x) => ({ namespace, name: x.table_name }));
  }

  /** Removes the table from the catalog (its files are left alone). Returns false when it did not exist. */
  async dropTable(id: TableIdentifier, db: CatalogConnection = this.db): Promise<boolean> {
    this.checkIdentifier(id);
    const r = await db.query(
      `DELETE FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 AND ${IS_TABLE}`,
      [this.name, id.namespace, id.name],
    );
    return (r.rowCount ?? 0) > 0;
  }

  /** Renames (and possibly moves) a table; the target namespace must exist and the target name be free. */
  async renameTable(from: TableIdentifier, to: TableIdentifier): Promise<void> {
    this.checkIdentifier(from);
    this.checkIdentifier(to);
    if (!(await this.namespaceExists(to.namespace))) {
      throw new CatalogError('no-such-namespace', `cannot rename ${formatIdentifier(from)}: namespace ${to.namespace} does not exist`);
    }
    let updated: number;
    try {
      const r = await this.db.query(
        `UPDATE iceberg_tables SET table_namespace = $4, table_name = $5
          WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 AND ${IS_TABLE}`,
        [this.name, from.namespace, from.name, to.namespace, to.name],
      );
      updated = r.rowCount ?? 0;
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new CatalogError('table-exists', `cannot rename ${formatIdentifier(from)}: ${formatIdentifier(to)} already exists`);
      }
      throw err;
    }
    if (updated === 0) throw new CatalogError('no-such-table', `cannot rename ${formatIdentifier(from)}: no such table`);
  }

  /**
   * The commit: points the table at `next` only if it still points at `expected`, inside the caller's
   * open transaction (so the watermark and the run record move with it, or nothing does). `expected`
   * null means "the table does not exist yet" and registers it. Losing the race throws CommitConflict
   * with the location actually found.
   */
  async compareAndSetMetadataLocation(
    tx: CatalogConnection,
    id: TableIdentifier,
    change: { expected: string | null; next: string },
  ): Promise<void> {
    this.checkIdentifier(id);
    this.checkLocation(id, change.next);
    let changed: number;
    if (change.expected === null) {
      const r = await tx.query(
        `INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type)
         VALUES ($1, $2, $3, $4, NULL, '${TABLE_TYPE}')
         ON CONFLICT (catalog_name, table_namespace, table_name) DO NOTHING`,
        [this.name, id.namespace, id.name, change.next],
      );
      changed = r.rowCount ?? 0;
    } else {
      // The statement JdbcCatalog V1 commits with; under READ COMMITTED a concurrent committer's row lock
      // makes this wait, then re-check the WHERE against the winner's value and match nothing.
      const r = await tx.query(
        `UPDATE iceberg_tables SET metadata_location = $4, previous_metadata_location = $5
          WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 AND metadata_location = $5 AND ${IS_TABLE}`,
        [this.name, id.namespace, id.name, change.next, change.expected],
      );
      changed = r.rowCount ?? 0;
    }
    if (changed === 1) return;
    const actual = await tx.query<{ metadata_location: string | null }>(
      `SELECT metadata_location FROM iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3`,
      [this.name, id.namespace, id.name],
    );
    throw new CommitConflict(formatIdentifier(id), change.expected, actual.rows[0]?.metadata_location ?? null);
  }
}
