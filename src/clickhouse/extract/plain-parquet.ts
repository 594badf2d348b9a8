// A Parquet file of uncompressed PLAIN pages, written row group by row group: the local hand-over file of
// the Native extraction (native-to-parquet.ts), read once by DuckDB's read_parquet, in parallel by row group,
// and then deleted. Nothing else reads it, so it carries only what DuckDB needs: the schema (with the
// converted/logical types that give DuckDB the right column types), one data page per column chunk, and
// no statistics, no dictionary, no compression.
//
// Why a writer of our own: ClickHouse's Native columns are already, for most types, the bytes of a PLAIN
// Parquet page (little-endian fixed-width values), so a file can be assembled from slices of the received
// buffers with almost no work per value. A general Parquet library would take row objects or Arrow arrays
// and re-encode them: measured far slower (docs/clickhouse-versions.md), and none is kept small enough.
// The format: https://github.com/apache/parquet-format (Thrift compact footer, RLE/bit-packed levels).
import { open, type FileHandle } from 'node:fs/promises';
import { binary, bool, encodeStruct, i32, i64, list, struct, type ThriftStruct } from './thrift-compact.js';

export type PhysicalType = 'BOOLEAN' | 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE' | 'BYTE_ARRAY' | 'FIXED_LEN_BYTE_ARRAY';
export type Repetition = 'REQUIRED' | 'OPTIONAL' | 'REPEATED';
/** The converted types DuckDB reads into the column types the extraction needs. */
export type ConvertedType = 'UTF8' | 'DECIMAL' | 'DATE' | 'UINT_32' | 'UINT_64';

export interface PrimitiveField {
  kind: 'primitive';
  name: string;
  repetition: Repetition;
  type: PhysicalType;
  /** FIXED_LEN_BYTE_ARRAY only. */
  typeLength?: number;
  converted?: ConvertedType;
  precision?: number;
  scale?: number;
  /** The UUID logical type (FIXED_LEN_BYTE_ARRAY(16), big-endian). */
  uuid?: boolean;
  /** The TIMESTAMP logical type, adjusted to UTC (INT64): DuckDB reads TIMESTAMP WITH TIME ZONE. */
  timestamp?: 'MILLIS' | 'MICROS';
}

export interface GroupField {
  kind: 'group';
  name: string;
  repetition: Repetition;
  converted?: 'LIST' | 'MAP';
  children: SchemaField[];
}

export type SchemaField = PrimitiveField | GroupField;

export interface LeafColumn {
  path: string[];
  field: PrimitiveField;
  maxDef: number;
  maxRep: number;
}

/** The leaf columns of a schema in file order (depth first), with their level bounds. */
export function leafColumns(fields: SchemaField[]): LeafColumn[] {
  const out: LeafColumn[] = [];
  const visit = (f: SchemaField, path: string[], def: number, rep: number): void => {
    const d = def + (f.repetition === 'REQUIRED' ? 0 : 1);
    const r = rep + (f.repetition === 'REPEATED' ? 1 : 0);
    if (f.kind === 'primitive') out.push({ path: [...path, f.name], field: f, maxDef: d, maxRep: r });
    else for (const c of f.children) visit(c, [...path, f.name], d, r);
  };
  for (const f of fields) visit(f, [], 0, 0);
  return out;
}

/** One column chunk of a row group: its levels (one per slot, nulls and empty lists included) and its present values. */
export interface ColumnChunkData {
  /** Slots: levels when the column has any, else values. */
  numValues: number;
  /** Omitted when the column's maxRep is 0. */
  repLevels?: Uint8Array;
  /** Omitted when the column's maxDef is 0. */
  defLevels?: Uint8Array;
  /** The PLAIN encoding of the present values, in order (any number of buffers). */
  values: Buffer[];
}

const PHYSICAL: Record<PhysicalType, number> = {
  BOOLEAN: 0,
  INT32: 1,
  INT64: 2,
  FLOAT: 4,
  DOUBLE: 5,
  BYTE_ARRAY: 6,
  FIXED_LEN_BYTE_ARRAY: 7,
};
const REPETITION: Record<Repetition, number> = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 };
const CONVERTED: Record<ConvertedType | 'LIST' | 'MAP', number> = {
  UTF8: 0,
  MAP: 1,
  LIST: 3,
  DECIMAL: 5,
  DATE: 6,
  UINT_32: 13,
  UINT_64: 14,
};
const ENCODING_PLAIN = 0;
const ENCODING_RLE = 3;
const MAGIC = Buffer.from('PAR1', 'latin1');

