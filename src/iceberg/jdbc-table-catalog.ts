// The JDBC catalog behind the Catalog interface (catalog.ts): tables are rows of the state database
// pointing at metadata files we write; a commit is the compare-and-set of that pointer on the connection
// handed in — the state store's transaction, so data and watermark commit together (docs/architecture.md,
// step 8 commit). The pointer store is a PointerCatalog (JdbcCatalog; in memory in the batch loop's unit test).
import { CatalogError, type Catalog, type CatalogConnection, type NewTable, type PointerCatalog, type TableVersion } from './catalog.js';
import type { FileIO } from './io.js';
import type { Table } from './snapshot-producer.js';
import { createTable, loadTable, readTableAt } from './table.js';
import { formatIdentifier, type TableIdentifier } from './types.js';

export class JdbcTableCatalog implements Catalog {
  readonly kind = 'jdbc' as const;

  constructor(
    readonly pointers: PointerCatalog,
    private readonly io: FileIO,
    /**
     * Where new tables go, e.g. `s3://bucket/iceberg` (a table at `<warehouse>/<namespace levels>/<name>`); a
     * function is asked only when a table is created (a missing setting then fails that, not every command).
     */
    private readonly warehouse: string | (() => string),
    /** The connection used when a commit is given none (each statement commits on its own). */
    private readonly db?: CatalogConnection,
  ) {}

  get name(): string {
    return this.pointers.name;
  }

  get description(): string {
    return `JDBC catalog ${this.pointers.name} in the state database`;
  }

  tableExists(id: TableIdentifier): Promise<boolean> {
    return this.pointers.tableExists(id);
  }

  async loadTable(id: TableIdentifier): Promise<Table | null> {
    const row = await this.pointers.loadTable(id);
    if (!row) return null;
    // A row without a location (left half-made by another engine): loadTable's error names it.
    if (!row.metadataLocation) return loadTable(this.pointers, this.io, id);
    return readTableAt(this.io, id, row.metadataLocation);
  }

  ensureNamespace(namespace: string): Promise<boolean> {
    return this.pointers.ensureNamespace(namespace);
  }

  createTable(id: TableIdentifier, table: NewTable): Promise<Table> {
    if (table.location) return createTable(this.pointers, this.io, id, table);
    const warehouse = typeof this.warehouse === 'string' ? this.warehouse : this.warehouse();
    return createTable(this.pointers, this.io, id, { ...table, warehouse });
  }

  async commit(version: TableVersion, tx?: CatalogConnection): Promise<Table> {
    const name = formatIdentifier(version.ident);
    if (version.next === null) throw new CatalogError('invalid', `${name}: the JDBC catalog commits a version with its metadata file`);
    const connection = tx ?? this.db;
    if (!connection) throw new CatalogError('invalid', `${name}: a JDBC catalog commit needs a connection`);
    await this.pointers.compareAndSetMetadataLocation(connection, version.ident, {
      expected: version.baseTable.metadataLocation,
      next: version.next,
    });
    return { ident: { ...version.ident }, metadataLocation: version.next, metadata: version.metadata };
  }

  listNamespaces(): Promise<string[]> {
    return this.listing('listNamespaces')();
  }

  listTables(namespace: string): Promise<TableIdentifier[]> {
    return this.listing('listTables')(namespace);
  }

  dropTable(id: TableIdentifier): Promise<boolean> {
    return this.listing('dropTable')(id);
  }

  dropNamespace(namespace: string): Promise<boolean> {
    return this.listing('dropNamespace')(namespace);
  }

  private listing<K extends 'listNamespaces' | 'listTables' | 'dropTable' | 'dropNamespace'>(op: K): NonNullable<PointerCatalog[K]> {
    const fn = this.pointers[op];
    if (!fn) throw new CatalogError('invalid', `catalog ${this.name} cannot ${op}`);
    return fn.bind(this.pointers) as NonNullable<PointerCatalog[K]>;
  }
}
