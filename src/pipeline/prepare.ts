// The Iceberg table a configured table's batches go to, before the first batch is planned: created on the
// first offload (schema from the source's columns, partition spec from the configuration), and following
// columns added at the source afterwards (schema evolution, a catalog commit of its own that adds no
// snapshot, so the current snapshot and its watermark stay as they are).
import type { TableConfig } from '../config/tables.js';
import type { ColumnInfo } from '../clickhouse/types.js';
import { CatalogError, type Catalog, type NewTable } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { currentSchema } from '../iceberg/metadata.js';
import { partitionSpecFromConfig } from '../iceberg/partition.js';
import { commitToCatalog, stageSchemaChange, type Table } from '../iceberg/table.js';
import type { TableIdentifier } from '../iceberg/types.js';
import { evolveSchema, icebergSchemaFromColumns } from '../mapping/clickhouse-to-iceberg.js';
import type { StateStore } from '../state/store.js';
import type { OffloadEvents } from './events.js';

/** The Iceberg identifier a configured table offloads to. */
export function tableIdentifier(cfg: TableConfig): TableIdentifier {
  return { namespace: cfg.targetNamespace.join('.'), name: cfg.targetTable };
}

/** Creates the Iceberg table on the first run; follows columns added at the source (schema evolution, its own commit). */
export async function prepareTable(
  cfg: TableConfig,
  deps: { state: StateStore; catalog: Catalog; io: FileIO },
  table: Table | null,
  columns: ColumnInfo[],
  events: OffloadEvents,
): Promise<Table> {
  const what = cfg.query ? `the query of ${cfg.name}` : cfg.source!;
  if (!table) {
    const schema = icebergSchemaFromColumns(what, columns);
    const spec = partitionSpecFromConfig(schema, cfg.partitionBy, { where: `${cfg.name}.partitionBy` });
    events.emit({ kind: 'log', table: cfg.name, level: 'info', message: `creating Iceberg table ${cfg.target}` });
    return createOrLoadTable(deps.catalog, tableIdentifier(cfg), { schema, spec });
  }
  const evolution = evolveSchema(currentSchema(table.metadata), columns, what, table.metadata['last-column-id']);
  if (evolution.added.length === 0 && evolution.madeOptional.length === 0) return table;
  events.emit({
    kind: 'log',
    table: cfg.name,
    level: 'info',
    message: `schema evolution of ${cfg.target}: ${[...evolution.added.map((f) => `+${f.name}`), ...evolution.madeOptional.map((f) => `${f.name} optional`)].join(', ')}`,
  });
  // A schema change adds no snapshot: the current snapshot (and its watermark) stays as it is.
  const isJdbc = deps.catalog.kind === 'jdbc';
  const staged = await stageSchemaChange(
    table,
    deps.io,
    {
      addColumns: evolution.added.map((f) => ({ name: f.name, type: f.type, ...(f.doc ? { doc: f.doc } : {}) })),
      makeOptional: evolution.madeOptional.map((f) => f.name),
    },
    { metadataFile: isJdbc },
  );
  // The JDBC catalog's compare-and-set on the state database outside any transaction: atomic by itself.
  return commitToCatalog(deps.catalog, deps.io, staged, isJdbc ? { tx: deps.state.connection } : {});
}

/** Creates the table, or loads it when another worker created it meanwhile. */
async function createOrLoadTable(catalog: Catalog, ident: TableIdentifier, table: NewTable): Promise<Table> {
  await catalog.ensureNamespace(ident.namespace);
  try {
    return await catalog.createTable(ident, table);
  } catch (err) {
    const existing = err instanceof CatalogError && err.reason === 'table-exists' ? await catalog.loadTable(ident) : null;
    if (existing) return existing;
    throw err;
  }
}
