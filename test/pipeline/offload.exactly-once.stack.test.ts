// The exactly-once protocol on the real stack (ClickHouse 18.16, PostgreSQL, S3): every test ends with
// ClickHouse's rows up to the watermark and the Iceberg table agreeing as multisets, the watermark equal to
// the current snapshot's offload.watermark, and pyiceberg reading the table through the same catalog.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { seedTrades } from '../../src/dev/seed.js';
import * as runs from '../../src/state/runs.js';
import * as watermarks from '../../src/state/watermarks.js';
import { OffloadEvents, type OffloadEvent } from '../../src/pipeline/events.js';
import { currentTable } from '../../src/pipeline/recover.js';
import {
  assertAgree,
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
  bench = await openBench('exactly');
});
after(async () => {
  await bench?.close();
});

const at = (base: Date, seconds: number) => new Date(base.getTime() + seconds * 1000);
const snapshotsOf = async (target: string) => {
  const [namespace, name] = target.split('.');
  const t = await currentTable(bench.catalog, bench.io, { namespace, name });
  return t ? t.metadata.snapshots.length : 0;
};

describe('exactly-once offload of a bronze table', { skip: pyicebergSkip || undefined }, () => {
  it('offloads every row old enough once, and a second run adds nothing', async () => {
    const end = new Date(Date.now() - 3_600_000);
    const seeded = await seedTrades(bench.ch, {
      rows: 20_000,
      start: new Date(end.getTime() - 2 * 86_400_000),
      end,
      database: bench.chDatabase,
    });
    const cfg = bronzeConfig(bench, 'binance');
    const first = await offload(bench, cfg);
    assert.equal(first.status, 'committed');
    assert.equal(first.status === 'committed' && first.rows, seeded.rows.binance);
    // 2 days of trades: 2 or 3 day partitions, one file each.
    assert.ok(
      first.status === 'committed' && first.files >= 2 && first.files <= 3,
      `files: ${first.status === 'committed' && first.files}`,
    );
    const agree = await assertAgree(bench, cfg);
    assert.equal(agree.icebergRows, seeded.rows.binance);

    const snapshots = await snapshotsOf(cfg.target);
    const second = await offload(bench, cfg);
    assert.equal(second.status, 'up-to-date');
    assert.equal(await snapshotsOf(cfg.target), snapshots, 'an up-to-date run adds no snapshot');
    const latest = (await runs.list(bench.pool, { table: cfg.name, limit: 1 }))[0];
    assert.equal(latest.status, 'up_to_date');
    await assertAgree(bench, cfg);
  });

  it('picks up new rows on the next run', async () => {
    const cfg = bronzeConfig(bench, 'binance');
    const before = (await watermarks.read(bench.pool, cfg.name))!.watermark;
    const start = new Date(Date.parse(before.timestamp) + 1000);
    const end = new Date(Date.now() - 600_000);
    const seeded = await seedTrades(bench.ch, { rows: 5_000, start, end, database: bench.chDatabase });
    const r = await offload(bench, cfg);
    assert.equal(r.status, 'committed');
    assert.equal(r.status === 'committed' && r.rows, seeded.rows.binance);
    const agree = await assertAgree(bench, cfg);
    assert.equal(agree.icebergRows, 12_000 + seeded.rows.binance);
  });

  it("never splits, loses or repeats rows sharing a timestamp — batches end on whole timestamps, also with Kraken's constant sequence number as tie-break", async () => {
    const t0 = new Date('2025-03-01T10:00:00Z');
    const krakenChannel = '119930881';
    const rows = [
      ...Array.from({ length: 5 }, (_, i) => ({ exchange_timestamp: chTime(t0), kafka_offset: String(i) })),
      ...Array.from({ length: 4 }, (_, i) => ({ exchange_timestamp: chTime(at(t0, 1)), kafka_offset: String(5 + i) })),
      ...Array.from({ length: 2 }, (_, i) => ({ exchange_timestamp: chTime(at(t0, 2)), kafka_offset: String(9 + i) })),
    ].map((r, i) => ({
      ...r,
      symbol: 'XBT/USD',
      sequence_number: krakenChannel,
      exchange_timestamp_ms: 7,
      event_time: r.exchange_timestamp,
      ingestion_timestamp: r.exchange_timestamp,
      price: `${64000 + i}.10000000`,
    }));
    const source = await bronzeLikeTable(bench, 'kraken_shared_seconds');
    await insertBronze(bench, source, rows);
    // The tie-break is the channel id: the same value on every row. It must not matter.
    const cfg = bronzeConfig(bench, 'kraken', {
      name: 'kraken_shared_seconds',
      source,
      target: 'cold.kraken_shared_seconds',
      tieBreak: 'sequence_number',
    });
    const committed: OffloadEvent[] = [];
    const events = new OffloadEvents();
    events.on((e) => e.kind === 'committed' && committed.push(e));
    const r = await offload(bench, cfg, { now: at(t0, 3600), maxRowsPerBatch: 3, events });
    assert.equal(r.status, 'committed');
    // 11 rows, at most 3 a batch — but never part of a second: 5, 4, 2.
    assert.deepEqual(
      committed.map((e) => e.kind === 'committed' && [e.rows, e.watermark.timestamp, e.watermark.tieBreak]),
      [
        [5, '2025-03-01T10:00:00.000000Z', krakenChannel],
        [4, '2025-03-01T10:00:01.000000Z', krakenChannel],
        [2, '2025-03-01T10:00:02.000000Z', krakenChannel],
      ],
    );
    const agree = await assertAgree(bench, cfg);
    assert.equal(agree.icebergRows, 11);
  });

  it("takes a row that arrives later at the watermark's own timestamp when its tie-break (ingest offset) is above the watermark's, exactly once", async () => {
    const t0 = new Date('2025-04-01T08:00:00Z');
    const source = await bronzeLikeTable(bench, 'kraken_by_offset');
    const cfg = bronzeConfig(bench, 'kraken', { name: 'kraken_by_offset', source, target: 'cold.kraken_by_offset' });
    const row = (offset: number, seconds: number) => ({
      exchange_timestamp: chTime(at(t0, seconds)),
      event_time: chTime(at(t0, seconds)),
      ingestion_timestamp: chTime(at(t0, seconds)),
      kafka_offset: String(offset),
      symbol: 'ETH/USD',
      sequence_number: '119930888',
    });
    await insertBronze(bench, source, [row(100, 0), row(101, 0), row(102, 1), row(103, 1)]);
    const r1 = await offload(bench, cfg, { now: at(t0, 3600) });
    assert.equal(r1.status === 'committed' && r1.rows, 4);
    assert.deepEqual(r1.status === 'committed' && r1.watermark, { timestamp: '2025-04-01T08:00:01.000000Z', tieBreak: '103' });
    // Two more trades stamped with the watermark's second arrive late, later in the ingest log.
    await insertBronze(bench, source, [row(104, 1), row(105, 1)]);
    const r2 = await offload(bench, cfg, { now: at(t0, 3600) });
    assert.equal(r2.status === 'committed' && r2.rows, 2);
    assert.deepEqual(r2.status === 'committed' && r2.watermark, { timestamp: '2025-04-01T08:00:01.000000Z', tieBreak: '105' });
    const r3 = await offload(bench, cfg, { now: at(t0, 3600) });
    assert.equal(r3.status, 'up-to-date');
    const agree = await assertAgree(bench, cfg);
    assert.equal(agree.icebergRows, 6);
  });

  it('leaves rows newer than now − lag for later, and takes late rows that arrive inside the lag', async () => {
    const source = await bronzeLikeTable(bench, 'binance_lag');
    const cfg = bronzeConfig(bench, 'binance', { name: 'binance_lag', source, target: 'cold.binance_lag', lag: '5m' });
    const now = new Date('2025-05-01T12:00:00Z');
    const row = (offset: number, secondsBeforeNow: number) => {
      const t = chTime(at(now, -secondsBeforeNow));
      return { exchange_timestamp: t, event_time: t, ingestion_timestamp: t, kafka_offset: String(offset) };
    };
    // 10 and 9 minutes old: taken. 2 minutes old: inside the lag, left for later.
    await insertBronze(bench, source, [row(1, 600), row(2, 540), row(3, 120)]);
    const r1 = await offload(bench, cfg, { now });
    assert.equal(r1.status === 'committed' && r1.rows, 2);
    assert.equal(r1.status === 'committed' && r1.watermark.timestamp, '2025-05-01T11:51:00.000000Z');
    // A late trade, stamped 4 minutes before `now` (after the watermark), arrives now; 6 minutes later both are taken.
    await insertBronze(bench, source, [row(4, 240)]);
    const r2 = await offload(bench, cfg, { now: at(now, 360) });
    assert.equal(r2.status === 'committed' && r2.rows, 2);
    const agree = await assertAgree(bench, cfg);
    assert.equal(agree.icebergRows, 4);
  });

  it('reports busy and writes nothing when another worker holds the table; then the holder commits once', async () => {
    const cfg = bronzeConfig(bench, 'binance');
    const before = (await watermarks.read(bench.pool, cfg.name))!.watermark;
    const start = new Date(Date.parse(before.timestamp) + 1000);
    await seedTrades(bench.ch, { rows: 30_000, start, end: new Date(Date.now() - 400_000), database: bench.chDatabase });
    const snapshots = await snapshotsOf(cfg.target);
    const events = new OffloadEvents();
    let second: Promise<Awaited<ReturnType<typeof offload>>> | undefined;
    events.on((e) => {
      // The first worker is extracting (it holds the lock): a second one starts now.
      if (e.kind === 'phase' && e.phase === 'extract' && !second) second = offload(bench, cfg);
    });
    const first = await offload(bench, cfg, { events });
    const other = await second!;
    assert.equal(first.status, 'committed');
    assert.equal(other.status, 'busy');
    assert.equal(await snapshotsOf(cfg.target), snapshots + 1, 'one commit, by the worker that held the table');
    await assertAgree(bench, cfg);
  });
});
