// What the two sides of a per-partition checksum compare, from the table's Iceberg schema and spec and the
// ClickHouse columns it is offloaded from: the columns both have (in the Iceberg schema's order, which the
// DuckDB side uses too) and the spec's fields over their ClickHouse source columns.
import type { ChecksumColumn, ChecksumPartitionField, ChecksumTransform } from '../clickhouse/checksum.js';
import { SchemaError } from '../core/errors.js';
import type { PartitionSpec, Schema } from '../iceberg/types.js';

const TRANSFORMS: readonly string[] = ['identity', 'year', 'month', 'day', 'hour', 'void'];

export interface ChecksumShape {
  columns: ChecksumColumn[];
  /** Iceberg columns the source lacks (left out of both sides). */
  skippedColumns: string[];
  partitionBy: ChecksumPartitionField[];
}

/** `sourceTypes`: the ClickHouse type of each source column by name (system.columns, or DESCRIBE of a query). */
export function checksumShape(schema: Schema, spec: PartitionSpec, sourceTypes: ReadonlyMap<string, string>): ChecksumShape {
  const columns: ChecksumColumn[] = [];
  const skippedColumns: string[] = [];
  for (const f of schema.fields) {
    const type = sourceTypes.get(f.name);
    if (type === undefined) skippedColumns.push(f.name);
    else columns.push({ name: f.name, type });
  }
  const partitionBy = spec.fields.map((pf): ChecksumPartitionField => {
    const source = schema.fields.find((f) => f.id === pf['source-id']);
    const type = source && sourceTypes.get(source.name);
    if (!source || type === undefined) throw new SchemaError(`partition field ${pf.name}: its source column is not in the ClickHouse rows`);
    if (!TRANSFORMS.includes(pf.transform))
      throw new SchemaError(`partition field ${pf.name}: transform ${pf.transform} has no ClickHouse counterpart here`);
    return { transform: pf.transform as ChecksumTransform, column: source.name, type };
  });
  return { columns, skippedColumns, partitionBy };
}
