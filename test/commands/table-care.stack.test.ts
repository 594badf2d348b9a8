// The table-care commands end to end, through the CLI with --json, on one bronze-shaped table offloaded 100
// times by a trickle: `offload compact` rewrites every partition to one file with the same multiset of rows
// (verify's checksums unchanged, pyiceberg and ClickHouse agree row for row); `offload verify` finds the one
// day a ClickHouse mutation changed after its offload (exit 7), `offload repair` replaces that partition and
// verify passes again (exit 0) with the watermark unchanged; `offload expire` removes the snapshots the
// trickle left, deleting exactly what it listed in its dry run, and the table still reads and verifies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TableConfig } from '../../src/config/tables.js';
import { quoteIdentifier } from '../../src/clickhouse/sql.js';
import { readPartitionStats } from '../../src/iceberg/reader.js';
import { currentTable } from '../../src/pipeline/recover.js';
import * as watermarks from '../../src/state/watermarks.js';
import {
  assertAgree,
  bronzeLikeTable,
  insertBronze,
  offload,
  openBench,
  pyicebergSkip,
  runCli,
  tableConfig,
  writeConfigFile,
  type Bench,
} from '../support/offload-stack.js';

const OFFLOADS = 100;
const ROWS_PER_OFFLOAD = 3;
// Every batch half an hour after the one before: 100 batches over three days, so three day partitions.
const START = Date.parse('2024-03-01T00:00:00Z');
const STEP_MS = 30 * 60_000;

let bench: Bench;
let cfg: TableConfig;
let config: string;

interface VerifyDoc {
  tables: Array<{
    status: string;
    checksums: { partitions: Array<{ path: string; status: string; clickhouse: Numbers | null; iceberg: Numbers | null }> } | null;
  }>;
}
interface Numbers {
  rows: string | number;
  checksum: string;
}

const cli = async (args: string[]) => {
  const r = await runCli(bench, [...args, '--json'], { config });
  const doc = r.stdout.trim() ? (JSON.parse(r.stdout) as unknown) : null;
  return { ...r, doc };
};

async function filesPerPartition(): Promise<Map<string, number>> {
  const table = await currentTable(bench.catalog, bench.io, { namespace: 'cold', name: 'care_trades' });
  assert.ok(table);
  return new Map((await readPartitionStats(bench.io, table.metadata)).map((p) => [p.path, p.fileCount]));
}

const numbersOf = (doc: VerifyDoc) =>
  Object.fromEntries(doc.tables[0].checksums!.partitions.map((p) => [p.path, `${p.iceberg?.rows}/${p.iceberg?.checksum}`]));

before(async () => {
  if (pyicebergSkip) return;
  bench = await openBench('care');
  await bronzeLikeTable(bench, 'care_trades');
  cfg = tableConfig(bench, {
    name: 'care_trades',
    layer: 'bronze',
    source: 'care_trades',
    cursor: 'exchange_timestamp',
    tieBreak: 'kafka_offset',
    lag: '5m',
    target: 'cold.care_trades',
    partitionBy: ['day(exchange_timestamp)'],
  });
  config = await writeConfigFile([cfg]);
  for (let i = 0; i < OFFLOADS; i++) {
    const at = new Date(START + i * STEP_MS).toISOString().slice(0, 19).replace('T', ' ');
    await insertBronze(
      bench,
      'care_trades',
      Array.from({ length: ROWS_PER_OFFLOAD }, (_, j) => ({
        exchange_timestamp: at,
        exchange_timestamp_ms: j,
        kafka_offset: String(i * ROWS_PER_OFFLOAD + j),
        sequence_number: String(10_000 + i * ROWS_PER_OFFLOAD + j),
        price: `${40_000 + i}.${String(j).padStart(8, '0')}`,
        event_time: at,
        ingestion_timestamp: at,
      })),
    );
    const r = await offload(bench, cfg);
    assert.equal(r.status, 'committed', `offload ${i + 1}`);
  }
});

after(async () => {
  await bench?.close();
});

