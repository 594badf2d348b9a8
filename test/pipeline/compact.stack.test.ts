// Compaction as a table's policy, as `offload run --every` runs it after each tick's offload: only tables
// whose configuration opts in, only partitions the watermark has passed whose end is at least minAge ago
// (a partition still receiving rows is never rewritten), rows unchanged; a table another worker holds is
// reported busy, never thrown.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TableConfig } from '../../src/config/tables.js';
import { readPartitionStats } from '../../src/iceberg/reader.js';
import { compactAfterOffload } from '../../src/pipeline/compact.js';
import { currentTable } from '../../src/pipeline/recover.js';
import {
  assertAgree,
  bronzeLikeTable,
  insertBronze,
  offload,
  openBench,
  pyicebergSkip,
  tableConfig,
  type Bench,
} from '../support/offload-stack.js';

let bench: Bench;
let withPolicy: TableConfig;
let without: TableConfig;

const config = (name: string, compaction?: unknown) =>
  tableConfig(bench, {
    name,
    layer: 'bronze',
    source: name,
    cursor: 'exchange_timestamp',
    tieBreak: 'kafka_offset',
    lag: '5m',
    target: `cold.${name}`,
    partitionBy: ['day(exchange_timestamp)'],
    ...(compaction === undefined ? {} : { compaction }),
  });

async function filesPerPartition(cfg: TableConfig): Promise<Record<string, number>> {
  const table = await currentTable(bench.catalog, bench.io, { namespace: 'cold', name: cfg.targetTable });
  assert.ok(table);
  return Object.fromEntries((await readPartitionStats(bench.io, table.metadata)).map((p) => [p.path, p.fileCount]));
}

before(async () => {
  if (pyicebergSkip) return;
  bench = await openBench('compactpolicy');
  for (const name of ['policy_trades', 'plain_trades']) await bronzeLikeTable(bench, name);
  withPolicy = config('policy_trades', { minFiles: 2, minAge: '1h' });
  without = config('plain_trades');
  // Three offloads on 1 April, three on 2 April: the watermark ends mid-way through 2 April.
  const times = [
    '2024-04-01 08:00:00',
    '2024-04-01 12:00:00',
    '2024-04-01 16:00:00',
    '2024-04-02 08:00:00',
    '2024-04-02 09:00:00',
    '2024-04-02 10:00:00',
  ];
  for (const [i, at] of times.entries()) {
    for (const cfg of [withPolicy, without]) {
      await insertBronze(bench, cfg.name, [
        { exchange_timestamp: at, event_time: at, ingestion_timestamp: at, kafka_offset: String(i), sequence_number: String(100 + i) },
      ]);
      assert.equal((await offload(bench, cfg)).status, 'committed');
    }
  }
});

after(async () => {
  await bench?.close();
});

describe('scheduled compaction (the table policy, after the offload)', { skip: pyicebergSkip }, () => {
  it('compacts only the closed partitions of the tables that opt in, rows unchanged', async () => {
    assert.deepEqual(await filesPerPartition(withPolicy), {
      'exchange_timestamp_day=2024-04-01': 3,
      'exchange_timestamp_day=2024-04-02': 3,
    });
    const out = await compactAfterOffload([withPolicy, without], bench.deps);
    assert.deepEqual(out, [{ table: 'policy_trades', status: 'compacted', partitions: 1, filesBefore: 3, filesAfter: 1 }]);
    assert.deepEqual(await filesPerPartition(withPolicy), {
      'exchange_timestamp_day=2024-04-01': 1,
      'exchange_timestamp_day=2024-04-02': 3,
    });
    assert.deepEqual(Object.values(await filesPerPartition(without)), [3, 3], 'a table without a policy is left alone');
    const agree = await assertAgree(bench, withPolicy);
    assert.equal(agree.icebergRows, 6);
    // Nothing more to do on the next tick.
    const again = await compactAfterOffload([withPolicy], bench.deps);
    assert.deepEqual(
      again.map((c) => [c.status, c.partitions]),
      [['nothing-to-compact', 0]],
    );
  });

  it('reports a table another worker holds as busy and goes on', async () => {
    const lock = await bench.deps.state.tryLockTable('policy_trades');
    assert.ok(lock);
    try {
      const out = await compactAfterOffload([withPolicy], bench.deps);
      assert.deepEqual(
        out.map((c) => [c.table, c.status, c.partitions]),
        [['policy_trades', 'busy', 0]],
      );
    } finally {
      await lock.release();
    }
  });
});
