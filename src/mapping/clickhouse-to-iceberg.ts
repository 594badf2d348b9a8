// ClickHouse column types → Iceberg fields (docs/architecture.md "Type mapping"): one column, a whole
// table's schema, and schema evolution for columns added at the source. The one place that knows both
// type systems; clickhouse/ and iceberg/ know nothing of each other.
import { parseClickHouseType, type ClickHouseType, type ColumnInfo } from '../clickhouse/types.js';
import { SchemaError } from '../core/errors.js';
import { assignFreshIds, duckdbType, formatIcebergType, highestFieldId, sameIcebergType } from '../iceberg/schema.js';
import type { IcebergType, NestedField, PrimitiveType, Schema } from '../iceberg/types.js';

// Ids are placeholders (0) until assignFreshIds numbers the whole tree.

interface Mapped {
  type: IcebergType;
  required: boolean;
  /** Lossy conversions, said in the field's doc. */
  notes: string[];
}

const SUPPORTED =
  'String, FixedString, Enum8/16, LowCardinality, Int8-64, UInt8-64, Float32/64, Decimal*, Date, Date32, DateTime, DateTime64, UUID, Bool, Nullable, Array, Map, Tuple';

class Unsupported extends Error {}

const primitive = (type: PrimitiveType, notes: string[] = []): Mapped => ({ type, required: true, notes });

function decimal(precision: number, scale: number, what: string): Mapped {
  if (!Number.isInteger(precision) || precision < 1 || precision > 38)
    throw new Unsupported(`${what}: Iceberg decimals hold at most 38 digits (precision ${precision})`);
  if (!Number.isInteger(scale) || scale < 0 || scale > precision)
    throw new Unsupported(`${what}: scale ${scale} is outside 0..${precision}`);
  return primitive(`decimal(${precision}, ${scale})`);
}

function numberArg(t: ClickHouseType, i: number): number {
  const a = t.args[i];
  if (a?.kind !== 'number') throw new Unsupported(`${t.name} expects a number as argument ${i + 1}`);
  return a.value;
}

function typeArg(t: ClickHouseType, i: number): ClickHouseType {
  const a = t.args[i];
  if (a?.kind !== 'type') throw new Unsupported(`${t.name} expects a type as argument ${i + 1}`);
  return a.type;
}

function arity(t: ClickHouseType, n: number): void {
  if (t.args.length !== n) throw new Unsupported(`${t.name} takes ${n} argument${n === 1 ? '' : 's'}`);
}

function mapClickHouseType(t: ClickHouseType): Mapped {
  switch (t.name) {
    case 'String':
      arity(t, 0);
      return primitive('string');
    case 'FixedString':
      arity(t, 1);
      return primitive('string');
    case 'Enum8':
    case 'Enum16':
      if (t.args.length === 0 || t.args.some((a) => a.kind !== 'enum')) throw new Unsupported(`${t.name} expects 'name' = value pairs`);
      return primitive('string');
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'UInt8':
    case 'UInt16':
      arity(t, 0);
      return primitive('int');
    case 'Int64':
    case 'UInt32':
      arity(t, 0);
      return primitive('long');
    case 'UInt64':
      // Iceberg has no unsigned long: decimal(20, 0) holds every UInt64 without wrapping.
      arity(t, 0);
      return primitive('decimal(20, 0)');
    case 'Float32':
      arity(t, 0);
      return primitive('float');
    case 'Float64':
      arity(t, 0);
      return primitive('double');
    case 'Decimal':
      if (t.args.length === 1) return decimal(numberArg(t, 0), 0, 'Decimal');
      arity(t, 2);
      return decimal(numberArg(t, 0), numberArg(t, 1), 'Decimal');
    case 'Decimal32':
      arity(t, 1);
      return decimal(9, numberArg(t, 0), t.name);
    case 'Decimal64':
      arity(t, 1);
      return decimal(18, numberArg(t, 0), t.name);
    case 'Decimal128':
      arity(t, 1);
      return decimal(38, numberArg(t, 0), t.name);
    case 'Date':
    case 'Date32':
      arity(t, 0);
      return primitive('date');
    case 'DateTime':
      if (t.args.length > 1 || (t.args.length === 1 && t.args[0].kind !== 'string'))
        throw new Unsupported("DateTime takes an optional 'time zone'");
      return primitive('timestamptz');
    case 'DateTime64': {
      if (t.args.length < 1 || t.args.length > 2 || (t.args.length === 2 && t.args[1].kind !== 'string'))
        throw new Unsupported("DateTime64 takes a precision and an optional 'time zone'");
      const precision = numberArg(t, 0);
      if (precision < 0 || precision > 9) throw new Unsupported(`DateTime64 precision ${precision} is outside 0..9`);
      const notes =
        precision > 6
          ? [
              `ClickHouse DateTime64(${precision}): stored in microseconds, the last ${precision - 6} digit(s) of sub-second precision are truncated`,
            ]
          : [];
      return primitive('timestamptz', notes);
    }
    case 'UUID':
      arity(t, 0);
      return primitive('uuid');
    case 'Bool':
      arity(t, 0);
      return primitive('boolean');
    case 'Nullable': {
      arity(t, 1);
      const inner = mapClickHouseType(typeArg(t, 0));
      return { ...inner, required: false };
    }
    case 'LowCardinality':
      // Dictionary encoding only: the values are those of the inner type.
      arity(t, 1);
      return mapClickHouseType(typeArg(t, 0));
    case 'Array': {
      arity(t, 1);
      const element = mapClickHouseType(typeArg(t, 0));
      return {
        type: { type: 'list', 'element-id': 0, element: element.type, 'element-required': element.required },
        required: true,
        notes: element.notes,
      };
    }
    case 'Map': {
      arity(t, 2);
      const key = mapClickHouseType(typeArg(t, 0));
      const value = mapClickHouseType(typeArg(t, 1));
      if (typeof key.type !== 'string' || !key.required) throw new Unsupported('Map keys must be a non-nullable primitive type');
      return {
        type: { type: 'map', 'key-id': 0, key: key.type, 'value-id': 0, value: value.type, 'value-required': value.required },
        required: true,
        notes: [...key.notes, ...value.notes],
      };
    }
    case 'Tuple': {
      if (t.args.length === 0) throw new Unsupported('Tuple needs at least one element');
      const fields: NestedField[] = t.args.map((a, i) => {
        if (a.kind !== 'named' && a.kind !== 'type') throw new Unsupported('Tuple elements must be types');
        const m = mapClickHouseType(a.type);
        return field(a.kind === 'named' ? a.name : `_${i + 1}`, m);
      });
      const names = new Set(fields.map((f) => f.name));
      if (names.size !== fields.length) throw new Unsupported('Tuple element names must be unique');
      return { type: { type: 'struct', fields }, required: true, notes: [] };
    }
    default:
      throw new Unsupported(`${t.name} has no Iceberg equivalent`);
  }
}

