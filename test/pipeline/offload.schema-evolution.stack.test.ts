// A column added at the source reaches Iceberg by schema evolution — a new optional field with a new id,
// never a rewrite: files written before it read it as null, rows offloaded after it carry its values.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { currentSchema } from '../../src/iceberg/metadata.js';
import { currentTable } from '../../src/pipeline/recover.js';
import { pyiceberg, type PyRead } from '../support/iceberg-tables.js';
import { stackEnv } from '../support/stack.js';
import {
  bronzeConfig,
  bronzeLikeTable,
  chTime,
  insertBronze,
  offload,
  openBench,
  pyicebergSkip,
  type Bench,
} from '../support/offload-stack.js';

let bench: Bench;
before(async () => {
  bench = await openBench('evolve');
});
after(async () => {
  await bench?.close();
});

describe('schema evolution', { skip: pyicebergSkip || undefined }, () => {
  it('adds a source column as a new optional Iceberg field; earlier rows read it as null', async () => {
    const source = await bronzeLikeTable(bench, 'evolving');
    const cfg = bronzeConfig(bench, 'binance', { name: 'evolving', source, target: 'cold.evolving' });
    const t = new Date('2025-10-01T00:00:00Z');
    const row = (i: number) => {
      const ts = chTime(new Date(t.getTime() + i * 1000));
      return { exchange_timestamp: ts, event_time: ts, ingestion_timestamp: ts, kafka_offset: String(i) };
    };
    await insertBronze(bench, source, [row(0), row(1), row(2)]);
    assert.equal((await offload(bench, cfg)).status, 'committed');
    const before = currentSchema((await currentTable(bench.catalog, bench.io, { namespace: 'cold', name: 'evolving' }))!.metadata);

    await bench.ch.command(`ALTER TABLE \`${bench.chDatabase}\`.evolving ADD COLUMN venue Nullable(String)`);
    await bench.ch.command(
      `INSERT INTO \`${bench.chDatabase}\`.evolving (exchange_timestamp, exchange_timestamp_ms, sequence_number, symbol, price, quantity, quote_volume, event_time, event_time_ms, kafka_offset, kafka_partition, ingestion_timestamp, venue)
       VALUES (toDateTime('2025-10-01 00:00:10', 'UTC'), 0, 1, 'BTCUSDT', 1, 1, 1, toDateTime('2025-10-01 00:00:10', 'UTC'), 0, 10, 0, toDateTime('2025-10-01 00:00:10', 'UTC'), 'dark-pool')`,
    );
    const r = await offload(bench, cfg);
    assert.equal(r.status === 'committed' && r.rows, 1);

    const table = (await currentTable(bench.catalog, bench.io, { namespace: 'cold', name: 'evolving' }))!;
    const after = currentSchema(table.metadata);
    assert.equal(after['schema-id'], before['schema-id'] + 1);
    const venue = after.fields.find((f) => f.name === 'venue')!;
    assert.equal(venue.required, false);
    assert.equal(venue.type, 'string');
    assert.ok(venue.id > Math.max(...before.fields.map((f) => f.id)), 'a new field id');
    assert.deepEqual(after.fields.slice(0, before.fields.length), before.fields, 'existing fields keep their ids');

    const env = stackEnv();
    const read = await pyiceberg<PyRead>(
      {
        catalogUrl: bench.pgUrl,
        catalogName: 'offload',
        warehouse: {
          kind: 's3',
          url: bench.warehouse,
          io: bench.io,
          pyEnv: {
            S3_ENDPOINT: env.AWS_ENDPOINT_URL_S3,
            AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
            AWS_REGION: env.AWS_REGION,
          },
          close: async () => {},
        },
      },
      ['read', 'cold.evolving'],
    );
    assert.equal(read.row_count, 4);
    const byOffset = new Map(read.rows.map((x) => [x.kafka_offset, x.venue]));
    assert.deepEqual([...byOffset.entries()].sort(), [
      ['0', null],
      ['1', null],
      ['10', 'dark-pool'],
      ['2', null],
    ]);
  });
});
