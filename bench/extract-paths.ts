// The extraction paths measured on the same rows, on the current ClickHouse engine (the chdb-backed test
// server): ClickHouse → local file (FORMAT Native transcoded to PLAIN Parquet, FORMAT Parquet or FORMAT CSV),
// then DuckDB reads it (read_parquet or read_csv) and writes the Iceberg data file (Parquet, zstd) — what the offload does per slice, without the
// upload and the commit. The production tables silver_trades (UUID, enums, LowCardinality, Decimal128,
// Array, Map, Bool, Nullable(UInt64), DateTime64(6)) and bronze_trades_binance (DateTime64(3), Decimal(18,8),
// UInt64) with BENCH_ROWS rows each (default 1,000,000). Each path runs BENCH_REPEAT times (default 3); the
// best run counts. Both paths must produce the same rows (count and a checksum of every value), or the
// bench fails.
//
//   node --import tsx bench/extract-paths.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseCapabilities, ClickHouseSource } from '../src/clickhouse/client.js';
import type { ColumnInfo } from '../src/clickhouse/types.js';
import { extractionPath, type ExtractionPath } from '../src/clickhouse/extract/format.js';
import { duckdbTypeOfColumn } from '../src/mapping/clickhouse-to-iceberg.js';
import { openDuckDB, type DuckDBSession } from '../src/iceberg/parquet.js';
import { openServices } from '../src/pipeline/services.js';
import { startChdbServer } from '../test/support/chdb-server.js';
import { DATABASE, productionDdl, utcDayStart } from '../test/support/k2-production.js';

const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
const repeat = Number(process.env.BENCH_REPEAT ?? 3);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Measured {
  extractS: number;
  duckS: number;
  bytes: number;
  checksum: string;
}

