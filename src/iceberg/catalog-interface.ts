// The catalog as the offload protocol needs it, with two implementations chosen by configuration
// (config/catalog.ts): the JDBC catalog in the state database and an Iceberg REST catalog.
//
// They differ in one way that shapes the commit step, so the type says it (`kind`):
// - `jdbc`: the commit is a compare-and-set of the metadata pointer INSIDE the caller's PostgreSQL
//   transaction, next to the watermark and the run record: all move together or nothing does. It
//   points the catalog at the metadata file the stage step wrote.
// - `rest`: the commit is an HTTP request to another system. The server applies the staged snapshot
//   (our manifests and manifest list) as updates and writes its own metadata file; our staged
//   metadata file is not used. The watermark and run are recorded after it, and the snapshot summary
//   (offload.run-id, offload.watermark) is the truth recovery reconciles them with (docs/rest-catalog.md).
import type { CatalogSettings } from '../config/catalog.js';
import { CatalogError, type CatalogConnection, type JdbcCatalog } from './catalog.js';
import type { FileIO } from './io.js';
import { RestCatalog, type RestCatalogOptions } from './rest-catalog.js';
import type { StagedCommit, Table } from './snapshot-producer.js';
import { commitStaged, createTable, loadTable, readTableAt } from './table.js';
import type { PartitionSpec, Schema, TableIdentifier } from './types.js';
import { formatIdentifier } from './types.js';

/** A table to create. */
export interface NewTable {
  schema: Schema;
  spec: PartitionSpec;
  /** Default: the catalog's (JDBC: `<warehouse>/<ns levels>/<name>`; REST: the server's choice). */
  location?: string;
  properties?: Record<string, string>;
}

/** What both catalogs offer besides the commit. */
export interface CatalogOperations {
  /** For messages and `status`: which catalog, never a secret. */
  readonly description: string;
  ensureNamespace(namespace: string, properties?: Record<string, string>): Promise<boolean>;
  listNamespaces(): Promise<string[]>;
  listTables(namespace: string): Promise<TableIdentifier[]>;
  /** The table's current version, or null when there is no such table. */
  loadTable(ident: TableIdentifier): Promise<Table | null>;
  /** CatalogError 'table-exists' when it exists. The returned table's schema ids are the ones to write data with. */
  createTable(ident: TableIdentifier, table: NewTable): Promise<Table>;
  /** Forgets the table (its files stay). Returns false when it did not exist. */
  dropTable(ident: TableIdentifier): Promise<boolean>;
}

/** The JDBC catalog: commits join the caller's transaction in the state database. */
export interface TransactionalCatalog extends CatalogOperations {
  readonly kind: 'jdbc';
  /** Points the table from `base` at `staged.next` inside `tx`. CommitConflict when it moved on. */
  commit(tx: CatalogConnection, base: Table, staged: StagedCommit): Promise<Table>;
}

/** A new version of a table: a StagedCommit, or any change made with the metadata builders (expiry, properties). */
export type NextVersion = Pick<StagedCommit, 'ident' | 'metadata'>;

/** A catalog in another system: each commit is atomic on its own, never part of a state transaction. */
export interface RemoteCatalog extends CatalogOperations {
  readonly kind: 'rest';
  /**
   * Applies `next` if the table is still at `base`. CommitConflict: it moved on, nothing was applied
   * (restage on the new version). CommitOutcomeUnknown: it may have been applied — resolve with
   * `commitOutcome` on a freshly loaded table before anything else.
   */
  commit(base: Table, next: NextVersion): Promise<Table>;
}

export type OffloadCatalog = TransactionalCatalog | RemoteCatalog;

/** The project's JDBC catalog behind the interface: table.ts does the work, with the FileIO for metadata files. */
export class JdbcTableCatalog implements TransactionalCatalog {
  readonly kind = 'jdbc' as const;

  constructor(
    readonly catalog: JdbcCatalog,
    private readonly io: FileIO,
    /** Where tables go when no location is given, e.g. `s3://bucket/iceberg`. */
    private readonly warehouse: string,
  ) {}

  get description(): string {
    return `JDBC catalog ${this.catalog.name} in the state database`;
  }

  ensureNamespace(namespace: string, properties: Record<string, string> = {}): Promise<boolean> {
    return this.catalog.ensureNamespace(namespace, properties);
  }

  listNamespaces(): Promise<string[]> {
    return this.catalog.listNamespaces();
  }

  listTables(namespace: string): Promise<TableIdentifier[]> {
    return this.catalog.listTables(namespace);
  }

  async loadTable(ident: TableIdentifier): Promise<Table | null> {
    const row = await this.catalog.loadTable(ident);
    if (!row) return null;
    if (!row.metadataLocation) return loadTable(this.catalog, this.io, ident); // its error names the half-made row
    return readTableAt(this.io, ident, row.metadataLocation);
  }

  createTable(ident: TableIdentifier, table: NewTable): Promise<Table> {
    return createTable(this.catalog, this.io, ident, { ...table, warehouse: this.warehouse });
  }

  dropTable(ident: TableIdentifier): Promise<boolean> {
    return this.catalog.dropTable(ident);
  }

  async commit(tx: CatalogConnection, base: Table, staged: StagedCommit): Promise<Table> {
    if (base.metadataLocation !== staged.base)
      throw new CatalogError(
        'invalid',
        `${formatIdentifier(staged.ident)}: the staged change was built on ${staged.base}, not on ${base.metadataLocation}`,
      );
    return commitStaged(tx, this.catalog, staged);
  }
}

/**
 * Whether `current` (the table reloaded after a commit whose outcome is unknown) holds the staged change:
 * its snapshot (ids are random 63-bit numbers, so only this commit can have added it), or for a schema
 * change the staged current schema. 'not-committed' means the same change may be committed again.
 */
export function commitOutcome(current: Table | null, staged: StagedCommit): 'committed' | 'not-committed' {
  if (!current) return 'not-committed';
  if (staged.snapshotId !== null)
    return current.metadata.snapshots.some((s) => s['snapshot-id'] === staged.snapshotId) ? 'committed' : 'not-committed';
  const wanted = staged.metadata.schemas.find((s) => s['schema-id'] === staged.metadata['current-schema-id']);
  const has = current.metadata.schemas.find((s) => s['schema-id'] === current.metadata['current-schema-id']);
  return wanted && has && JSON.stringify(wanted.fields) === JSON.stringify(has.fields) ? 'committed' : 'not-committed';
}

export interface CatalogDependencies {
  /** The JDBC catalog over the state database's pool (used when the settings say jdbc). */
  jdbc: () => JdbcCatalog;
  io: FileIO;
  warehouse: string;
  rest?: RestCatalogOptions;
}

/** The catalog the settings choose; a REST catalog is asked for its configuration first. */
export async function openCatalog(settings: CatalogSettings, deps: CatalogDependencies): Promise<OffloadCatalog> {
  if (settings.kind === 'jdbc') return new JdbcTableCatalog(deps.jdbc(), deps.io, deps.warehouse);
  return RestCatalog.connect(settings, deps.rest);
}
