import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { SchemaError } from '../../src/core/errors.js';
import { duckdbFieldIds, duckdbType, highestFieldId } from '../../src/iceberg/schema.js';
import { evolveSchema, icebergSchemaFromColumns } from '../../src/mapping/clickhouse-to-iceberg.js';
import type { ColumnInfo } from '../../src/clickhouse/types.js';
import { parseClickHouseType } from '../../src/clickhouse/types.js';
import type { IcebergType, NestedField } from '../../src/iceberg/types.js';

const T = 'k2.silver_trades';

function mapOne(type: string): NestedField {
  return icebergSchemaFromColumns(T, [{ name: 'c', type }]).fields[0];
}

describe('ClickHouse type parser', () => {
  it('keeps commas, quotes and equals signs inside Enum names', () => {
    const t = parseClickHouseType(`Enum8('BUY' = 1, 'SELL, short' = 2, 'it''s' = 3, 'a\\'b=c' = -4)`);
    assert.equal(t.name, 'Enum8');
    assert.deepEqual(t.args, [
      { kind: 'enum', name: 'BUY', value: 1 },
      { kind: 'enum', name: 'SELL, short', value: 2 },
      { kind: 'enum', name: "it's", value: 3 },
      { kind: 'enum', name: "a'b=c", value: -4 },
    ]);
  });

  it('parses named and unnamed Tuple elements and nested types', () => {
    const t = parseClickHouseType("Tuple(a LowCardinality(Nullable(String)), `b c` DateTime64(6, 'UTC'))");
    assert.equal(t.args.length, 2);
    assert.deepEqual(t.args[0], {
      kind: 'named',
      name: 'a',
      type: {
        name: 'LowCardinality',
        args: [{ kind: 'type', type: { name: 'Nullable', args: [{ kind: 'type', type: { name: 'String', args: [] } }] } }],
      },
    });
    assert.deepEqual(t.args[1], {
      kind: 'named',
      name: 'b c',
      type: {
        name: 'DateTime64',
        args: [
          { kind: 'number', value: 6 },
          { kind: 'string', value: 'UTC' },
        ],
      },
    });
  });

  it('rejects malformed types', () => {
    assert.throws(() => parseClickHouseType('Nullable(String'));
    assert.throws(() => parseClickHouseType("Enum8('a' = )"));
    assert.throws(() => parseClickHouseType('String extra ('));
  });
});

