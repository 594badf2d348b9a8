// Seeding the real ClickHouse: exact row counts, the same rows for the same seed in two databases, ids and
// offsets that continue across runs, and follow mode that stops cleanly.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { clickhouseSourceFromEnv, type ClickHouseSource } from '../../src/clickhouse/client.js';
import { qualifiedName } from '../../src/clickhouse/sql.js';
import { applySeedSchema } from '../../src/dev/schema.js';
import { followTrades, seedTrades } from '../../src/dev/seed.js';
import { freshClickHouseDatabase, stackEnv } from '../support/stack.js';

type Db = Awaited<ReturnType<typeof freshClickHouseDatabase>>;
const dbs: Db[] = [];
let ch: ClickHouseSource;

async function freshSeedDatabase(): Promise<string> {
  const db = await freshClickHouseDatabase('seed');
  dbs.push(db);
  await applySeedSchema(ch, db.name);
  return db.name;
}

async function rows(database: string, table: string): Promise<number> {
  const [r] = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${qualifiedName({ database, table })}`);
  return Number(r.n);
}

/** Every bronze column of every row, in a canonical order, as one text (the kafka_offset is unique). */
async function bronzeText(database: string, table: string): Promise<string> {
  const rs = await ch.client.query({
    query: `SELECT * FROM ${qualifiedName({ database, table })} ORDER BY kafka_offset`,
    format: 'TabSeparated',
  });
  return rs.text();
}

before(() => {
  ch = clickhouseSourceFromEnv(stackEnv());
});

after(async () => {
  await ch.close();
  for (const db of dbs) await db.drop();
});

describe('seeding ClickHouse', () => {
  const start = new Date('2026-03-01T00:00:00Z');
  const end = new Date('2026-03-02T00:00:00Z');

  it('inserts exactly the rows asked for: 60 % Binance, 40 % Kraken, all of them in silver', async () => {
    const db = await freshSeedDatabase();
    const result = await seedTrades(ch, { rows: 25_001, start, end, seed: 'count', database: db, chunkRows: 7_000 });
    assert.deepEqual(result.rows, { binance: 15_001, kraken: 10_000 });
    assert.equal(await rows(db, 'bronze_trades_binance'), 15_001);
    assert.equal(await rows(db, 'bronze_trades_kraken'), 10_000);
    assert.equal(await rows(db, 'silver_trades'), 25_001);
    const [range] = await ch.query<{ lo: string; hi: string }>(
      `SELECT toString(min(exchange_timestamp)) AS lo, toString(max(exchange_timestamp)) AS hi FROM ${qualifiedName({ database: db, table: 'bronze_trades_kraken' })}`,
    );
    assert.ok(
      range.lo >= '2026-03-01 00:00:00' && range.hi < '2026-03-02 00:00:00',
      `timestamps ${range.lo} … ${range.hi} outside the day`,
    );
  });

  it('gives identical rows for the same seed, in two fresh databases', async () => {
    const a = await freshSeedDatabase();
    const b = await freshSeedDatabase();
    await seedTrades(ch, { rows: 20_000, start, end, seed: 'same', database: a });
    await seedTrades(ch, { rows: 20_000, start, end, seed: 'same', database: b, chunkRows: 3_000 });
    for (const table of ['bronze_trades_binance', 'bronze_trades_kraken']) {
      const ta = await bronzeText(a, table);
      assert.equal(ta.split('\n').length - 1, table.endsWith('binance') ? 12_000 : 8_000);
      assert.equal(ta, await bronzeText(b, table), `${table} differs between two seedings with the same seed`);
    }
  });

  it('continues trade ids and offsets when seeding again, so nothing is reused', async () => {
    const db = await freshSeedDatabase();
    await seedTrades(ch, { rows: 5_000, start, end, seed: 'one', database: db });
    await seedTrades(ch, { rows: 5_000, start: end, end: new Date(end.getTime() + 3_600_000), seed: 'two', database: db });
    for (const table of ['bronze_trades_binance', 'bronze_trades_kraken']) {
      const [r] = await ch.query<{ n: string; offsets: string; lo: string; hi: string }>(
        `SELECT count() AS n, uniqExact(kafka_offset) AS offsets, toString(min(kafka_offset)) AS lo, toString(max(kafka_offset)) AS hi FROM ${qualifiedName({ database: db, table })}`,
      );
      assert.equal(r.offsets, r.n, `${table}: kafka_offset must stay unique`);
      assert.equal(Number(r.hi) - Number(r.lo) + 1, Number(r.n), `${table}: offsets are contiguous`);
    }
    const [seq] = await ch.query<{ n: string; u: string }>(
      `SELECT count() AS n, uniqExact(sequence_number) AS u FROM ${qualifiedName({ database: db, table: 'bronze_trades_binance' })}`,
    );
    assert.equal(seq.u, seq.n, 'Binance trade ids stay unique');
    const [kraken] = await ch.query<{ u: string; s: string }>(
      `SELECT uniqExact(sequence_number) AS u, uniqExact(symbol) AS s FROM ${qualifiedName({ database: db, table: 'bronze_trades_kraken' })}`,
    );
    assert.equal(kraken.u, kraken.s, "Kraken's sequence_number is one channel id per pair");
  });

  it('follows with current timestamps at about the asked rate and stops cleanly when aborted', async () => {
    const db = await freshSeedDatabase();
    const stop = new AbortController();
    const began = Date.now();
    const batches: number[] = [];
    const running = followTrades(ch, { rate: 200, intervalMs: 250, database: db, signal: stop.signal, onBatch: (n) => batches.push(n) });
    const deadline = Date.now() + 20_000;
    while (batches.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    const total = await running;
    const elapsedSec = (Date.now() - began) / 1000;
    assert.ok(batches.length >= 4, `only ${batches.length} batches in 20 s`);
    assert.equal(
      total,
      batches.reduce((a, b) => a + b, 0),
    );
    assert.equal(
      (await rows(db, 'bronze_trades_binance')) + (await rows(db, 'bronze_trades_kraken')),
      total,
      'every reported trade is in the tables',
    );
    assert.ok(total <= 200 * elapsedSec + 1, `${total} trades in ${elapsedSec.toFixed(1)} s exceeds the rate`);
    const [age] = await ch.query<{ s: string }>(
      `SELECT toString(now() - max(exchange_timestamp)) AS s FROM ${qualifiedName({ database: db, table: 'bronze_trades_binance' })}`,
    );
    assert.ok(Number(age.s) < 30, `newest trade is ${age.s} s old: follow mode stamps trades with the current time`);
  });
});
