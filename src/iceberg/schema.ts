// ClickHouse column types → Iceberg schema (DESIGN.md "Type mapping"), schema evolution for columns
// added at the source, and the DuckDB type each Iceberg type is written as.
import { SchemaError } from '../core/errors.js';
import type { IcebergType, NestedField, PrimitiveType, Schema, StructType } from './types.js';

export interface SourceColumn {
  name: string;
  /** The ClickHouse type as system.columns prints it, e.g. `LowCardinality(Nullable(String))`. */
  type: string;
}

// ---------------------------------------------------------------------------------------------
// ClickHouse type strings. Parsed into a tree so commas and parentheses inside Enum names or
// time-zone literals never split a type.

export type ClickHouseTypeArg =
  | { kind: 'type'; type: ClickHouseType }
  | { kind: 'named'; name: string; type: ClickHouseType } // Tuple(a String, …)
  | { kind: 'string'; value: string } // 'UTC'
  | { kind: 'number'; value: number } // 3
  | { kind: 'enum'; name: string; value: number }; // 'BUY' = 1

export interface ClickHouseType {
  name: string;
  args: ClickHouseTypeArg[];
}

type Token =
  | { t: 'ident'; v: string; quoted: boolean }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'punct'; v: '(' | ')' | ',' | '=' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',' || c === '=') {
      tokens.push({ t: 'punct', v: c });
      i++;
    } else if (c === "'" || c === '`' || c === '"') {
      // ClickHouse escapes a quote inside a literal as \' or as a doubled quote.
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`unterminated ${c}…${c} literal`);
        const d = text[i];
        if (d === '\\' && i + 1 < text.length) {
          const e = text[i + 1];
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e === '0' ? '\0' : e;
          i += 2;
        } else if (d === c && text[i + 1] === c) {
          v += c;
          i += 2;
        } else if (d === c) {
          i++;
          break;
        } else {
          v += d;
          i++;
        }
      }
      tokens.push(c === "'" ? { t: 'string', v } : { t: 'ident', v, quoted: true });
    } else if (/[-+0-9]/.test(c)) {
      const m = /^[-+]?\d+/.exec(text.slice(i));
      if (!m) throw new Error(`unexpected "${c}" at offset ${i}`);
      tokens.push({ t: 'number', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))!;
      tokens.push({ t: 'ident', v: m[0], quoted: false });
      i += m[0].length;
    } else {
      throw new Error(`unexpected "${c}" at offset ${i}`);
    }
  }
  return tokens;
}

/** Parses e.g. `LowCardinality(Nullable(String))`, `Enum8('a,b' = 1)`, `Tuple(a String, b UInt8)`. Throws Error on bad syntax. */
export function parseClickHouseType(text: string): ClickHouseType {
  const tokens = tokenize(text);
  let pos = 0;
  const isPunct = (tok: Token | undefined, v: string): boolean => tok !== undefined && tok.t === 'punct' && tok.v === v;

  const parseType = (): ClickHouseType => {
    const tok = tokens[pos++];
    if (!tok || tok.t !== 'ident' || tok.quoted) throw new Error('expected a type name');
    const type: ClickHouseType = { name: tok.v, args: [] };
    if (!isPunct(tokens[pos], '(')) return type;
    pos++;
    if (isPunct(tokens[pos], ')')) {
      pos++;
      return type;
    }
    for (;;) {
      type.args.push(parseArg());
      const sep = tokens[pos++];
      if (isPunct(sep, ')')) return type;
      if (!isPunct(sep, ',')) throw new Error('expected "," or ")"');
    }
  };

  const parseArg = (): ClickHouseTypeArg => {
    const tok = tokens[pos];
    if (!tok) throw new Error('unexpected end of type');
    if (tok.t === 'string') {
      pos++;
      if (!isPunct(tokens[pos], '=')) return { kind: 'string', value: tok.v };
      pos++;
      const n = tokens[pos++];
      if (!n || n.t !== 'number') throw new Error('expected a number after "="');
      return { kind: 'enum', name: tok.v, value: n.v };
    }
    if (tok.t === 'number') {
      pos++;
      return { kind: 'number', value: tok.v };
    }
    if (tok.t === 'ident') {
      // `name Type` inside Tuple: an identifier directly followed by another identifier.
      const after = tokens[pos + 1];
      if (tok.quoted || (after && after.t === 'ident')) {
        pos++;
        return { kind: 'named', name: tok.v, type: parseType() };
      }
      return { kind: 'type', type: parseType() };
    }
    throw new Error(`unexpected "${tok.v}"`);
  };

  const result = parseType();
  if (pos !== tokens.length) throw new Error('unexpected text after the type');
  return result;
}

