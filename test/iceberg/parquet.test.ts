// Parquet data files written through DuckDB: values read back exactly, Iceberg field ids on every column
// (nested ones too), stats that decode to the true bounds, one file per partition, files that roll at the
// target size — checked with DuckDB and, independently, with pyarrow + pyiceberg from the verification venv.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaError } from '../../src/core/errors.js';
import { AlreadyExists } from '../../src/iceberg/io.js';
import { fromBytes, truncateStringLowerBound, truncateStringUpperBound } from '../../src/iceberg/conversions.js';
import { openDuckDB, readDataFile, writeDataFiles, type DuckDBSession, type WrittenDataFile } from '../../src/iceberg/parquet.js';
import { partitionPath, partitionSpecFromConfig } from '../../src/iceberg/partition.js';
import { icebergSchemaFromColumns } from '../../src/mapping/clickhouse-to-iceberg.js';
import type { IcebergType, NestedField, PrimitiveType, Schema } from '../../src/iceberg/types.js';
import { verificationPython } from '../support/stack.js';

// Every ClickHouse type the mapping supports, as the pipeline would see it.
const EVERYTHING: Schema = icebergSchemaFromColumns('test.everything', [
  { name: 'id', type: 'Int64' },
  { name: 's', type: 'Nullable(String)' },
  { name: 'i', type: 'Nullable(Int32)' },
  { name: 'l', type: 'Nullable(Int64)' },
  { name: 'u64', type: 'Nullable(UInt64)' },
  { name: 'd', type: 'Nullable(Decimal(38, 8))' },
  { name: 'f', type: 'Nullable(Float32)' },
  { name: 'dbl', type: 'Nullable(Float64)' },
  { name: 'b', type: 'Nullable(Bool)' },
  { name: 'dt', type: 'Nullable(Date32)' },
  { name: 'ts', type: 'Nullable(DateTime64(6))' },
  { name: 'tstz', type: "Nullable(DateTime('UTC'))" },
  { name: 'uid', type: 'Nullable(UUID)' },
  { name: 'tags', type: 'Array(Nullable(String))' },
  { name: 'attrs', type: 'Map(String, Nullable(Float64))' },
  { name: 'st', type: 'Tuple(x Nullable(Int32), y Nullable(String))' },
  { name: 'small', type: 'Nullable(Int8)' },
  { name: 'ui32', type: 'UInt32' },
]);

// Source columns in the DuckDB types a loader produces (unsigned, zone-less timestamps, …): the writer casts.
const CREATE_EVERYTHING = `
CREATE TABLE everything (id BIGINT, s VARCHAR, i INTEGER, l BIGINT, u64 UBIGINT, d DECIMAL(38,8), f FLOAT, dbl DOUBLE,
  b BOOLEAN, dt DATE, ts TIMESTAMP, tstz TIMESTAMPTZ, uid UUID, tags VARCHAR[], attrs MAP(VARCHAR, DOUBLE),
  st STRUCT(x INTEGER, y VARCHAR), small TINYINT, ui32 UINTEGER);
INSERT INTO everything VALUES
 (1, 'tab' || chr(9) || 'nl' || chr(10) || 'cr' || chr(13) || 'nul' || chr(0) || 'end 🙂', -2147483648, -9223372036854775808, 0,
  '-999999999999999999999999999999.99999999', -3.4028235e38, -1.7976931348623157e308, false, DATE '1900-01-01',
  TIMESTAMP '1970-01-01 00:00:00', TIMESTAMPTZ '1969-12-31 23:59:59.999999+00', '00000000-0000-0000-0000-000000000000',
  ['a' || chr(9) || 'b', NULL, ''], MAP {'k"1': 1.5, 'nul': NULL}, {'x': -1, 'y': 'y' || chr(10)}, -128, 0),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, [], MAP {}, {'x': NULL, 'y': NULL}, NULL, 4294967295),
 (3, repeat('🙂', 40) || 'z', 2147483647, 9223372036854775807, 18446744073709551615,
  '999999999999999999999999999999.99999999', 3.4028235e38, 1.7976931348623157e308, true, DATE '2299-12-31',
  TIMESTAMP '2262-04-11 23:47:16.854775', TIMESTAMPTZ '2299-12-31 23:59:59.999999+00', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  ['日本語', 'z'], MAP {'€': -0.0}, {'x': 2147483647, 'y': 'zz'}, 127, 4294967295),
 (4, 'back\\slash ''single'' "double"', 0, 0, 12345678901234567890, '0.00000001', 0.1, 0.1, true, DATE '2024-02-29',
  TIMESTAMP '2024-02-29 12:34:56.789012', TIMESTAMPTZ '2024-02-29 12:34:56.789012+00', '123e4567-e89b-12d3-a456-426614174000',
  ['x'], MAP {'a': 2.0}, {'x': 0, 'y': ''}, 0, 7);`;

// What the rows are in Iceberg's types (the writer's output must equal this exactly).
const EXPECTED_EVERYTHING = `SELECT id, s, i, l, CAST(u64 AS DECIMAL(20,0)) AS u64, d, f, dbl, b, dt, make_timestamptz(epoch_us(ts)) AS ts, tstz,
  uid, tags, attrs, st, CAST(small AS INTEGER) AS small, CAST(ui32 AS BIGINT) AS ui32 FROM everything`;