describe('offload compact, verify, repair and expire (CLI, --json)', { skip: pyicebergSkip }, () => {
  let checksumsBefore: Record<string, string>;

  it('verify: every partition of the trickled table matches ClickHouse (exit 0)', async () => {
    const r = await cli(['verify', '--table', 'care_trades']);
    assert.equal(r.exitCode, 0, r.stderr);
    const doc = r.doc as VerifyDoc;
    assert.equal(doc.tables[0].status, 'match');
    const parts = doc.tables[0].checksums!.partitions;
    assert.equal(parts.length, 3);
    assert.equal(
      parts.reduce((s, p) => s + Number(p.iceberg!.rows), 0),
      OFFLOADS * ROWS_PER_OFFLOAD,
    );
    for (const p of parts) assert.equal(p.status, 'match', p.path);
    checksumsBefore = numbersOf(doc);
  });

  it('compact --dry-run plans every partition and writes nothing', async () => {
    const before = await filesPerPartition();
    assert.equal(
      [...before.values()].reduce((a, b) => a + b, 0),
      OFFLOADS,
      'one file per offload',
    );
    const r = await cli(['compact', '--table', 'care_trades', '--min-files', '2', '--dry-run']);
    assert.equal(r.exitCode, 0, r.stderr);
    const t = (r.doc as { tables: Array<{ status: string; partitions: Array<{ status: string }> }> }).tables[0];
    assert.equal(t.status, 'dry-run');
    assert.equal(t.partitions.length, 3);
    for (const p of t.partitions) assert.equal(p.status, 'planned');
    assert.deepEqual(await filesPerPartition(), before);
  });

  it('compact rewrites every partition to one file; the multiset of rows is unchanged (checksums, pyiceberg, ClickHouse)', async () => {
    const r = await cli(['compact', '--table', 'care_trades', '--min-files', '2']);
    assert.equal(r.exitCode, 0, r.stderr);
    const t = (r.doc as { tables: Array<{ status: string; partitions: Array<{ status: string; filesAfter: number; runId: string }> }> })
      .tables[0];
    assert.equal(t.status, 'compacted');
    for (const p of t.partitions) {
      assert.equal(p.status, 'compacted');
      assert.equal(p.filesAfter, 1);
      assert.match(p.runId, /-/);
    }
    assert.deepEqual([...(await filesPerPartition()).values()], [1, 1, 1]);
    const v = await cli(['verify', '--table', 'care_trades']);
    assert.equal(v.exitCode, 0, v.stderr);
    assert.deepEqual(numbersOf(v.doc as VerifyDoc), checksumsBefore);
    const agree = await assertAgree(bench, cfg);
    assert.equal(agree.icebergRows, OFFLOADS * ROWS_PER_OFFLOAD);
    // Nothing left to compact: a second pass changes nothing.
    const again = await cli(['compact', '--table', 'care_trades', '--min-files', '2']);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal((again.doc as { tables: Array<{ status: string }> }).tables[0].status, 'nothing-to-compact');
  });

  it('verify finds the day a ClickHouse mutation changed after its offload (exit 7); repair replaces it; verify passes (exit 0)', async () => {
    const day = '2024-03-02';
    // ClickHouse 18.16 has no mutations_sync: the mutation is waited for in system.mutations.
    await bench.ch.command(
      `ALTER TABLE ${quoteIdentifier(bench.chDatabase)}.care_trades UPDATE price = price + 1 WHERE toDate(exchange_timestamp) = '${day}'`,
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [pending] = await bench.ch.query<{ n: string | number }>(
        `SELECT count() AS n FROM system.mutations WHERE database = '${bench.chDatabase}' AND table = 'care_trades' AND is_done = 0`,
      );
      if (Number(pending.n) === 0) break;
      assert.ok(Date.now() < deadline, 'the mutation finishes within a minute');
      await new Promise((r) => setTimeout(r, 200));
    }
    const watermark = (await watermarks.read(bench.pool, 'care_trades'))!.watermark;
    const v = await cli(['verify', '--table', 'care_trades']);
    assert.equal(v.exitCode, 7, v.stderr);
    const doc = v.doc as VerifyDoc;
    assert.equal(doc.tables[0].status, 'differ');
    const differ = doc.tables[0].checksums!.partitions.filter((p) => p.status === 'differ');
    assert.deepEqual(
      differ.map((p) => p.path),
      [`exchange_timestamp_day=${day}`],
    );
    assert.equal(Number(differ[0].clickhouse!.rows), Number(differ[0].iceberg!.rows), 'same rows, other values');

    // One partition alone: ClickHouse is asked for its rows only.
    const one = await cli(['verify', '--table', 'care_trades', '--partition', `exchange_timestamp_day=${day}`]);
    assert.equal(one.exitCode, 7, one.stderr);
    assert.deepEqual(
      (one.doc as VerifyDoc).tables[0].checksums!.partitions.map((p) => [p.path, p.status]),
      [[`exchange_timestamp_day=${day}`, 'differ']],
    );
    const other = await cli(['verify', '--table', 'care_trades', '--partition', 'exchange_timestamp_day=2024-03-01']);
    assert.equal(other.exitCode, 0, other.stderr);
    assert.equal((other.doc as VerifyDoc).tables[0].checksums!.partitions.length, 1);

    const r = await cli(['repair', '--table', 'care_trades', '--partition', `exchange_timestamp_day=${day}`]);
    assert.equal(r.exitCode, 0, r.stderr);
    const rep = r.doc as { status: string; before: { rows: number }; after: { rows: number }; runId: string };
    assert.equal(rep.status, 'repaired');
    assert.equal(rep.after.rows, rep.before.rows);
    assert.equal(Number(differ[0].clickhouse!.rows), rep.after.rows);

    const after = await cli(['verify', '--table', 'care_trades']);
    assert.equal(after.exitCode, 0, after.stderr);
    assert.deepEqual((await watermarks.read(bench.pool, 'care_trades'))!.watermark, watermark, 'repair leaves the watermark');
    await assertAgree(bench, cfg);
  });

  it('expire removes the trickle’s old snapshots, deleting exactly what its dry run listed; the table still verifies', async () => {
    const flags = ['expire', '--table', 'care_trades', '--older-than', '0s', '--retain-last', '1'];
    const dry = await cli([...flags, '--dry-run']);
    assert.equal(dry.exitCode, 0, dry.stderr);
    type ExpireDoc = { tables: Array<{ status: string; expiredSnapshots: string[]; deleted: Record<string, string[]> }> };
    const planned = (dry.doc as ExpireDoc).tables[0];
    assert.equal(planned.status, 'dry-run');
    // 100 offloads, 3 compactions, 1 repair: all but the newest go.
    assert.equal(planned.expiredSnapshots.length, OFFLOADS + 3);
    assert.ok(planned.deleted.dataFiles.length >= OFFLOADS, 'the small files compaction replaced');
    const r = await cli(flags);
    assert.equal(r.exitCode, 0, r.stderr);
    const done = (r.doc as ExpireDoc).tables[0];
    assert.equal(done.status, 'expired');
    assert.deepEqual(done.expiredSnapshots, planned.expiredSnapshots);
    assert.deepEqual(done.deleted, planned.deleted);
    const v = await cli(['verify', '--table', 'care_trades']);
    assert.equal(v.exitCode, 0, v.stderr);
    await assertAgree(bench, cfg);
  });

  it('compact, repair and expire wait for no one: a table another worker holds is busy (exit 5), nothing done', async () => {
    const lock = await bench.deps.state.tryLockTable('care_trades');
    assert.ok(lock);
    try {
      for (const args of [
        ['compact', '--table', 'care_trades', '--min-files', '2'],
        ['repair', '--table', 'care_trades', '--partition', 'exchange_timestamp_day=2024-03-01'],
        ['expire', '--table', 'care_trades', '--older-than', '0s'],
      ]) {
        const r = await cli(args);
        assert.equal(r.exitCode, 5, `${args[0]}: ${r.stderr}`);
        const doc = r.doc as { status?: string; tables?: Array<{ status: string }> };
        assert.equal(doc.status ?? doc.tables?.[0].status, 'busy', args[0]);
      }
    } finally {
      await lock.release();
    }
  });

  it('refuses bad command lines with one line: exit 2, or 3 for a table the configuration does not have', async () => {
    for (const [args, code] of [
      [['repair', '--table', 'care_trades'], 2],
      [['compact', '--table', 'care_trades', '--min-files', '1'], 2],
      [['expire', '--table', 'care_trades', '--older-than', 'soon'], 2],
      [['verify', '--table', 'no_such_table'], 3],
    ] as const) {
      const r = await runCli(bench, [...args], { config });
      assert.equal(r.exitCode, code, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