// ---------------------------------------------------------------------------------------------
// Mapping. Ids are placeholders (0) until assignFreshIds numbers the whole tree.

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
  if (!a || a.kind !== 'number') throw new Unsupported(`${t.name} expects a number as argument ${i + 1}`);
  return a.value;
}

function typeArg(t: ClickHouseType, i: number): ClickHouseType {
  const a = t.args[i];
  if (!a || a.kind !== 'type') throw new Unsupported(`${t.name} expects a type as argument ${i + 1}`);
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
      if (t.args.length > 1 || (t.args.length === 1 && t.args[0].kind !== 'string')) throw new Unsupported("DateTime takes an optional 'time zone'");
      return primitive('timestamptz');
    case 'DateTime64': {
      if (t.args.length < 1 || t.args.length > 2 || (t.args.length === 2 && t.args[1].kind !== 'string'))
        throw new Unsupported("DateTime64 takes a precision and an optional 'time zone'");
      const precision = numberArg(t, 0);
      if (precision < 0 || precision > 9) throw new Unsupported(`DateTime64 precision ${precision} is outside 0..9`);
      const notes =
        precision > 6 ? [`ClickHouse DateTime64(${precision}): stored in microseconds, the last ${precision - 6} digit(s) of sub-second precision are truncated`] : [];
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
export function icebergFieldFromColumn(table: string, column: SourceColumn): NestedField {
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

/** The Iceberg schema of a ClickHouse table. Field ids start at 1. */
export function icebergSchemaFromColumns(table: string, columns: SourceColumn[], opts: { schemaId?: number } = {}): Schema {
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
  if (a.type === 'list' && b.type === 'list') return a['element-required'] === b['element-required'] && sameIcebergType(a.element, b.element);
  if (a.type === 'map' && b.type === 'map')
    return a['value-required'] === b['value-required'] && sameIcebergType(a.key, b.key) && sameIcebergType(a.value, b.value);
  if (a.type === 'struct' && b.type === 'struct')
    return (
      a.fields.length === b.fields.length &&
      a.fields.every((f, i) => f.name === b.fields[i].name && f.required === b.fields[i].required && sameIcebergType(f.type, b.fields[i].type))
    );
  return false;
}

export function formatIcebergType(t: IcebergType): string {
  if (typeof t === 'string') return t;
  if (t.type === 'list') return `list<${formatIcebergType(t.element)}>`;
  if (t.type === 'map') return `map<${formatIcebergType(t.key)}, ${formatIcebergType(t.value)}>`;
  return `struct<${t.fields.map((f) => `${f.name}: ${formatIcebergType(f.type)}`).join(', ')}>`;
}

export interface SchemaEvolution {
  /** The schema to use from now on (the same object as `current` when nothing changed). */
  schema: Schema;
  /** Columns new at the source, with their new ids (always optional: old files read them as null). */
  added: NestedField[];
  /** Columns that became Nullable at the source: required → optional, an allowed Iceberg change. */
  madeOptional: NestedField[];
}

/**
 * Brings `current` in line with the source columns: keeps every existing id, appends new columns
 * with ids above `lastColumnId` (the table's last-column-id). A column dropped or retyped at the
 * source cannot be followed without rewriting data, so it is a SchemaError.
 */
export function evolveSchema(
  current: Schema,
  columns: SourceColumn[],
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