function schemaElements(fields: SchemaField[]): ThriftStruct[] {
  const out: ThriftStruct[] = [
    [
      [4, binary('schema')],
      [5, i32(fields.length)],
    ],
  ];
  const visit = (f: SchemaField): void => {
    if (f.kind === 'group') {
      out.push([
        [3, i32(REPETITION[f.repetition])],
        [4, binary(f.name)],
        [5, i32(f.children.length)],
        [6, f.converted ? i32(CONVERTED[f.converted]) : undefined],
      ]);
      f.children.forEach(visit);
      return;
    }
    out.push([
      [1, i32(PHYSICAL[f.type])],
      [2, f.typeLength !== undefined ? i32(f.typeLength) : undefined],
      [3, i32(REPETITION[f.repetition])],
      [4, binary(f.name)],
      [6, f.converted ? i32(CONVERTED[f.converted]) : undefined],
      [7, f.scale !== undefined ? i32(f.scale) : undefined],
      [8, f.precision !== undefined ? i32(f.precision) : undefined],
      // LogicalType is a union: member 14 is UUIDType (an empty struct), 8 TimestampType(isAdjustedToUTC, unit).
      [
        10,
        f.uuid
          ? struct([[14, struct([])]])
          : f.timestamp
            ? struct([
                [
                  8,
                  struct([
                    [1, bool(true)],
                    [2, struct([[f.timestamp === 'MILLIS' ? 1 : 2, struct([])]])],
                  ]),
                ],
              ])
            : undefined,
      ],
    ]);
  };
  fields.forEach(visit);
  return out;
}

function bitWidth(maxLevel: number): number {
  return 32 - Math.clz32(maxLevel);
}

/**
 * Levels in Parquet's RLE/bit-packed hybrid, with the 4-byte length prefix of a v1 data page: runs of 8 or
 * more equal levels as RLE runs (a column without nulls is one run), the rest bit-packed in groups of 8.
 */
