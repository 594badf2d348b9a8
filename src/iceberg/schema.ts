// Iceberg schemas on their own: fresh field ids, type equality and text, field lookup, and the DuckDB type
// each Iceberg type is written as. Where the fields come from (ClickHouse columns) is mapping/'s business.
import { SchemaError } from '../core/errors.js';
import type { IcebergType, NestedField, StructType } from './types.js';

/**
 * Numbers every field, list element and map key/value, the way Iceberg's reference implementations
 * assign fresh ids: a struct's fields first, then each field's nested types, depth-first.
 */
export function assignFreshIds(fields: NestedField[], firstId: number): { fields: NestedField[]; lastId: number } {
  let next = firstId;
  const visitType = (t: IcebergType): IcebergType => {
    if (typeof t === 'string') return t;
    if (t.type === 'list') {
      const id = next++;
      return { ...t, 'element-id': id, element: visitType(t.element) };
    }
    if (t.type === 'map') {
      const keyId = next++;
      const valueId = next++;
      return { ...t, 'key-id': keyId, key: visitType(t.key), 'value-id': valueId, value: visitType(t.value) };
    }
    return { ...t, fields: visitStruct(t.fields) };
  };
  const visitStruct = (fs: NestedField[]): NestedField[] => {
    const ids = fs.map(() => next++);
    return fs.map((f, i) => ({ ...f, id: ids[i], type: visitType(f.type) }));
  };
  const result = visitStruct(fields);
  return { fields: result, lastId: next - 1 };
}

/** The highest field id used anywhere in a schema (nested ids included). */
export function highestFieldId(schema: { fields: NestedField[] }): number {
  let max = 0;
  const visitType = (t: IcebergType): void => {
    if (typeof t === 'string') return;
    if (t.type === 'list') {
      max = Math.max(max, t['element-id']);
      visitType(t.element);
    } else if (t.type === 'map') {
      max = Math.max(max, t['key-id'], t['value-id']);
      visitType(t.key);
      visitType(t.value);
    } else visitFields(t.fields);
  };
  const visitFields = (fs: NestedField[]): void => {
    for (const f of fs) {
      max = Math.max(max, f.id);
      visitType(f.type);
    }
  };
  visitFields(schema.fields);
  return max;
}

/** Structural type equality, ignoring field ids and docs. */
export function sameIcebergType(a: IcebergType, b: IcebergType): boolean {
  if (typeof a === 'string' || typeof b === 'string') {
    return typeof a === 'string' && typeof b === 'string' && a.replace(/\s+/g, '') === b.replace(/\s+/g, '');
  }
  if (a.type === 'list' && b.type === 'list')
    return a['element-required'] === b['element-required'] && sameIcebergType(a.element, b.element);
  if (a.type === 'map' && b.type === 'map')
    return a['value-required'] === b['value-required'] && sameIcebergType(a.key, b.key) && sameIcebergType(a.value, b.value);
  if (a.type === 'struct' && b.type === 'struct')
    return (
      a.fields.length === b.fields.length &&
      a.fields.every(
        (f, i) => f.name === b.fields[i].name && f.required === b.fields[i].required && sameIcebergType(f.type, b.fields[i].type),
      )
    );
  return false;
}

export function formatIcebergType(t: IcebergType): string {
  if (typeof t === 'string') return t;
  if (t.type === 'list') return `list<${formatIcebergType(t.element)}>`;
  if (t.type === 'map') return `map<${formatIcebergType(t.key)}, ${formatIcebergType(t.value)}>`;
  return `struct<${t.fields.map((f) => `${f.name}: ${formatIcebergType(f.type)}`).join(', ')}>`;
}

// ---------------------------------------------------------------------------------------------
// DuckDB: the physical type each Iceberg type is written as in Parquet, and the FIELD_IDS option.

function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The DuckDB type whose Parquet encoding is the one Iceberg expects for `t`. */
export function duckdbType(t: IcebergType): string {
  if (typeof t === 'string') {
    const dec = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(t);
    if (dec) return `DECIMAL(${dec[1]},${dec[2]})`;
    if (/^fixed\[\d+\]$/.test(t)) return 'BLOB';
    switch (t) {
      case 'boolean':
        return 'BOOLEAN';
      case 'int':
        return 'INTEGER';
      case 'long':
        return 'BIGINT';
      case 'float':
        return 'FLOAT';
      case 'double':
        return 'DOUBLE';
      case 'date':
        return 'DATE';
      case 'time':
        return 'TIME';
      case 'timestamp':
        return 'TIMESTAMP'; // Parquet isAdjustedToUTC=false
      case 'timestamptz':
        return 'TIMESTAMPTZ'; // Parquet isAdjustedToUTC=true
      case 'string':
        return 'VARCHAR';
      case 'uuid':
        return 'UUID';
      case 'binary':
        return 'BLOB';
    }
    throw new SchemaError(`Iceberg type ${t} has no DuckDB equivalent`);
  }
  if (t.type === 'list') return `${duckdbType(t.element)}[]`;
  if (t.type === 'map') return `MAP(${duckdbType(t.key)}, ${duckdbType(t.value)})`;
  return `STRUCT(${t.fields.map((f) => `${sqlIdentifier(f.name)} ${duckdbType(f.type)}`).join(', ')})`;
}

/**
 * The value of DuckDB's `COPY … (FORMAT parquet, FIELD_IDS …)` option for a schema, nested ids
 * included, e.g. `{'price': 5, 'tags': {'__duckdb_field_id': 9, 'element': 10}}`.
 */
export function duckdbFieldIds(schema: { fields: NestedField[] }): string {
  const nested = (id: number, t: IcebergType): string => {
    if (typeof t === 'string') return String(id);
    const parts = [`'__duckdb_field_id': ${id}`];
    if (t.type === 'list') parts.push(`'element': ${nested(t['element-id'], t.element)}`);
    else if (t.type === 'map') parts.push(`'key': ${nested(t['key-id'], t.key)}`, `'value': ${nested(t['value-id'], t.value)}`);
    else for (const f of t.fields) parts.push(`${sqlString(f.name)}: ${nested(f.id, f.type)}`);
    return `{${parts.join(', ')}}`;
  };
  return `{${schema.fields.map((f) => `${sqlString(f.name)}: ${nested(f.id, f.type)}`).join(', ')}}`;
}

/** Finds a field by dotted path through structs (`a.b`), as partition specs name their sources. */
export function findField(schema: { fields: NestedField[] }, path: string): NestedField | undefined {
  const direct = schema.fields.find((f) => f.name === path);
  if (direct) return direct;
  const dot = path.indexOf('.');
  if (dot < 0) return undefined;
  const head = schema.fields.find((f) => f.name === path.slice(0, dot));
  if (!head || typeof head.type === 'string' || head.type.type !== 'struct') return undefined;
  return findField(head.type as StructType, path.slice(dot + 1));
}

/** Finds a field by id anywhere in the schema. */
export function findFieldById(schema: { fields: NestedField[] }, id: number): NestedField | undefined {
  for (const f of schema.fields) {
    if (f.id === id) return f;
    if (typeof f.type !== 'string' && f.type.type === 'struct') {
      const inner = findFieldById(f.type, id);
      if (inner) return inner;
    }
  }
  return undefined;
}
