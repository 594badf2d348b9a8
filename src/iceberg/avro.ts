// Avro for Iceberg metadata files: Iceberg struct types → Avro schemas carrying field ids (spec
// Appendix A), and the object container format, written and read synchronously. avsc encodes the
// values; the header is ours, because avsc drops custom attributes like `field-id` from a parsed
// schema and readers (pyiceberg, Java) resolve manifest fields by those ids.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import avro from 'avsc';
import { decimalRequiredBytes, parseDecimalType } from './conversions.js';
import type { IcebergType, NestedField, StructType } from './types.js';

export type AvroSchema = string | AvroSchemaObject | AvroSchema[];
export interface AvroSchemaObject {
  type: string | AvroSchema;
  [attribute: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Iceberg → Avro schema.

/** Avro names allow [A-Za-z_][A-Za-z0-9_]*; others are escaped the way Java's AvroSchemaUtil does. */
export function avroCompatibleName(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    const ok = i === 0 ? /[A-Za-z_]/.test(c) : /[A-Za-z0-9_]/.test(c);
    if (ok) out += c;
    else if (i === 0 && /[0-9]/.test(c)) out += `_${c}`;
    else out += `_x${c.charCodeAt(0).toString(16).toUpperCase()}`;
  }
  return out;
}

/**
 * The Avro schema of an Iceberg struct, as Iceberg writers produce it: optional fields are
 * ["null", T] with default null, nested records are named r<field id>, maps are arrays of
 * k<key id>_v<value id> records with logicalType "map", ids in field-id / element-id.
 */
export function avroSchemaFromStruct(struct: StructType, recordName: string): AvroSchemaObject {
  const defined = new Set<string>(); // named types are written once, then referenced by name
  const named = (name: string, schema: AvroSchemaObject): AvroSchema => {
    if (defined.has(name)) return name;
    defined.add(name);
    return schema;
  };

  const convert = (t: IcebergType, id: number): AvroSchema => {
    if (typeof t === 'string') {
      const dec = parseDecimalType(t);
      if (dec) {
        const name = `decimal_${dec.precision}_${dec.scale}`;
        return named(name, {
          type: 'fixed',
          name,
          size: decimalRequiredBytes(dec.precision),
          logicalType: 'decimal',
          precision: dec.precision,
          scale: dec.scale,
        });
      }
      const fixed = /^fixed\[(\d+)\]$/.exec(t);
      if (fixed) return named(`fixed_${fixed[1]}`, { type: 'fixed', name: `fixed_${fixed[1]}`, size: Number(fixed[1]) });
      switch (t) {
        case 'boolean':
        case 'int':
        case 'long':
        case 'float':
        case 'double':
        case 'string':
          return t;
        case 'binary':
          return 'bytes';
        case 'date':
          return { type: 'int', logicalType: 'date' };
        case 'time':
          return { type: 'long', logicalType: 'time-micros' };
        case 'timestamp':
          return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': false };
        case 'timestamptz':
          return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true };
        case 'uuid':
          return named('uuid_fixed', { type: 'fixed', name: 'uuid_fixed', size: 16, logicalType: 'uuid' });
      }
      throw new Error(`Iceberg type ${t} has no Avro mapping`);
    }
    if (t.type === 'struct') return record(t, `r${id}`);
    if (t.type === 'list') {
      const items = convert(t.element, t['element-id']);
      return { type: 'array', items: t['element-required'] ? items : ['null', items], 'element-id': t['element-id'] };
    }
    const value = convert(t.value, t['value-id']);
    return {
      type: 'array',
      logicalType: 'map',
      items: {
        type: 'record',
        name: `k${t['key-id']}_v${t['value-id']}`,
        fields: [
          { name: 'key', type: convert(t.key, t['key-id']), 'field-id': t['key-id'] },
          { name: 'value', type: t['value-required'] ? value : ['null', value], 'field-id': t['value-id'] },
        ],
      },
    };
  };

  const field = (f: NestedField): Record<string, unknown> => {
    const type = convert(f.type, f.id);
    const name = avroCompatibleName(f.name);
    const out: Record<string, unknown> = { name, type: f.required ? type : ['null', type] };
    if (!f.required) out.default = null;
    if (f.doc !== undefined) out.doc = f.doc;
    out['field-id'] = f.id;
    if (name !== f.name) out['iceberg-field-name'] = f.name;
    return out;
  };