describe('ClickHouse → Iceberg type mapping (docs/architecture.md "Type mapping")', () => {
  const cases: Array<[string, IcebergType, boolean]> = [
    // every type string of the production DDL in reference/k2-platform.md
    ['DateTime64(3)', 'timestamptz', true],
    ['UInt64', 'decimal(20, 0)', true],
    ['String', 'string', true],
    ['Decimal(18,8)', 'decimal(18, 8)', true],
    ['Decimal(18, 8)', 'decimal(18, 8)', true],
    ['Decimal(38,8)', 'decimal(38, 8)', true],
    ['UInt16', 'int', true],
    ['DateTime', 'timestamptz', true],
    ['UUID', 'uuid', true],
    ['LowCardinality(String)', 'string', true],
    ["Enum8('equities'=1,'crypto'=2,'futures'=3,'options'=4)", 'string', true],
    ["Enum8('BUY' = 1, 'SELL' = 2, 'SELL_SHORT' = 3, 'UNKNOWN' = 4)", 'string', true],
    ['Decimal128(8)', 'decimal(38, 8)', true],
    ["DateTime64(6,'UTC')", 'timestamptz', true],
    ["DateTime64(6, 'UTC')", 'timestamptz', true],
    ['Nullable(UInt64)', 'decimal(20, 0)', false],
    ['Bool', 'boolean', true],
    // the rest of the mapping table
    ['LowCardinality(Nullable(String))', 'string', false],
    ['FixedString(16)', 'string', true],
    ["Enum16('a, b' = 1000, 'c''d' = -2)", 'string', true],
    ['Int8', 'int', true],
    ['Int16', 'int', true],
    ['Int32', 'int', true],
    ['UInt8', 'int', true],
    ['Int64', 'long', true],
    ['UInt32', 'long', true],
    ['Float32', 'float', true],
    ['Float64', 'double', true],
    ['Decimal(9)', 'decimal(9, 0)', true],
    ['Decimal32(2)', 'decimal(9, 2)', true],
    ['Decimal64(4)', 'decimal(18, 4)', true],
    ['Date', 'date', true],
    ['Date32', 'date', true],
    ["DateTime('Europe/Amsterdam')", 'timestamptz', true],
    ['DateTime64(0)', 'timestamptz', true],
    ["DateTime64(9, 'Asia/Tokyo')", 'timestamptz', true],
    ['Nullable(Date)', 'date', false],
  ];
  for (const [ch, iceberg, required] of cases) {
    it(`${ch} → ${required ? '' : 'optional '}${typeof iceberg === 'string' ? iceberg : iceberg.type}`, () => {
      const f = mapOne(ch);
      assert.deepEqual(f.type, iceberg);
      assert.equal(f.required, required);
    });
  }

  it('says in the field doc that DateTime64 beyond microseconds is truncated', () => {
    assert.match(mapOne("DateTime64(9, 'UTC')").doc ?? '', /microseconds.*3 digit\(s\).*truncated/);
    assert.equal(mapOne('DateTime64(6)').doc, undefined);
    assert.equal(mapOne('DateTime64(3)').doc, undefined);
  });

  it('Array(String) → list with a required element and its own id', () => {
    assert.deepEqual(mapOne('Array(String)').type, { type: 'list', 'element-id': 2, element: 'string', 'element-required': true });
    assert.deepEqual(mapOne('Array(Nullable(Int32))').type, { type: 'list', 'element-id': 2, element: 'int', 'element-required': false });
  });

  it('Map(String, String) → map with key and value ids', () => {
    assert.deepEqual(mapOne('Map(String, String)').type, {
      type: 'map',
      'key-id': 2,
      key: 'string',
      'value-id': 3,
      value: 'string',
      'value-required': true,
    });
    assert.deepEqual(mapOne('Map(LowCardinality(String), Nullable(UInt64))').type, {
      type: 'map',
      'key-id': 2,
      key: 'string',
      'value-id': 3,
      value: 'decimal(20, 0)',
      'value-required': false,
    });
  });

  it('Tuple → struct with element names, or _1, _2 … when unnamed', () => {
    assert.deepEqual(mapOne('Tuple(a String, b Nullable(Float64))').type, {
      type: 'struct',
      fields: [
        { id: 2, name: 'a', required: true, type: 'string' },
        { id: 3, name: 'b', required: false, type: 'double' },
      ],
    });
    assert.deepEqual(mapOne('Tuple(String, UInt64)').type, {
      type: 'struct',
      fields: [
        { id: 2, name: '_1', required: true, type: 'string' },
        { id: 3, name: '_2', required: true, type: 'decimal(20, 0)' },
      ],
    });
  });

  const unsupported = [
    'Int128',
    'Int256',
    'UInt128',
    'UInt256',
    'IPv4',
    'IPv6',
    'Nothing',
    'Nullable(Nothing)',
    'JSON',
    "Object('json')",
    'AggregateFunction(argMin, Decimal(18, 8), DateTime)',
    'Decimal(76, 8)',
    'Decimal256(8)',
    'Array(Int128)',
    'Map(Nullable(String), String)',
    'Map(Array(String), String)',
    'DateTime64(12)',
    'Nested(a String)',
    'Decimal(18, 20)',
  ];
  for (const ch of unsupported) {
    it(`rejects ${ch} with an error naming table, column and type`, () => {
      assert.throws(
        () =>
          icebergSchemaFromColumns(T, [
            { name: 'ok', type: 'String' },
            { name: 'bad_col', type: ch },
          ]),
        (err: unknown) => {
          assert.ok(err instanceof SchemaError, `expected SchemaError, got ${String(err)}`);
          assert.ok(err.message.includes(T), err.message);
          assert.ok(err.message.includes('"bad_col"'), err.message);
          assert.ok(err.message.includes(ch), err.message);
          return true;
        },
      );
    });
  }

  it('rejects an unparseable type string with the same kind of error', () => {
    assert.throws(
      () => mapOne('Nullable(String'),
      (err: unknown) => err instanceof SchemaError && /k2\.silver_trades.*"c".*Nullable\(String/.test(err.message),
    );
  });

  it('rejects duplicate and missing columns', () => {
    assert.throws(() => icebergSchemaFromColumns(T, []), SchemaError);
    assert.throws(
      () =>
        icebergSchemaFromColumns(T, [
          { name: 'a', type: 'String' },
          { name: 'a', type: 'UInt8' },
        ]),
      /"a" appears twice/,
    );
  });
});

const silverTrades: ColumnInfo[] = [
  { name: 'message_id', type: 'UUID' },
  { name: 'trade_id', type: 'String' },
  { name: 'exchange', type: 'LowCardinality(String)' },
  { name: 'symbol', type: 'LowCardinality(String)' },
  { name: 'canonical_symbol', type: 'LowCardinality(String)' },
  { name: 'asset_class', type: "Enum8('equities' = 1, 'crypto' = 2, 'futures' = 3, 'options' = 4)" },
  { name: 'currency', type: 'LowCardinality(String)' },
  { name: 'price', type: 'Decimal(38, 8)' },
  { name: 'quantity', type: 'Decimal(38, 8)' },
  { name: 'quote_volume', type: 'Decimal(38, 8)' },
  { name: 'side', type: "Enum8('BUY' = 1, 'SELL' = 2, 'SELL_SHORT' = 3, 'UNKNOWN' = 4)" },
  { name: 'trade_conditions', type: 'Array(String)' },
  { name: 'timestamp', type: "DateTime64(6, 'UTC')" },
  { name: 'ingestion_timestamp', type: "DateTime64(6, 'UTC')" },
  { name: 'processed_at', type: "DateTime64(6, 'UTC')" },
  { name: 'source_sequence', type: 'Nullable(UInt64)' },
  { name: 'platform_sequence', type: 'Nullable(UInt64)' },
  { name: 'vendor_data', type: 'Map(String, String)' },
  { name: 'is_valid', type: 'Bool' },
  { name: 'validation_errors', type: 'Array(String)' },
];

describe('field ids', () => {
  it('numbers top-level columns 1..N, then nested ids depth-first (as Iceberg assigns fresh ids)', () => {
    const s = icebergSchemaFromColumns(T, silverTrades);
    assert.equal(s['schema-id'], 0);
    assert.deepEqual(
      s.fields.map((f) => f.id),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.deepEqual(s.fields[11].type, { type: 'list', 'element-id': 21, element: 'string', 'element-required': true });
    assert.deepEqual(s.fields[17].type, {
      type: 'map',
      'key-id': 22,
      key: 'string',
      'value-id': 23,
      value: 'string',
      'value-required': true,
    });
    assert.deepEqual(s.fields[19].type, { type: 'list', 'element-id': 24, element: 'string', 'element-required': true });
    assert.equal(highestFieldId(s), 24);
  });

  it('numbers a struct inside a list after the list element', () => {
    const s = icebergSchemaFromColumns(T, [
      { name: 'a', type: 'Array(Tuple(x Int32, y Array(String)))' },
      { name: 'b', type: 'String' },
    ]);
    assert.deepEqual(s.fields[0], {
      id: 1,
      name: 'a',
      required: true,
      type: {
        type: 'list',
        'element-id': 3,
        'element-required': true,
        element: {
          type: 'struct',
          fields: [
            { id: 4, name: 'x', required: true, type: 'int' },
            { id: 5, name: 'y', required: true, type: { type: 'list', 'element-id': 6, element: 'string', 'element-required': true } },
          ],
        },
      },
    });
    assert.equal(s.fields[1].id, 2);
  });
});

describe('schema evolution', () => {
  const base = icebergSchemaFromColumns(T, [
    { name: 'ts', type: 'DateTime64(3)' },
    { name: 'tags', type: 'Array(String)' },
    { name: 'price', type: 'Decimal(18, 8)' },
  ]);

  it('changes nothing when the source is unchanged', () => {
    const r = evolveSchema(
      base,
      [
        { name: 'ts', type: 'DateTime64(3)' },
        { name: 'tags', type: 'Array(String)' },
        { name: 'price', type: 'Decimal(18,8)' },
      ],
      T,
    );
    assert.equal(r.schema, base);
    assert.deepEqual(r.added, []);
  });

  it('keeps existing ids and gives new columns new optional fields above last-column-id', () => {
    const r = evolveSchema(
      base,
      [
        { name: 'venue', type: 'String' },
        { name: 'ts', type: 'DateTime64(3)' },
        { name: 'tags', type: 'Array(String)' },
        { name: 'price', type: 'Decimal(18, 8)' },
        { name: 'attrs', type: 'Map(String, UInt64)' },
      ],
      T,
      10,
    );
    assert.equal(r.schema['schema-id'], 1);
    assert.deepEqual(r.schema.fields.slice(0, 3), base.fields);
    assert.deepEqual(r.added, [
      { id: 11, name: 'venue', required: false, type: 'string' },
      {
        id: 12,
        name: 'attrs',
        required: false,
        type: { type: 'map', 'key-id': 13, key: 'string', 'value-id': 14, value: 'decimal(20, 0)', 'value-required': true },
      },
    ]);
    assert.deepEqual(r.schema.fields.slice(3), r.added);
  });

  it('defaults last-column-id to the highest id in the schema', () => {
    const r = evolveSchema(
      base,
      [
        ...[
          { name: 'ts', type: 'DateTime64(3)' },
          { name: 'tags', type: 'Array(String)' },
          { name: 'price', type: 'Decimal(18, 8)' },
        ],
        { name: 'n', type: 'Int64' },
      ],
      T,
    );
    assert.equal(r.added[0].id, 5);
  });

  it('relaxes a column that became Nullable to optional', () => {
    const r = evolveSchema(
      base,
      [
        { name: 'ts', type: 'DateTime64(3)' },
        { name: 'tags', type: 'Array(String)' },
        { name: 'price', type: 'Nullable(Decimal(18, 8))' },
      ],
      T,
    );
    assert.deepEqual(
      r.madeOptional.map((f) => f.name),
      ['price'],
    );
    assert.equal(r.schema.fields[2].required, false);
    assert.equal(r.schema.fields[2].id, 3);
  });

  it('refuses a removed column, naming it', () => {
    assert.throws(
      () =>
        evolveSchema(
          base,
          [
            { name: 'ts', type: 'DateTime64(3)' },
            { name: 'price', type: 'Decimal(18, 8)' },
          ],
          T,
        ),
      (err: unknown) => err instanceof SchemaError && /k2\.silver_trades.*"tags".*no longer in the source/.test(err.message),
    );
  });

  it('refuses a retyped column, naming both types', () => {
    assert.throws(
      () =>
        evolveSchema(
          base,
          [
            { name: 'ts', type: 'DateTime64(3)' },
            { name: 'tags', type: 'Array(String)' },
            { name: 'price', type: 'Decimal(38, 8)' },
          ],
          T,
        ),
      (err: unknown) => err instanceof SchemaError && /"price" changed type.*decimal\(18, 8\).*decimal\(38, 8\)/.test(err.message),
    );
    assert.throws(
      () =>
        evolveSchema(
          base,
          [
            { name: 'ts', type: 'DateTime64(3)' },
            { name: 'tags', type: 'Array(Nullable(String))' },
            { name: 'price', type: 'Decimal(18, 8)' },
          ],
          T,
        ),
      SchemaError,
    );
  });
});

describe('DuckDB physical types', () => {
  const cases: Array<[IcebergType, string]> = [
    ['boolean', 'BOOLEAN'],
    ['int', 'INTEGER'],
    ['long', 'BIGINT'],
    ['float', 'FLOAT'],
    ['double', 'DOUBLE'],
    ['decimal(20, 0)', 'DECIMAL(20,0)'],
    ['decimal(38, 8)', 'DECIMAL(38,8)'],
    ['date', 'DATE'],
    ['time', 'TIME'],
    ['timestamp', 'TIMESTAMP'],
    ['timestamptz', 'TIMESTAMPTZ'],
    ['string', 'VARCHAR'],
    ['uuid', 'UUID'],
    ['binary', 'BLOB'],
    ['fixed[16]', 'BLOB'],
    [{ type: 'list', 'element-id': 2, element: 'string', 'element-required': true }, 'VARCHAR[]'],
    [
      { type: 'map', 'key-id': 2, key: 'string', 'value-id': 3, value: 'decimal(20, 0)', 'value-required': false },
      'MAP(VARCHAR, DECIMAL(20,0))',
    ],
    [
      {
        type: 'struct',
        fields: [
          { id: 2, name: 'a "q"', required: true, type: 'int' },
          { id: 3, name: 'b', required: false, type: 'timestamptz' },
        ],
      },
      'STRUCT("a ""q""" INTEGER, "b" TIMESTAMPTZ)',
    ],
  ];
  for (const [t, d] of cases) it(`${typeof t === 'string' ? t : t.type} → ${d}`, () => assert.equal(duckdbType(t), d));

  it('renders the FIELD_IDS option with nested ids', () => {
    const s = icebergSchemaFromColumns(T, [
      { name: 'ts', type: 'DateTime64(3)' },
      { name: 'tags', type: 'Array(String)' },
      { name: 'm', type: 'Map(String, String)' },
      { name: "it's", type: 'Tuple(a Int32)' },
    ]);
    assert.equal(
      duckdbFieldIds(s),
      "{'ts': 1, 'tags': {'__duckdb_field_id': 2, 'element': 5}, 'm': {'__duckdb_field_id': 3, 'key': 6, 'value': 7}, 'it''s': {'__duckdb_field_id': 4, 'a': 8}}",
    );
  });
});

describe('DuckDB writes Parquet with these types and field ids', () => {
  it('keeps every id, nested ones included, and the Iceberg physical types', async () => {
    const s = icebergSchemaFromColumns(T, [
      { name: 'ts', type: "DateTime64(6, 'UTC')" },
      { name: 'tags', type: 'Array(String)' },
      { name: 'vendor_data', type: 'Map(String, String)' },
      { name: "it's", type: 'Tuple(a Int32, b Array(UInt64))' },
      { name: 'seq', type: 'UInt64' },
      { name: 'id', type: 'UUID' },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'iceberg-schema-'));
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const db = await instance.connect();
    try {
      const file = join(dir, 'x.parquet');
      await db.run(`CREATE TABLE x (${s.fields.map((f) => `"${f.name.replace(/"/g, '""')}" ${duckdbType(f.type)}`).join(', ')})`);
      await db.run(
        "INSERT INTO x VALUES (TIMESTAMPTZ '2026-02-11 00:00:00+00', ['a'], MAP {'k': 'v'}, {'a': 1, 'b': [18446744073709551615]}, 18446744073709551615, 'f79c3e09-677c-4bbd-a479-3f349cb785e7')",
      );
      await db.run(`COPY x TO '${file}' (FORMAT parquet, FIELD_IDS ${duckdbFieldIds(s)})`);
      const rows = (
        await db.runAndReadAll(`SELECT name, field_id, type, logical_type FROM parquet_schema('${file}') WHERE field_id IS NOT NULL`)
      ).getRowsJS();
      const byId = new Map(rows.map((r) => [Number(r[1]), { name: r[0], type: r[2], logical: String(r[3] ?? '') }]));
      assert.deepEqual(
        [...byId.keys()].sort((a, b) => a - b),
        Array.from({ length: highestFieldId(s) }, (_, i) => i + 1),
      );
      assert.equal(byId.get(1)?.name, 'ts');
      assert.match(byId.get(1)!.logical, /isAdjustedToUTC=1.*MICROS=MicroSeconds/);
      assert.equal(byId.get(5)?.type, 'FIXED_LEN_BYTE_ARRAY');
      assert.match(byId.get(5)!.logical, /DecimalType\(scale=0, precision=20\)/);
      assert.match(byId.get(6)!.logical, /UUIDType/);
      assert.equal(byId.get(7)?.name, 'element'); // tags element
      assert.deepEqual([byId.get(8)?.name, byId.get(9)?.name], ['key', 'value']);
      assert.deepEqual([byId.get(10)?.name, byId.get(11)?.name, byId.get(12)?.name], ['a', 'b', 'element']);
    } finally {
      db.closeSync();
      instance.closeSync();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
