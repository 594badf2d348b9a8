// The per-partition checksum on real data, ClickHouse 18.16: the nine k2 seed tables are offloaded, then
// for every Iceberg partition of every table the row count and the checksum of every column are computed
// twice — by ClickHouse over its rows up to the watermark (src/clickhouse/checksum.ts, no row leaves the
// server) and by DuckDB over the Parquet files the offload wrote (src/iceberg/checksum.ts) — and must be
// equal. A ClickHouse mutation after the offload (one day's prices changed, one row deleted) then shows in
// exactly the partition it touched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TableConfig } from '../../src/config/tables.js';
import { qualifiedName } from '../../src/clickhouse/sql.js';
import { seedTrades } from '../../src/dev/seed.js';
import { runLayers } from '../../src/pipeline/layers.js';
import { offloadTable } from '../../src/pipeline/offload.js';
import { assertSidesAgree, checksumBothSides } from '../support/checksums.js';
import { openBench, projectTables, tableConfig, type Bench } from '../support/offload-stack.js';

let bench: Bench;
let tables: TableConfig[];

before(async () => {
  bench = await openBench('cksum');
  const end = new Date(Date.now() - 2 * 86_400_000);
  await seedTrades(bench.ch, {
    rows: 12_000,
    start: new Date(end.getTime() - 2 * 86_400_000),
    end,
    database: bench.chDatabase,
    seed: 'checksum',
  });
  tables = projectTables(bench);
  const outcomes = await runLayers(tables, bench.deps);
  assert.deepEqual(
    outcomes.map((o) => o.status),
    tables.map(() => 'committed'),
  );
});
after(async () => {
  await bench?.close();
});

const sides = (t: TableConfig) =>
  checksumBothSides({ ch: bench.ch, pool: bench.pool, catalog: bench.catalog, io: bench.io, duck: bench.duck.connection }, t);

describe('per-partition checksums, ClickHouse 18.16 against the offloaded Iceberg tables', () => {
  it('agree on every partition of the nine k2 tables', async (ctx) => {
    let partitions = 0;
    let rows = 0n;
    for (const t of tables) {
      const both = await sides(t);
      const agreed = assertSidesAgree(t.name, both);
      partitions += agreed.partitions;
      rows += agreed.rows;
      ctx.diagnostic(`${t.name}: ${agreed.partitions} partitions, ${both.columns} columns agree`);
    }
    ctx.diagnostic(`${partitions} partitions, ${rows} rows in all`);
    assert.ok(partitions >= 9 * 2, `${partitions} partitions compared`);
  });

  it('find exactly the partition a ClickHouse mutation changed after the offload', async () => {
    const t = tables.find((x) => x.name === 'bronze_trades_binance')!;
    const before = await sides(t);
    const [day] = [...before.iceberg.keys()].sort();
    const dayNumber = Number(JSON.parse(day)[0]);
    const source = qualifiedName(t.sourceTable!);
    const inDay = `intDiv(toUInt32(exchange_timestamp), 86400) = ${dayNumber}`;
    await bench.ch.command(`ALTER TABLE ${source} UPDATE price = price + toDecimal64(1, 8) WHERE ${inDay} AND kafka_offset % 97 = 5`);
    await waitForMutations(source);
    const after = await sides(t);
    for (const [key, ice] of after.iceberg) {
      const ch = after.clickhouse.get(key)!;
      if (key === day) {
        assert.equal(ch.rows, ice.rows, 'an UPDATE keeps the count');
        assert.notEqual(ch.checksum, ice.checksum, `the changed day ${before.paths.get(key)} differs`);
      } else assert.deepEqual(ch, ice, `${key} untouched`);
    }
    await bench.ch.command(`ALTER TABLE ${source} DELETE WHERE ${inDay} AND kafka_offset % 97 = 6`);
    await waitForMutations(source);
    const deleted = await sides(t);
    assert.ok(deleted.clickhouse.get(day)!.rows < deleted.iceberg.get(day)!.rows, 'a DELETE shows in the count');
  });
});

describe('per-partition checksums of edge values, ClickHouse 18.16', () => {
  it('agree on floats (NaN, ±inf, −0, subnormal), FixedString with NULs, NULLs in arrays, enums, UInt64 max, wide decimals', async (ctx) => {
    const table = `${bench.chDatabase}.edge_values`;
    await bench.ch.command(`CREATE TABLE ${table} (
      id UInt32, ts DateTime, d Date, f32 Float32, f64 Nullable(Float64), fs FixedString(4), an Array(Nullable(Decimal(18, 8))), wide Decimal(38, 8),
      u Nullable(UUID), e Enum16('minus' = -5, 'big' = 300), i8 Int8, u64 UInt64, lc LowCardinality(Nullable(String)), d9 Decimal(9, 3), flag Nullable(UInt8)
    ) ENGINE = MergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (ts, id)`);
    await bench.ch.command(`INSERT INTO ${table} VALUES
      (1, '2026-02-09 00:00:00', '1970-01-01', nan, -nan, 'a\\0\\0\\0', [NULL, -0.00000001, 9999999999.99999999], 99999999999999999999999999999.99999999, NULL, 'minus', -128, 18446744073709551615, NULL, -999999.999, NULL),
      (2, '2026-02-09 23:59:59', '2106-02-07', inf, -inf, 'abcd', [], -0.00000001, '00000000-0000-0000-0000-000000000000', 'big', 127, 0, '', 0.001, 0),
      (3, '2026-02-10 12:00:00', '2026-02-10', -0., 5e-324, '\\0\\0\\0\\0', [1.5], 0, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'minus', 0, 1, 'x', 0, 1),
      (4, '2026-02-10 12:00:00', '2026-02-10', 3.4028235e38, 2.2250738585072014e-308, 'ab\\0d', [-9999999999.99999999, NULL], -99999999999999999999999999999.99999999, '0191e3b2-7c4a-7d2e-9f00-1234567890ab', 'big', -1, 9223372036854775808, 'LowCard', 123456.789, NULL),
      (5, '2026-02-10 23:00:00', '2026-02-10', 0.1, 0.1, 'zz\\0\\0', [0], 1234567890123456789012.5, NULL, 'big', 1, 42, NULL, -0.5, 255)`);
    const cfg = tableConfig(bench, {
      name: 'edge_values',
      layer: 'bronze',
      source: 'edge_values',
      cursor: 'ts',
      tieBreak: 'id',
      lag: '5m',
      target: 'cold.edge_values',
      partitionBy: ['day(ts)'],
    });
    const outcome = await offloadTable(cfg, bench.deps);
    assert.equal(outcome.status, 'committed');
    const agreed = assertSidesAgree(cfg.name, await sides(cfg));
    assert.deepEqual([agreed.partitions, agreed.rows], [2, 5n]);
    ctx.diagnostic(`edge_values: ${agreed.partitions} partitions, ${agreed.rows} rows agree`);
  });
});

/** Mutations run in the background on 18.16: wait (with a deadline) until none of the table's is pending. */
async function waitForMutations(qualified: string): Promise<void> {
  const [database, table] = qualified.replace(/`/g, '').split('.');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [r] = await bench.ch.query<{ n: string }>(
      `SELECT toString(count()) AS n FROM system.mutations WHERE database = '${database}' AND table = '${table}' AND is_done = 0`,
    );
    if (Number(r.n) === 0) return;
    if (Date.now() > deadline) throw new Error(`mutations on ${qualified} still pending after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
