// writeSlice: each data file's partition comes from the file itself — from its footer's bounds when they can
// tell, else from its rows — and a "single partition" slice that holds two partitions (a row that arrived
// after the counting) is written again, split, never committed as one file of two partitions.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { partitionSpecFromConfig } from '../../src/iceberg/partition.js';
import type { DuckDBSession } from '../../src/iceberg/parquet.js';
import { icebergSchemaFromColumns } from '../../src/mapping/clickhouse-to-iceberg.js';
import { openWriterDuckDB, writeSlice } from '../../src/pipeline/write.js';

const schema = icebergSchemaFromColumns('t', [
  { name: 'exchange_timestamp', type: 'DateTime64(3)' },
  { name: 'symbol', type: 'String' },
]);

/** Rows (timestamp text, symbol) as the relation a slice is written from. */
const rows = (...values: Array<[string, string]>) =>
  `SELECT * FROM (VALUES ${values.map(([t, s]) => `(TIMESTAMPTZ '${t}+00', '${s}')`).join(', ')}) AS v(exchange_timestamp, symbol)`;

describe('writing a slice', () => {
  let duck: DuckDBSession;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'offload-write-'));
    duck = await openWriterDuckDB({}, dir);
  });
  after(async () => {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  });

  const write = (name: string, relation: string, partitionBy: string[], isSinglePartition: boolean) =>
    writeSlice({
      connection: duck.connection,
      relation,
      schema,
      spec: partitionSpecFromConfig(schema, partitionBy),
      isSinglePartition,
      targetFileSizeBytes: 128 * 1024 * 1024,
      outputDir: join(dir, name),
      runId: name,
      slice: 0,
      dataLocation: 's3://b/t/data',
    });

  it('takes a single partition from the bounds, and names and counts the file by it', async () => {
    const files = await write(
      'one',
      rows(['2026-02-11 00:00:00', 'A'], ['2026-02-11 23:59:59.999', 'B']),
      ['day(exchange_timestamp)'],
      true,
    );
    assert.equal(files.length, 1);
    assert.deepEqual(files[0].dataFile.partition, { exchange_timestamp_day: 20495 });
    assert.equal(files[0].dataFile.recordCount, 2n);
    assert.match(files[0].dataFile.filePath, /^s3:\/\/b\/t\/data\/exchange_timestamp_day=2026-02-11\/one-00000-00000\.parquet$/);
  });

  it('writes a "single partition" slice holding two days again, one file a day', async () => {
    const files = await write(
      'two',
      rows(['2026-02-11 23:59:59.999', 'A'], ['2026-02-12 00:00:00', 'B'], ['2026-02-12 00:00:01', 'C']),
      ['day(exchange_timestamp)'],
      true,
    );
    const byDay = files.map((f) => [f.dataFile.partition.exchange_timestamp_day, f.dataFile.recordCount]).sort();
    assert.deepEqual(byDay, [
      [20495, 1n],
      [20496, 2n],
    ]);
  });

  it('reads the rows when the bounds cannot tell (an identity field)', async () => {
    const files = await write(
      'identity',
      rows(['2026-02-11 01:00:00', 'A'], ['2026-02-11 02:00:00', 'B']),
      ['day(exchange_timestamp)', 'symbol'],
      false,
    );
    const parts = files
      .map((f) => [f.dataFile.partition.exchange_timestamp_day, f.dataFile.partition.symbol, f.dataFile.recordCount])
      .sort();
    assert.deepEqual(parts, [
      [20495, 'A', 1n],
      [20495, 'B', 1n],
    ]);
  });
});