let db: DuckDBSession;
let dir: string;

async function rowsOf(sql: string): Promise<Record<string, unknown>[]> {
  return (await db.connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

async function scalar<T>(sql: string): Promise<T> {
  const [row] = await rowsOf(sql);
  return Object.values(row)[0] as T;
}

const q = (path: string) => `'${path.replace(/'/g, "''")}'`;

function fieldByName(schema: Schema, name: string): NestedField {
  const f = schema.fields.find((x) => x.name === name);
  assert.ok(f, name);
  return f;
}

before(async () => {
  db = await openDuckDB({ threads: 2, memoryLimit: '512MB' });
  dir = await mkdtemp(join(tmpdir(), 'parquet-'));
  await db.connection.run(CREATE_EVERYTHING);
});

after(async () => {
  db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a data file with every mapped type', () => {
  let written: WrittenDataFile[];
  let file: string;
  before(async () => {
    written = await writeDataFiles({
      connection: db.connection,
      relation: 'SELECT * FROM everything',
      schema: EVERYTHING,
      targetFileSizeBytes: 128 * 1024 * 1024,
      outputDir: join(dir, 'everything'),
      fileNamePrefix: 'run-1',
      dataLocation: 's3://warehouse/cold/everything/data',
    });
    file = written[0].localPath;
  });

  it('is one file of 4 records, named from the prefix, with its final location', async () => {
    assert.equal(written.length, 1);
    assert.equal(written[0].relativePath, 'run-1-00000.parquet');
    assert.equal(written[0].dataFile.filePath, 's3://warehouse/cold/everything/data/run-1-00000.parquet');
    assert.equal(written[0].dataFile.recordCount, 4n);
    assert.equal(written[0].dataFile.fileSizeInBytes, BigInt((await stat(file)).size));
    assert.deepEqual(written[0].dataFile.partition, {});
    assert.deepEqual(written[0].dataFile.splitOffsets, [4n]);
    assert.deepEqual(await readdir(join(dir, 'everything')), ['run-1-00000.parquet']);
  });

  it('reads back with exactly the values written (EXCEPT ALL both ways is empty)', async () => {
    const got = `SELECT * FROM read_parquet(${q(file)}, hive_partitioning = false)`;
    assert.equal(await scalar<bigint>(`SELECT count(*) FROM (${EXPECTED_EVERYTHING} EXCEPT ALL ${got})`), 0n);
    assert.equal(await scalar<bigint>(`SELECT count(*) FROM (${got} EXCEPT ALL ${EXPECTED_EVERYTHING})`), 0n);
  });

  it('keeps strings, decimals, 64-bit values and timestamps exact, as text and integers', async () => {
    const rows = await rowsOf(
      `SELECT id, s, l::VARCHAR AS l, u64::VARCHAR AS u64, d::VARCHAR AS d, epoch_us(ts)::VARCHAR AS ts, epoch_us(tstz)::VARCHAR AS tstz,
              uid::VARCHAR AS uid, dt::VARCHAR AS dt, tags, st.y AS y
       FROM read_parquet(${q(file)}, hive_partitioning = false) ORDER BY id`,
    );
    assert.equal(rows[0].s, 'tab\tnl\ncr\rnul\0end 🙂');
    assert.equal(rows[1].s, null);
    assert.equal(rows[2].s, `${'🙂'.repeat(40)}z`);
    assert.equal(rows[3].s, `back\\slash 'single' "double"`);
    assert.deepEqual(
      rows.map((r) => r.l),
      ['-9223372036854775808', null, '9223372036854775807', '0'],
    );
    assert.deepEqual(
      rows.map((r) => r.u64),
      ['0', null, '18446744073709551615', '12345678901234567890'],
    );
    assert.deepEqual(
      rows.map((r) => r.d),
      ['-999999999999999999999999999999.99999999', null, '999999999999999999999999999999.99999999', '0.00000001'],
    );
    assert.deepEqual(
      rows.map((r) => r.ts),
      ['0', null, '9223372036854775', '1709210096789012'],
    );
    assert.deepEqual(
      rows.map((r) => r.tstz),
      ['-1', null, '10413791999999999', '1709210096789012'],
    );
    assert.deepEqual(
      rows.map((r) => r.uid),
      ['00000000-0000-0000-0000-000000000000', null, 'ffffffff-ffff-ffff-ffff-ffffffffffff', '123e4567-e89b-12d3-a456-426614174000'],
    );
    assert.deepEqual(
      rows.map((r) => r.dt),
      ['1900-01-01', null, '2299-12-31', '2024-02-29'],
    );
    assert.deepEqual(rows[0].tags, ['a\tb', null, '']);
    assert.equal(rows[0].y, 'y\n');
  });

  it('has Iceberg types in the file: no unsigned types, decimal(20,0), UTC-adjusted µs timestamps, 16-byte UUIDs', async () => {
    const types = Object.fromEntries(
      (await rowsOf(`DESCRIBE SELECT * FROM read_parquet(${q(file)}, hive_partitioning = false)`)).map((r) => [
        r.column_name,
        r.column_type,
      ]),
    );
    assert.equal(types.u64, 'DECIMAL(20,0)');
    assert.equal(types.ts, 'TIMESTAMP WITH TIME ZONE');
    assert.equal(types.tstz, 'TIMESTAMP WITH TIME ZONE');
    assert.equal(types.small, 'INTEGER');
    assert.equal(types.ui32, 'BIGINT');
    assert.equal(types.uid, 'UUID');
    const leaves = await rowsOf(`SELECT name, type, type_length, logical_type::VARCHAR AS logical FROM parquet_schema(${q(file)})`);
    const leaf = (n: string) => leaves.find((r) => r.name === n)!;
    assert.equal(leaf('uid').type, 'FIXED_LEN_BYTE_ARRAY');
    assert.equal(String(leaf('uid').type_length), '16');
    assert.match(String(leaf('uid').logical), /UUID/);
    assert.match(String(leaf('ts').logical), /isAdjustedToUTC=1.*MICROS=MicroSeconds/);
    assert.ok(!leaves.some((r) => /UINT/.test(String(r.logical))), 'no unsigned logical types');
  });

  it('carries the Iceberg field id on every column, list elements, map keys and values and struct fields included', async () => {
    const ids = await fieldIdsByPath(file);
    const expected = new Map<string, number>();
    const visit = (path: string, id: number, type: IcebergType) => {
      expected.set(path, id);
      if (typeof type === 'string') return;
      if (type.type === 'list') visit(`${path}.list.element`, type['element-id'], type.element);
      else if (type.type === 'map') {
        visit(`${path}.key_value.key`, type['key-id'], type.key);
        visit(`${path}.key_value.value`, type['value-id'], type.value);
      } else for (const f of type.fields) visit(`${path}.${f.name}`, f.id, f.type);
    };
    for (const f of EVERYTHING.fields) visit(f.name, f.id, f.type);
    // the repeated groups DuckDB inserts (`list`, `key_value`) have no Iceberg field
    for (const [path, id] of [...ids]) if (id === null) ids.delete(path);
    assert.deepEqual(Object.fromEntries(ids), Object.fromEntries(expected));
    assert.equal(expected.size, 23);
  });

  it('has stats whose bounds decode to the true minimum and maximum of every column', async () => {
    const df = written[0].dataFile;
    const bound = (name: string, which: 'lower' | 'upper', type?: PrimitiveType) => {
      const f = fieldByName(EVERYTHING, name);
      const bytes = (which === 'lower' ? df.lowerBounds : df.upperBounds).get(f.id);
      assert.ok(bytes, `${which} bound of ${name}`);
      return fromBytes(type ?? (f.type as PrimitiveType), bytes);
    };
    const both = (name: string) => [bound(name, 'lower'), bound(name, 'upper')];
    assert.deepEqual(both('id'), [1n, 4n]);
    assert.deepEqual(both('i'), [-2147483648, 2147483647]);
    assert.deepEqual(both('l'), [-9223372036854775808n, 9223372036854775807n]);
    assert.deepEqual(both('u64'), ['0', '18446744073709551615']);
    assert.deepEqual(both('d'), ['-999999999999999999999999999999.99999999', '999999999999999999999999999999.99999999']);
    assert.deepEqual(both('f'), [Math.fround(-3.4028235e38), Math.fround(3.4028235e38)]);
    assert.deepEqual(both('dbl'), [-1.7976931348623157e308, 1.7976931348623157e308]);
    assert.deepEqual(both('b'), [false, true]);
    assert.deepEqual(both('dt'), [-25567, 120529]);
    assert.deepEqual(both('ts'), [0n, 9223372036854775n]);
    assert.deepEqual(both('tstz'), [-1n, 10413791999999999n]);
    assert.deepEqual(both('small'), [-128, 127]);
    assert.deepEqual(both('ui32'), [0n, 4294967295n]);
    // strings: Iceberg's default metrics mode keeps 16 code points; the upper bound is raised to stay above the max
    const min = `back\\slash 'single' "double"`;
    const max = `${'🙂'.repeat(40)}z`;
    assert.deepEqual(both('s'), [truncateStringLowerBound(min), truncateStringUpperBound(max)]);
    assert.equal(bound('s', 'upper'), `${'🙂'.repeat(15)}🙃`);
    // struct fields have bounds of their own
    const st = fieldByName(EVERYTHING, 'st').type as { fields: NestedField[] };
    const [x, y] = st.fields;
    assert.deepEqual([fromBytes('int', df.lowerBounds.get(x.id)!), fromBytes('int', df.upperBounds.get(x.id)!)], [-1, 2147483647]);
    assert.deepEqual([fromBytes('string', df.lowerBounds.get(y.id)!), fromBytes('string', df.upperBounds.get(y.id)!)], ['', 'zz']);
    // none for uuids (readers disagree on their order) or inside lists and maps
    for (const name of ['uid', 'tags', 'attrs']) {
      const ids = idsUnder(fieldByName(EVERYTHING, name));
      for (const id of ids) assert.ok(!df.lowerBounds.has(id) && !df.upperBounds.has(id), `no bounds for ${name} (${id})`);
    }
  });

  it('counts values and nulls per column', async () => {
    const df = written[0].dataFile;
    const id = (name: string) => fieldByName(EVERYTHING, name).id;
    for (const name of ['id', 's', 'i', 'l', 'u64', 'd', 'f', 'dbl', 'b', 'dt', 'ts', 'tstz', 'uid', 'small', 'ui32']) {
      assert.equal(df.valueCounts.get(id(name)), 4n, `value count of ${name}`);
      assert.equal(df.nullValueCounts.get(id(name)), ['id', 'ui32'].includes(name) ? 0n : 1n, `null count of ${name}`);
      assert.ok((df.columnSizes.get(id(name)) ?? 0n) > 0n, `column size of ${name}`);
    }
    const tags = fieldByName(EVERYTHING, 'tags').type as { 'element-id': number };
    assert.equal(df.valueCounts.get(tags['element-id']), 7n); // 3 + 1 (empty list) + 2 + 1, as Parquet counts them
  });
});

describe('partitions and file rolling', () => {
  const TRADES: Schema = icebergSchemaFromColumns('test.trades', [
    { name: 'ts', type: 'DateTime64(3)' },
    { name: 'exchange', type: 'Nullable(String)' },
    { name: 'price', type: 'Decimal(18, 8)' },
    { name: 'seq', type: 'UInt64' },
  ]);
  const SPEC = partitionSpecFromConfig(TRADES, ['day(ts)', 'exchange']);
  const DAY = `CAST(CAST(make_timestamp(epoch_us(ts)) AS DATE) - DATE '1970-01-01' AS INTEGER)`; // floors before 1970

  before(async () => {
    // 3 days (one before 1970) × 3 exchanges (one a NULL, one with a space and a slash), 3000 rows each
    await db.connection.run(`
      CREATE TABLE trades AS
      SELECT make_timestamptz(epoch_us(TIMESTAMP '1969-12-31 00:00:00') + (i // 9000) * 86400000000 + (i % 9000) * 1000000) AS ts,
             CASE i % 3 WHEN 0 THEN 'binance' WHEN 1 THEN 'a b/c' ELSE NULL END AS exchange,
             CAST(i || '.12345678' AS DECIMAL(18,8)) AS price, CAST(i AS UBIGINT) + 18446744073709500000 AS seq
      FROM range(27000) r(i)`);
  });

  it('writes one file per partition value with its partition tuple and path', async () => {
    const out = join(dir, 'trades');
    const written = await writeDataFiles({
      connection: db.connection,
      relation: 'SELECT * FROM trades',
      schema: TRADES,
      partitionSpec: SPEC,
      targetFileSizeBytes: 64 * 1024 * 1024,
      outputDir: out,
      fileNamePrefix: 'run-2',
    });
    const expected = await rowsOf(`SELECT ${DAY} AS day, exchange, count(*) AS n FROM trades GROUP BY ALL ORDER BY ALL`);
    assert.equal(expected.length, 9);
    assert.equal(written.length, 9);
    const key = (day: unknown, exchange: unknown) => `${String(day)}|${String(exchange)}`;
    const byKey = new Map(written.map((w) => [key(w.dataFile.partition.ts_day, w.dataFile.partition.exchange), w]));
    for (const e of expected) {
      const w = byKey.get(key(e.day, e.exchange));
      assert.ok(w, `a file for ${key(e.day, e.exchange)}`);
      assert.equal(w.dataFile.recordCount, e.n);
      assert.equal(w.relativePath, `${partitionPath(SPEC, TRADES, w.dataFile.partition)}/${w.relativePath.split('/').pop()}`);
      // every row in the file belongs to the file's partition
      const inFile = await rowsOf(
        `SELECT DISTINCT ${DAY} AS day, exchange FROM read_parquet(${q(w.localPath)}, hive_partitioning = false)`,
      );
      assert.deepEqual(inFile, [{ day: e.day, exchange: e.exchange }]);
    }
    assert.deepEqual([...byKey.keys()].filter((k) => k.startsWith('-1|')).length, 3); // 1969-12-31 is day -1
    const nullPartition = written.find((w) => w.dataFile.partition.exchange === null)!;
    assert.match(nullPartition.relativePath, /^ts_day=\d{4}-\d{2}-\d{2}\/exchange=null\/run-2-\d{5}\.parquet$/);
    assert.ok(written.some((w) => w.relativePath.includes('/exchange=a+b%2Fc/')));
    assert.deepEqual(
      written.map((w) => w.relativePath.split('/').pop()).sort(),
      Array.from({ length: 9 }, (_, i) => `run-2-${String(i).padStart(5, '0')}.parquet`),
    );
  });

  it('rolls files at the target size and loses no row across them', async () => {
    await db.connection.run(`CREATE TABLE big AS SELECT make_timestamptz(1700000000000000 + i * 1000) AS ts, 'x' AS exchange,
      CAST(i || '.5' AS DECIMAL(18,8)) AS price, CAST(hash(i) AS UBIGINT) AS seq FROM range(400000) r(i)`);
    const target = 1024 * 1024;
    const written = await writeDataFiles({
      connection: db.connection,
      relation: 'SELECT * FROM big',
      schema: TRADES,
      targetFileSizeBytes: target,
      rowGroupSize: 20_000,
      outputDir: join(dir, 'big'),
      fileNamePrefix: 'run-3',
    });
    assert.ok(written.length >= 3, `${written.length} files`);
    assert.equal(
      written.reduce((n, w) => n + w.dataFile.recordCount, 0n),
      400_000n,
    );
    for (const w of written) {
      // a file closes once a row group takes it past the target; with 2 threads, 2 row groups may be in flight
      const groups = [...w.dataFile.splitOffsets!, w.dataFile.fileSizeInBytes];
      const largestGroup = groups.slice(1).reduce((max, end, i) => (end - groups[i] > max ? end - groups[i] : max), 0n);
      assert.ok(
        w.dataFile.fileSizeInBytes <= BigInt(target) + 2n * largestGroup,
        `${w.relativePath} stays within 2 row groups of the target`,
      );
    }
    assert.ok(written.filter((w) => w.dataFile.fileSizeInBytes >= BigInt(target)).length >= 2, 'files are filled up to the target');
    const files = written.map((w) => q(w.localPath)).join(', ');
    const expected = `SELECT ts, exchange, price, CAST(seq AS DECIMAL(20,0)) AS seq FROM big`;
    assert.equal(
      await scalar<bigint>(
        `SELECT count(*) FROM (${expected} EXCEPT ALL SELECT * FROM read_parquet([${files}], hive_partitioning = false))`,
      ),
      0n,
    );
    assert.equal(await scalar<bigint>(`SELECT count(*) FROM read_parquet([${files}], hive_partitioning = false)`), 400_000n);
  });

  it('rolls a partition that passes the target into several files, nested columns and field ids intact', async () => {
    const schema = icebergSchemaFromColumns('test.mixed', [
      { name: 'ts', type: "DateTime64(6, 'UTC')" },
      { name: 'uid', type: 'UUID' },
      { name: 'tags', type: 'Array(String)' },
      { name: 'attrs', type: 'Map(String, Decimal(20, 2))' },
      { name: 'st', type: 'Tuple(n UInt64, s Nullable(String))' },
    ]);
    // 300 000 rows on 2026-01-01 (several MiB), 1 000 on 2026-01-02
    await db.connection.run(`CREATE TABLE mixed AS
      SELECT make_timestamptz(1767225600000000 + CASE WHEN i < 300000 THEN i * 1000 ELSE 86400000000 + i END) AS ts,
             uuid() AS uid, ['t' || (i % 7), 'u'] AS tags, MAP {'p': CAST(i AS DECIMAL(20,2)) / 4} AS attrs,
             {'n': CAST(i AS UBIGINT) * 61284000000000, 's': CASE WHEN i % 5 = 0 THEN NULL ELSE 'v' || i END} AS st
      FROM range(301000) r(i)`);
    const target = 1024 * 1024;
    const written = await writeDataFiles({
      connection: db.connection,
      relation: 'SELECT * FROM mixed',
      schema,
      partitionSpec: partitionSpecFromConfig(schema, ['day(ts)']),
      targetFileSizeBytes: target,
      rowGroupSize: 20_000,
      outputDir: join(dir, 'mixed'),
      fileNamePrefix: 'run-10',
    });
    const day1 = written.filter((w) => w.dataFile.partition.ts_day === 20454);
    const day2 = written.filter((w) => w.dataFile.partition.ts_day === 20455);
    assert.ok(day1.length >= 3, `${day1.length} files for the big day`);
    assert.equal(day2.length, 1);
    assert.equal(
      day1.reduce((n, w) => n + w.dataFile.recordCount, 0n),
      300_000n,
    );
    assert.equal(day2[0].dataFile.recordCount, 1_000n);
    for (const w of day1) {
      const groups = [...w.dataFile.splitOffsets!, w.dataFile.fileSizeInBytes];
      const largestGroup = groups.slice(1).reduce((max, end, i) => (end - groups[i] > max ? end - groups[i] : max), 0n);
      assert.ok(
        w.dataFile.fileSizeInBytes <= BigInt(target) + 2n * largestGroup,
        `${w.relativePath} stays within 2 row groups of the target`,
      );
      assert.match(w.relativePath, /^ts_day=2026-01-01\/run-10-\d{5}\.parquet$/);
    }
    const expectedIds = {
      ts: 1,
      uid: 2,
      tags: 3,
      attrs: 4,
      st: 5,
      'tags.list.element': 6,
      'attrs.key_value.key': 7,
      'attrs.key_value.value': 8,
      'st.n': 9,
      'st.s': 10,
    };
    for (const w of written) {
      const ids = await fieldIdsByPath(w.localPath);
      for (const [path, id] of [...ids]) if (id === null) ids.delete(path);
      assert.deepEqual(Object.fromEntries(ids), expectedIds, w.relativePath);
    }
    const files = written.map((w) => q(w.localPath)).join(', ');
    const expected = `SELECT ts, uid, tags, CAST(attrs AS MAP(VARCHAR, DECIMAL(20,2))) AS attrs, CAST(st AS STRUCT(n DECIMAL(20,0), s VARCHAR)) AS st FROM mixed`;
    const got = `SELECT * FROM read_parquet([${files}], hive_partitioning = false)`;
    assert.equal(await scalar<bigint>(`SELECT count(*) FROM (${expected} EXCEPT ALL ${got})`), 0n);
    assert.equal(await scalar<bigint>(`SELECT count(*) FROM (${got} EXCEPT ALL ${expected})`), 0n);
  });

  it('writes 49 hourly partitions in one pass, one file each', async () => {
    // one row a minute for 48 hours from 2023-11-14 22:13:20 UTC: 47 + 47 × 60 + 13 rows in 49 hours
    const written = await writeDataFiles({
      connection: db.connection,
      relation: `SELECT make_timestamptz(1700000000000000 + i * 60000000) AS ts, 'x' AS exchange, CAST(1.5 AS DECIMAL(18,8)) AS price,
                        CAST(i AS UBIGINT) AS seq FROM range(2880) r(i)`,
      schema: TRADES,
      partitionSpec: partitionSpecFromConfig(TRADES, ['hour(ts)']),
      targetFileSizeBytes: 64 * 1024 * 1024,
      outputDir: join(dir, 'hours'),
      fileNamePrefix: 'run-11',
    });
    assert.equal(written.length, 49);
    const hours = written.map((w) => w.dataFile.partition.ts_hour as number).sort((a, b) => a - b);
    assert.equal(hours[0], Math.floor(1700000000 / 3600));
    assert.deepEqual(
      hours,
      Array.from({ length: 49 }, (_, i) => hours[0] + i),
    );
    const counts = new Map(written.map((w) => [w.dataFile.partition.ts_hour, w.dataFile.recordCount]));
    assert.equal(counts.get(hours[0]), 47n);
    assert.equal(counts.get(hours[1]), 60n);
    assert.equal(counts.get(hours[48]), 13n);
    assert.match(written.find((w) => w.dataFile.partition.ts_hour === hours[0])!.relativePath, /^ts_hour=2023-11-14-22\//);
  });

  it('splits offsets at every row group and reads the same DataFile back from the file', async () => {
    const [w] = await writeDataFiles({
      connection: db.connection,
      relation: 'SELECT * FROM big LIMIT 100000',
      schema: TRADES,
      targetFileSizeBytes: 512 * 1024 * 1024,
      rowGroupSize: 25_000,
      outputDir: join(dir, 'groups'),
      fileNamePrefix: 'run-4',
    });
    const starts = await rowsOf(
      `SELECT row_group_id, min(coalesce(dictionary_page_offset, data_page_offset)) AS start FROM parquet_metadata(${q(w.localPath)}) GROUP BY ALL ORDER BY 1`,
    );
    assert.ok(starts.length >= 4, `${starts.length} row groups`); // 2 threads may each leave a partial group
    assert.deepEqual(
      w.dataFile.splitOffsets,
      starts.map((r) => r.start),
    );
    assert.deepEqual(await readDataFile(db.connection, w.localPath, TRADES, { filePath: w.dataFile.filePath }), w.dataFile);
  });

  it('refuses to replace a file of an earlier call that used the same prefix', async () => {
    const write = () =>
      writeDataFiles({
        connection: db.connection,
        relation: 'SELECT * FROM trades LIMIT 10',
        schema: TRADES,
        targetFileSizeBytes: 1024 * 1024,
        outputDir: join(dir, 'twice'),
        fileNamePrefix: 'run-9',
      });
    const [first] = await write();
    await assert.rejects(write(), AlreadyExists);
    assert.deepEqual(await readDataFile(db.connection, first.localPath, TRADES, { filePath: first.dataFile.filePath }), first.dataFile);
  });

  it('writes nothing for an empty relation and leaves no staging behind', async () => {
    const out = join(dir, 'empty');
    const written = await writeDataFiles({
      connection: db.connection,
      relation: 'SELECT * FROM trades WHERE false',
      schema: TRADES,
      partitionSpec: SPEC,
      targetFileSizeBytes: 1024 * 1024,
      outputDir: out,
      fileNamePrefix: 'run-5',
    });
    assert.deepEqual(written, []);
    assert.deepEqual(await readdir(out), []);
    const unpartitioned = await writeDataFiles({
      connection: db.connection,
      relation: 'SELECT * FROM trades WHERE false',
      schema: TRADES,
      targetFileSizeBytes: 1024 * 1024,
      outputDir: out,
      fileNamePrefix: 'run-5',
    });
    assert.deepEqual(unpartitioned, []);
    assert.deepEqual(await readdir(out), []);
  });
});

describe('floating point bounds', () => {
  it('writes no bounds for a float column holding NaN or infinity (they would not bound the values), keeps the counts', async () => {
    const schema = icebergSchemaFromColumns('test.floats', [
      { name: 'nan', type: 'Float64' },
      { name: 'inf', type: 'Float32' },
      { name: 'plain', type: 'Float64' },
    ]);
    const [w] = await writeDataFiles({
      connection: db.connection,
      relation: `SELECT * FROM (VALUES (1.0::DOUBLE, 'inf'::FLOAT, 0.5::DOUBLE), ('nan'::DOUBLE, 1.0::FLOAT, -0.25::DOUBLE),
                 (-2.0::DOUBLE, -1.0::FLOAT, 8.0::DOUBLE)) v(nan, inf, plain)`,
      schema,
      targetFileSizeBytes: 1024 * 1024,
      outputDir: join(dir, 'floats'),
      fileNamePrefix: 'run-12',
    });
    const df = w.dataFile;
    assert.ok(!df.lowerBounds.has(1) && !df.upperBounds.has(1), 'no bounds with NaN');
    assert.ok(!df.upperBounds.has(2), 'no upper bound past +inf');
    assert.deepEqual([fromBytes('double', df.lowerBounds.get(3)!), fromBytes('double', df.upperBounds.get(3)!)], [-0.25, 8]);
    assert.deepEqual([df.valueCounts.get(1), df.valueCounts.get(2), df.valueCounts.get(3)], [3n, 3n, 3n]);
  });
});

describe('refusals', () => {
  it('names the missing columns and the columns the rows have', async () => {
    await assert.rejects(
      writeDataFiles({
        connection: db.connection,
        relation: 'SELECT id, s FROM everything',
        schema: EVERYTHING,
        targetFileSizeBytes: 1024 * 1024,
        outputDir: join(dir, 'missing'),
        fileNamePrefix: 'run-6',
      }),
      (e: unknown) => e instanceof SchemaError && /lack columns "i", "l"/.test(e.message) && /the rows have: id, s/.test(e.message),
    );
  });

  it('refuses nulls in a required column and removes what it wrote', async () => {
    const out = join(dir, 'required');
    const schema = icebergSchemaFromColumns('test.req', [
      { name: 'id', type: 'Int64' },
      { name: 's', type: 'String' },
    ]);
    await assert.rejects(
      writeDataFiles({
        connection: db.connection,
        relation: 'SELECT id, s FROM everything',
        schema,
        targetFileSizeBytes: 1024 * 1024,
        outputDir: out,
        fileNamePrefix: 'run-7',
      }),
      (e: unknown) => e instanceof SchemaError && /required column "s" has 1 null value/.test(e.message),
    );
    assert.deepEqual(await readdir(out), []);
  });
});

describe('read by pyarrow and pyiceberg (verification venv)', {
  skip: verificationPython() ? false : 'the verification venv (.venv) is not installed',
}, () => {
  it('finds the field ids, the physical/logical types and the same stats pyiceberg would compute', async () => {
    const out = join(dir, 'py');
    const [w] = await writeDataFiles({
      connection: db.connection,
      relation: 'SELECT * FROM everything',
      schema: EVERYTHING,
      targetFileSizeBytes: 1024 * 1024,
      outputDir: out,
      fileNamePrefix: 'run-8',
    });
    const report = JSON.parse(
      execFileSync(verificationPython()!, ['-c', PY_CHECK, w.localPath, JSON.stringify(EVERYTHING)], { encoding: 'utf8' }),
    ) as PyReport;

    // pyiceberg turns the file's Arrow schema into an Iceberg schema through the field ids alone
    assert.deepEqual(withoutRequired(report.schema), withoutRequired(JSON.parse(JSON.stringify(EVERYTHING)) as Schema));
    assert.equal(report.rows, 4);

    const col = (path: string) => report.columns[path];
    assert.deepEqual(col('u64'), {
      physical: 'FIXED_LEN_BYTE_ARRAY',
      logical: 'Decimal(precision=20, scale=0)',
      arrow: 'decimal128(20, 0)',
    });
    assert.deepEqual(col('d'), { physical: 'FIXED_LEN_BYTE_ARRAY', logical: 'Decimal(precision=38, scale=8)', arrow: 'decimal128(38, 8)' });
    assert.equal(col('ts').physical, 'INT64');
    assert.match(col('ts').logical, /Timestamp\(isAdjustedToUTC=true, timeUnit=microseconds/);
    assert.equal(col('ts').arrow, 'timestamp[us, tz=UTC]');
    assert.equal(col('uid').physical, 'FIXED_LEN_BYTE_ARRAY');
    assert.equal(col('uid').logical, 'UUID');
    assert.equal(col('dt').logical, 'Date');
    assert.equal(col('i').physical, 'INT32');
    assert.equal(col('small').physical, 'INT32');
    assert.equal(col('ui32').physical, 'INT64');
    assert.equal(col('s').logical, 'String');
    for (const c of Object.values(report.columns)) assert.doesNotMatch(c.logical, /Int\(bitWidth=\d+, isSigned=false\)/);

    // our stats = pyiceberg's stats from the same footer (pyiceberg also bounds uuids; we leave those out)
    const df = w.dataFile;
    const hex = (m: Map<number, Uint8Array>) => Object.fromEntries([...m].map(([k, v]) => [String(k), Buffer.from(v).toString('hex')]));
    const counts = (m: Map<number, bigint>) => Object.fromEntries([...m].map(([k, v]) => [String(k), Number(v)]));
    const uid = String(fieldByName(EVERYTHING, 'uid').id);
    const theirs = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== uid));
    // pyiceberg keeps only counts for any nested column; like Iceberg's Java writer we also bound struct fields
    const structFields = new Set(idsUnder(fieldByName(EVERYTHING, 'st')).slice(1).map(String));
    const ours = (m: Map<number, Uint8Array>) => Object.fromEntries(Object.entries(hex(m)).filter(([k]) => !structFields.has(k)));
    assert.equal(structFields.size, 2);
    assert.deepEqual(counts(df.valueCounts), report.value_counts);
    assert.deepEqual(counts(df.nullValueCounts), report.null_value_counts);
    assert.deepEqual(counts(df.columnSizes), report.column_sizes);
    assert.deepEqual(ours(df.lowerBounds), theirs(report.lower_bounds));
    assert.deepEqual(ours(df.upperBounds), theirs(report.upper_bounds));
    assert.deepEqual(df.splitOffsets?.map(Number), report.split_offsets);
  });
});

interface PyReport {
  schema: Schema;
  rows: number;
  columns: Record<string, { physical: string; logical: string; arrow: string }>;
  value_counts: Record<string, number>;
  null_value_counts: Record<string, number>;
  column_sizes: Record<string, number>;
  lower_bounds: Record<string, string>;
  upper_bounds: Record<string, string>;
  split_offsets: number[];
}

const PY_CHECK = `
import json, sys
import pyarrow.parquet as pq
from pyiceberg.schema import Schema
from pyiceberg.io.pyarrow import (pyarrow_to_schema, compute_statistics_plan, parquet_path_to_id_mapping,
                                  data_file_statistics_from_parquet_metadata)
path, schema_json = sys.argv[1], sys.argv[2]
ours = Schema.model_validate_json(schema_json)
pf = pq.ParquetFile(path)
md = pf.metadata
arrow_schema = pf.schema_arrow
theirs = pyarrow_to_schema(arrow_schema)
table = pf.read()
columns = {}
for i in range(md.num_columns):
    c = md.schema.column(i)
    top = arrow_schema.field(c.path.split('.')[0])
    columns[c.path] = {'physical': c.physical_type, 'logical': str(c.logical_type),
                       'arrow': str(top.type) if '.' not in c.path else ''}
stats = data_file_statistics_from_parquet_metadata(md, compute_statistics_plan(ours, {}), parquet_path_to_id_mapping(ours))
hexmap = lambda m: {str(k): v.hex() for k, v in m.items()}
print(json.dumps({
    'schema': json.loads(theirs.model_dump_json(by_alias=True)),
    'rows': table.num_rows,
    'columns': columns,
    'value_counts': {str(k): v for k, v in stats.value_counts.items()},
    'null_value_counts': {str(k): v for k, v in stats.null_value_counts.items()},
    'column_sizes': {str(k): v for k, v in stats.column_sizes.items()},
    'lower_bounds': hexmap(stats.to_serialized_dict()['lower_bounds']) if 'lower_bounds' in stats.to_serialized_dict() else {},
    'upper_bounds': hexmap(stats.to_serialized_dict()['upper_bounds']) if 'upper_bounds' in stats.to_serialized_dict() else {},
    'split_offsets': stats.split_offsets,
}))
`;

/** Parquet writes every column optional; compare schemas without the required flags. */
function withoutRequired(schema: Schema): unknown {
  const strip = (t: IcebergType): unknown => {
    if (typeof t === 'string') return t.replace(/\s+/g, '');
    if (t.type === 'list') return { type: 'list', 'element-id': t['element-id'], element: strip(t.element) };
    if (t.type === 'map')
      return { type: 'map', 'key-id': t['key-id'], key: strip(t.key), 'value-id': t['value-id'], value: strip(t.value) };
    return { type: 'struct', fields: t.fields.map((f) => ({ id: f.id, name: f.name, type: strip(f.type) })) };
  };
  return schema.fields.map((f) => ({ id: f.id, name: f.name, type: strip(f.type) }));
}

function idsUnder(field: NestedField): number[] {
  const ids = [field.id];
  const visit = (t: IcebergType) => {
    if (typeof t === 'string') return;
    if (t.type === 'list') {
      ids.push(t['element-id']);
      visit(t.element);
    } else if (t.type === 'map') {
      ids.push(t['key-id'], t['value-id']);
      visit(t.key);
      visit(t.value);
    } else
      for (const f of t.fields) {
        ids.push(f.id);
        visit(f.type);
      }
  };
  visit(field.type);
  return ids;
}

/** Field id of every column of a Parquet file by dotted path, from parquet_schema() (a flattened tree). */
async function fieldIdsByPath(path: string): Promise<Map<string, number | null>> {
  const rows = await rowsOf(`SELECT name, num_children, field_id FROM parquet_schema(${q(path)})`);
  const out = new Map<string, number | null>();
  let i = 1; // row 0 is the root
  const walk = (prefix: string, count: number) => {
    for (let n = 0; n < count; n++) {
      const r = rows[i++];
      const p = prefix ? `${prefix}.${String(r.name)}` : String(r.name);
      out.set(p, r.field_id === null ? null : Number(r.field_id));
      if (r.num_children !== null) walk(p, Number(r.num_children));
    }
  };
  walk('', Number(rows[0].num_children));
  return out;
}