function field(name: string, m: Mapped): NestedField {
  const f: NestedField = { id: 0, name, required: m.required, type: m.type };
  if (m.notes.length > 0) f.doc = m.notes.join('; ');
  return f;
}

/** Maps one ClickHouse column to an Iceberg field (id 0 everywhere: see assignFreshIds). */
export function icebergFieldFromColumn(table: string, column: ColumnInfo): NestedField {
  let parsed: ClickHouseType;
  try {
    parsed = parseClickHouseType(column.type);
  } catch (err) {
    throw new SchemaError(`${table}: column "${column.name}" has type ${column.type}, which cannot be parsed (${(err as Error).message})`);
  }
  try {
    return field(column.name, mapClickHouseType(parsed));
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
    throw new SchemaError(
      `${table}: column "${column.name}" has ClickHouse type ${column.type}, which cannot be stored in Iceberg: ${err.message}.\n  Supported: ${SUPPORTED}.`,
    );
  }
}

/** The Iceberg schema of a ClickHouse table. Field ids start at 1. */
export function icebergSchemaFromColumns(table: string, columns: ColumnInfo[], opts: { schemaId?: number } = {}): Schema {
  if (columns.length === 0) throw new SchemaError(`${table}: has no columns`);
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name)) throw new SchemaError(`${table}: column "${c.name}" appears twice`);
    seen.add(c.name);
  }
  const { fields } = assignFreshIds(
    columns.map((c) => icebergFieldFromColumn(table, c)),
    1,
  );
  return { type: 'struct', 'schema-id': opts.schemaId ?? 0, fields };
}

export interface SchemaEvolution {
  /** The schema to use from now on (the same object as `current` when nothing changed). */
  schema: Schema;
  /** Columns new at the source, with their new ids (always optional: old files read them as null). */
  added: NestedField[];
  /** Columns that became Nullable at the source: required → optional, an allowed Iceberg change. */
  madeOptional: NestedField[];
}

/** The DuckDB type a column's values are written as: its Iceberg field's (SchemaError when it has none). */
export function duckdbTypeOfColumn(table: string, column: ColumnInfo): string {
  return duckdbType(icebergFieldFromColumn(table, column).type);
}

/**
 * Brings `current` in line with the source columns: keeps every existing id, appends new columns
 * with ids above `lastColumnId` (the table's last-column-id). A column dropped or retyped at the
 * source cannot be followed without rewriting data, so it is a SchemaError.
 */
export function evolveSchema(
  current: Schema,
  columns: ColumnInfo[],
  table: string,
  lastColumnId: number = highestFieldId(current),
): SchemaEvolution {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const missing = current.fields.filter((f) => !byName.has(f.name)).map((f) => f.name);
  if (missing.length > 0)
    throw new SchemaError(
      `${table}: column${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')} of the Iceberg table ${missing.length > 1 ? 'are' : 'is'} no longer in the source; dropping columns is not supported (the Iceberg table keeps them).`,
    );

  const existing = new Map(current.fields.map((f) => [f.name, f]));
  const fields: NestedField[] = [];
  const madeOptional: NestedField[] = [];
  const fresh: NestedField[] = [];
  for (const f of current.fields) {
    const now = icebergFieldFromColumn(table, byName.get(f.name)!);
    if (!sameIcebergType(f.type, now.type))
      throw new SchemaError(
        `${table}: column "${f.name}" changed type at the source (Iceberg has ${formatIcebergType(f.type)}, the source now maps to ${formatIcebergType(now.type)} from ${byName.get(f.name)!.type}); retyping a column is not supported.`,
      );
    if (f.required && !now.required) {
      const relaxed = { ...f, required: false };
      madeOptional.push(relaxed);
      fields.push(relaxed);
    } else fields.push(f);
  }
  for (const c of columns) if (!existing.has(c.name)) fresh.push({ ...icebergFieldFromColumn(table, c), required: false });

  if (fresh.length === 0 && madeOptional.length === 0) return { schema: current, added: [], madeOptional: [] };
  const { fields: added } = assignFreshIds(fresh, lastColumnId + 1);
  const schema: Schema = { ...current, 'schema-id': current['schema-id'] + 1, fields: [...fields, ...added] };
  return { schema, added, madeOptional };
}