  const record = (s: StructType, name: string): AvroSchemaObject => ({ type: 'record', name, fields: s.fields.map(field) });

  return record(struct, recordName);
}

// ---------------------------------------------------------------------------------------------
// Values. Iceberg ids and counts exceed 2^53: every Avro long is a JS bigint.

const BigIntLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (x: unknown) => BigInt(x as string),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/** An avsc type for a schema, with bigint longs and unwrapped ["null", T] unions. */
export function avroType(schema: AvroSchema): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: BigIntLong }, wrapUnions: false });
}

// ---------------------------------------------------------------------------------------------
// Object container files (Avro spec "Object Container Files").

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1
const HEADER = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});
const LONG = avro.Type.forSchema('long');
const BLOCK_BYTES = 1 << 20;

export type AvroCodec = 'null' | 'deflate';

export interface AvroContainerOptions {
  /** File metadata, e.g. Iceberg's `schema`, `partition-spec`, `format-version`. */
  metadata?: Record<string, string>;
  codec?: AvroCodec;
}

/** Encodes records into an Avro container file whose header carries `schema` exactly as given (custom attributes kept). */
export function writeAvroContainer(schema: AvroSchema, records: unknown[], opts: AvroContainerOptions = {}): Uint8Array {
  const codec = opts.codec ?? 'deflate';
  const type = avroType(schema);
  const meta: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(opts.metadata ?? {})) meta[k] = Buffer.from(v, 'utf8');
  meta['avro.schema'] = Buffer.from(JSON.stringify(schema), 'utf8');
  meta['avro.codec'] = Buffer.from(codec, 'utf8');
  const sync = randomBytes(16);
  const parts: Buffer[] = [HEADER.toBuffer({ magic: MAGIC, meta, sync })];

  let block: Buffer[] = [];
  let blockBytes = 0;
  const flush = (): void => {
    if (block.length === 0) return;
    const raw = Buffer.concat(block);
    const data = codec === 'deflate' ? deflateRawSync(raw) : raw;
    parts.push(LONG.toBuffer(block.length), LONG.toBuffer(data.length), data, sync);
    block = [];
    blockBytes = 0;
  };
  for (const r of records) {
    const encoded = type.toBuffer(r);
    block.push(encoded);
    blockBytes += encoded.length;
    if (blockBytes >= BLOCK_BYTES) flush();
  }
  flush();
  const out = Buffer.concat(parts);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export interface AvroContainer {
  /** The writer's schema, parsed from the header with every attribute (field-id …). */
  schema: AvroSchema;
  metadata: Record<string, string>;
  records: unknown[];
}

/** Decodes a whole Avro container file (codecs null and deflate). */
export function readAvroContainer(bytes: Uint8Array): AvroContainer {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) throw new Error('not an Avro container file (bad magic)');
  const header = HEADER.decode(buf, 0);
  if (header.offset < 0) throw new Error('truncated Avro header');
  const { meta, sync } = header.value as { meta: Record<string, Buffer>; sync: Buffer };
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) metadata[k] = v.toString('utf8');
  const schemaText = metadata['avro.schema'];
  if (!schemaText) throw new Error('Avro header has no avro.schema');
  const schema = JSON.parse(schemaText) as AvroSchema;
  const codec = metadata['avro.codec'] ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') throw new Error(`unsupported Avro codec ${codec}`);
  const type = avroType(schema);

  const records: unknown[] = [];
  let pos = header.offset;
  while (pos < buf.length) {
    const count = LONG.decode(buf, pos);
    const size = LONG.decode(buf, count.offset);
    if (count.offset < 0 || size.offset < 0) throw new Error('truncated Avro block header');
    const start = size.offset;
    const end = start + (size.value as number);
    if (end + 16 > buf.length) throw new Error('truncated Avro block');
    if (!buf.subarray(end, end + 16).equals(sync)) throw new Error('Avro block sync marker mismatch');
    const raw = buf.subarray(start, end);
    const data = codec === 'deflate' ? inflateRawSync(raw) : raw;
    let at = 0;
    for (let i = 0; i < (count.value as number); i++) {
      const r = type.decode(data, at);
      if (r.offset < 0) throw new Error('truncated Avro record');
      records.push(r.value);
      at = r.offset;
    }
    pos = end + 16;
  }
  return { schema, metadata, records };
}