export function encodeLevels(levels: Uint8Array, count: number, maxLevel: number): Buffer {
  const width = bitWidth(maxLevel);
  const out = Buffer.allocUnsafe(4 + 16 + count * 2 + 8);
  let o = 4;
  const varint = (n: number) => {
    while (n >= 0x80) {
      out[o++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[o++] = n;
  };
  const runAt = (i: number, limit: number) => {
    const v = levels[i];
    let j = i + 1;
    while (j < count && j - i < limit && levels[j] === v) j++;
    return j - i;
  };
  let i = 0;
  while (i < count) {
    const run = runAt(i, count);
    if (run >= 8) {
      varint(run << 1);
      out[o++] = levels[i]; // levels never exceed 255: one byte
      i += run;
      continue;
    }
    const start = i;
    let groups = 0;
    do {
      groups++;
      i += 8;
    } while (i < count && runAt(i, 8) < 8);
    varint((groups << 1) | 1);
    let acc = 0;
    let bits = 0;
    for (let k = start; k < start + groups * 8; k++) {
      acc |= (k < count ? levels[k] : 0) << bits;
      bits += width;
      while (bits >= 8) {
        out[o++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
    }
    if (i > count) i = count;
  }
  out.writeUInt32LE(o - 4, 0);
  return out.subarray(0, o);
}

/** Booleans (one byte each, 0 or 1) as PLAIN BOOLEAN: bit-packed, least significant bit first. */
export function packBooleans(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc((bytes.length + 7) >>> 3);
  for (let i = 0; i < bytes.length; i++) if (bytes[i]) out[i >>> 3] |= 1 << (i & 7);
  return out;
}

interface ChunkMeta {
  leaf: LeafColumn;
  offset: number;
  size: number;
  numValues: number;
}

/** A PLAIN Parquet file being written: create, writeRowGroup … , close (the footer). */
export class PlainParquetFile {
  private offset = MAGIC.length;
  private rows = 0;
  private readonly rowGroups: Array<{ rows: number; chunks: ChunkMeta[] }> = [];
  readonly leaves: LeafColumn[];

  private constructor(
    private readonly fh: FileHandle,
    private readonly fields: SchemaField[],
  ) {
    this.leaves = leafColumns(fields);
  }

  static async create(path: string, fields: SchemaField[]): Promise<PlainParquetFile> {
    const fh = await open(path, 'w');
    try {
      await writeAll(fh, [MAGIC], 0);
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new PlainParquetFile(fh, fields);
  }

  /** Appends one row group: one chunk per leaf column, in leafColumns order. */
  async writeRowGroup(numRows: number, chunks: ColumnChunkData[]): Promise<void> {
    if (chunks.length !== this.leaves.length)
      throw new Error(`row group has ${chunks.length} column chunks, the schema ${this.leaves.length} leaf columns`);
    const buffers: Buffer[] = [];
    const metas: ChunkMeta[] = [];
    let at = this.offset;
    chunks.forEach((c, k) => {
      const leaf = this.leaves[k];
      const body: Buffer[] = [];
      if (leaf.maxRep > 0) body.push(encodeLevels(c.repLevels!, c.numValues, leaf.maxRep));
      if (leaf.maxDef > 0) body.push(encodeLevels(c.defLevels!, c.numValues, leaf.maxDef));
      body.push(...c.values);
      const bodySize = body.reduce((s, b) => s + b.length, 0);
      const header = encodeStruct([
        [1, i32(0)], // DATA_PAGE
        [2, i32(bodySize)],
        [3, i32(bodySize)],
        [
          5,
          struct([
            [1, i32(c.numValues)],
            [2, i32(ENCODING_PLAIN)],
            [3, i32(ENCODING_RLE)],
            [4, i32(ENCODING_RLE)],
          ]),
        ],
      ]);
      buffers.push(header, ...body);
      metas.push({ leaf, offset: at, size: header.length + bodySize, numValues: c.numValues });
      at += header.length + bodySize;
    });
    await writeAll(this.fh, buffers, this.offset);
    this.offset = at;
    this.rows += numRows;
    this.rowGroups.push({ rows: numRows, chunks: metas });
  }

  /** Writes the footer and closes the file; returns its size in bytes. */
  async close(): Promise<number> {
    try {
      const footer = encodeStruct([
        [1, i32(1)],
        [2, list('struct', schemaElements(this.fields))],
        [3, i64(this.rows)],
        [
          4,
          list(
            'struct',
            this.rowGroups.map(
              (g): ThriftStruct => [
                [
                  1,
                  list(
                    'struct',
                    g.chunks.map(
                      (c): ThriftStruct => [
                        [2, i64(c.offset)],
                        [
                          3,
                          struct([
                            [1, i32(PHYSICAL[c.leaf.field.type])],
                            [2, list('i32', [ENCODING_PLAIN, ENCODING_RLE])],
                            [3, list('binary', c.leaf.path)],
                            [4, i32(0)], // UNCOMPRESSED
                            [5, i64(c.numValues)],
                            [6, i64(c.size)],
                            [7, i64(c.size)],
                            [9, i64(c.offset)],
                          ]),
                        ],
                      ],
                    ),
                  ),
                ],
                [2, i64(g.chunks.reduce((s, c) => s + c.size, 0))],
                [3, i64(g.rows)],
              ],
            ),
          ),
        ],
        [6, binary('clickhouse-iceberg-offload')],
      ]);
      const length = Buffer.alloc(4);
      length.writeUInt32LE(footer.length, 0);
      await writeAll(this.fh, [footer, length, MAGIC], this.offset);
      return this.offset + footer.length + 4 + MAGIC.length;
    } finally {
      await this.fh.close();
    }
  }

  /** Closes the file without a footer (the caller removes it). */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/** writev until every byte is written (a call may write less, and takes a bounded number of buffers). */
async function writeAll(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers.filter((b) => b.length > 0);
  while (pending.length > 0) {
    const batch = pending.slice(0, 512);
    const { bytesWritten } = await fh.writev(batch, position);
    position += bytesWritten;
    let n = bytesWritten;
    let k = 0;
    while (k < batch.length && n >= batch[k].length) n -= batch[k++].length;
    pending = k < batch.length ? [batch[k].subarray(n), ...pending.slice(k + 1)] : pending.slice(batch.length);
  }
}