async function once(
  ch: ClickHouseSource,
  path: ExtractionPath,
  table: string,
  duck: DuckDBSession,
  dir: string,
  settings: Record<string, string | number>,
): Promise<Measured> {
  const file = join(dir, `slice.${path.extension}`);
  const t0 = performance.now();
  const extracted = await path.extract(ch, path.query(`${DATABASE}.${table}`, '1'), file, { settings });
  const t1 = performance.now();
  const out = join(dir, 'data.parquet');
  await duck.connection.run(`COPY (${path.relation([file])}) TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
  const t2 = performance.now();
  const [r] = (
    await duck.connection.runAndReadAll(
      `SELECT count(*) AS n, CAST(sum(hash(CAST(to_json(t) AS VARCHAR))) AS VARCHAR) AS h FROM read_parquet('${out}') AS t`,
    )
  ).getRowObjectsJS();
  await rm(file, { force: true });
  await rm(out, { force: true });
  return { extractS: (t1 - t0) / 1000, duckS: (t2 - t1) / 1000, bytes: extracted.bytes, checksum: `${r.n}:${r.h}` };
}

async function main(): Promise<void> {
  const server = await startChdbServer({ pool: 2 });
  const dir = await mkdtemp(join(tmpdir(), 'offload-bench-paths-'));
  const services = openServices({ CLICKHOUSE_URL: server.url }, 'bench');
  const ch = services.clickhouse;
  const duck = await openDuckDB({ threads: 2, memoryLimit: '1GB', tempDirectory: join(dir, 'spill') });
  try {
    await ch.command(`CREATE DATABASE ${DATABASE}`);
    for (const sql of productionDdl().slice(0, 3)) await ch.command(sql);
    const base = utcDayStart(new Date(), 2).toString();
    await ch.command(
      `INSERT INTO ${DATABASE}.silver_trades SELECT
         generateUUIDv4(number), concat('BINANCE-', toString(number)), ['binance', 'kraken'][number % 2 + 1],
         ['BTCUSDT', 'ETHUSDT', 'XBTUSD'][number % 3 + 1], ['BTC/USDT', 'ETH/USDT', 'BTC/USD'][number % 3 + 1], 'crypto', 'USDT',
         toDecimal128(concat(toString(30000 + number % 5000), '.', leftPad(toString((number * 7919) % 100000000), 8, '0')), 8),
         toDecimal128(concat(toString(number % 7), '.', leftPad(toString((number * 104729) % 100000000), 8, '0')), 8),
         toDecimal128(concat(toString(number % 99991), '.', leftPad(toString((number * 31) % 100000000), 8, '0')), 8),
         ['BUY', 'SELL', 'SELL_SHORT', 'UNKNOWN'][number % 4 + 1], [[], ['@'], ['T', '']][number % 3 + 1],
         fromUnixTimestamp64Micro(toInt64(${base} + number * 61237)), fromUnixTimestamp64Micro(toInt64(${base} + number * 61237 + 1234)),
         fromUnixTimestamp64Micro(toInt64(${base} + number * 61237 + 5000)),
         if(number % 7 = 0, NULL, number * 1000003), if(number % 2 = 1, NULL, number),
         map('kafka_offset', toString(number), 'kafka_partition', '0'), number % 17 != 0, if(number % 17 = 0, ['invalid_price'], [])
       FROM numbers(${rows})`,
    );
    await ch.command(
      `INSERT INTO ${DATABASE}.bronze_trades_binance SELECT
         fromUnixTimestamp64Milli(toInt64(intDiv(${base}, 1000) + intDiv(number, 3) * 61)), 7000000000 + number, ['BTCUSDT', 'ETHUSDT', 'XBTUSD'][number % 3 + 1],
         toDecimal64(concat(toString(20000 + number % 5000), '.', leftPad(toString((number * 7919) % 100000000), 8, '0')), 8),
         toDecimal64(concat(toString(number % 7), '.', leftPad(toString((number * 104729) % 100000000), 8, '0')), 8),
         toDecimal64(concat(toString(number % 99991), '.', leftPad(toString((number * 31) % 100000000), 8, '0')), 8),
         fromUnixTimestamp64Milli(toInt64(intDiv(${base}, 1000) + number * 20)), 1000 + number, number % 3, toDateTime(intDiv(${base}, 1000000))
       FROM numbers(${rows})`,
    );
    const caps = await ch.capabilities();
    console.log(`ClickHouse ${caps.version} (chdb test server), ${fmt(rows)} rows per table, best of ${repeat}, DuckDB 2 threads\n`);
    const variants: Array<{ label: string; caps: ClickHouseCapabilities; settings: Record<string, string | number> }> = [
      { label: 'Native → PLAIN Parquet [chosen]', caps: { ...caps, nativeExtraction: true }, settings: {} },
      { label: 'CSV → read_csv', caps: { ...caps, nativeExtraction: false, parquetExtraction: false }, settings: {} },
      { label: 'Parquet (lz4) → read_parquet', caps: { ...caps, nativeExtraction: false, parquetExtraction: true }, settings: {} },
      {
        label: 'Parquet (none) → read_parquet',
        caps: { ...caps, nativeExtraction: false, parquetExtraction: true },
        settings: { output_format_parquet_compression_method: 'none' },
      },
      {
        label: 'Parquet (zstd) → read_parquet',
        caps: { ...caps, nativeExtraction: false, parquetExtraction: true },
        settings: { output_format_parquet_compression_method: 'zstd' },
      },
    ];
    for (const table of ['silver_trades', 'bronze_trades_binance']) {
      const columns: ColumnInfo[] = await ch.columns({ database: DATABASE, table });
      console.log(`${table} (${columns.length} columns)`);
      console.log('  path                                     extract s  DuckDB s  total s   rows/s      file MB');
      const checksums = new Set<string>();
      for (const v of variants) {
        const path = extractionPath(columns, v.caps, `${DATABASE}.${table}`, duckdbTypeOfColumn);
        let best: Measured | undefined;
        for (let i = 0; i < repeat; i++) {
          const m = await once(ch, path, table, duck, dir, v.settings);
          checksums.add(m.checksum);
          if (!best || m.extractS + m.duckS < best.extractS + best.duckS) best = m;
        }
        const total = best!.extractS + best!.duckS;
        console.log(
          `  ${v.label.padEnd(40)} ${best!.extractS.toFixed(2).padStart(9)} ${best!.duckS.toFixed(2).padStart(9)} ${total.toFixed(2).padStart(8)} ${fmt(rows / total).padStart(11)} ${(best!.bytes / 1048576).toFixed(1).padStart(10)}`,
        );
      }
      if (checksums.size !== 1) throw new Error(`${table}: the paths produced different rows: ${[...checksums].join(' ≠ ')}`);
      console.log(`  same rows on every path (count and checksum ${[...checksums][0]})\n`);
    }
  } finally {
    duck.close();
    await services.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
