// `npm run bench`: the offload against the physical limit, measured in one run on the same rows.
//   (a) ClickHouse's own export over HTTP to nowhere: FORMAT Native, FORMAT CSV, and the CSV our extraction reads;
//   (b) the naive pipe a user would script: CSV export to a file, then DuckDB read_csv → Parquet (zstd);
//       no catalog, no watermark, no upload;
//   (c) the exactly-once offload end to end: extract, Parquet, upload to S3, stage, commit.
// For BENCH_ROWS (default 5,000,000) bronze rows and then twice as many (peak RSS must stay flat).
// Rows are realistic trades from the project's generator, in a fresh database on the local stack; b and c
// run in child processes so that each peak RSS is that pipeline's own.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { ClickHouseSource } from '../src/clickhouse/client.js';
import { quoteIdentifier } from '../src/clickhouse/sql.js';
import { columnTransport, extractionQuery } from '../src/clickhouse/extract/csv.js';
import { initState } from '../src/pipeline/init.js';
import { openServices } from '../src/pipeline/services.js';
import { feedPosition, insertTrades } from '../src/dev/seed.js';
import { seedSchemaStatements } from '../src/dev/schema.js';
import { TradeFeed } from '../src/dev/trades.js';
import { freshBucket, freshPostgresDatabase, stackEnv } from '../test/support/stack.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = stackEnv();
Object.assign(process.env, env);
const baseRows = Number(process.env.BENCH_ROWS ?? 5_000_000);
const sizes = (process.env.BENCH_SIZES ?? '1,2').split(',').map((m) => Math.round(baseRows * Number(m)));

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const secs = (ms: number) => (ms / 1000).toFixed(2);

/** POSTs a query to ClickHouse's HTTP interface (node:http: fetch's web streams are far slower) and counts the body. */
export function exportToNowhere(sql: string): Promise<{ ms: number; bytes: number }> {
  const u = new URL(env.CLICKHOUSE_URL);
  const auth = Buffer.from(`${decodeURIComponent(u.username) || 'default'}:${decodeURIComponent(u.password)}`).toString('base64');
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: '/', method: 'POST', headers: { Authorization: `Basic ${auth}` } },
      (res) => {
        let bytes = 0;
        let text = '';
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (res.statusCode !== 200 && text.length < 2000) text += chunk.toString();
        });
        res.on('end', () =>
          res.statusCode === 200
            ? resolve({ ms: performance.now() - t0, bytes })
            : reject(new Error(`ClickHouse: ${res.statusCode} ${text}`)),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(sql);
  });
}

async function seed(ch: ClickHouseSource, database: string, rows: number): Promise<void> {
  // Only the bronze table: no views fire on insert, so seeding is fast; the rows are the generator's.
  for (const s of seedSchemaStatements(database)) {
    if (/^CREATE DATABASE/.test(s) || /CREATE TABLE IF NOT EXISTS \S+\.bronze_trades_binance\b/.test(s)) await ch.command(s);
  }
  const end = Date.now() - 3_600_000;
  const start = end - 2 * 86_400_000;
  const feed = new TradeFeed('binance', 'bench', await feedPosition(ch, 'binance', database));
  const trades = feed.trades(rows, start, end);
  const chunk = 1_000_000;
  for (let done = 0; done < rows; done += chunk) {
    const n = Math.min(chunk, rows - done);
    await insertTrades(ch, 'binance', take(trades, n), database);
    process.stderr.write(`\rbench: seeded ${fmt(done + n)} / ${fmt(rows)} rows`);
  }
  process.stderr.write('\n');
  await ch.command(`OPTIMIZE TABLE ${quoteIdentifier(database)}.bronze_trades_binance FINAL`);
}

function* take<T>(it: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const r = it.next();
    if (r.done) return;
    yield r.value;
  }
}

async function child(args: string[], extraEnv: Record<string, string> = {}): Promise<Record<string, number>> {
  const r = await execa(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/child.ts'), ...args], {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    reject: false,
    timeout: 1_800_000,
  });
  if (r.exitCode !== 0) throw new Error(`bench child ${args[0]} failed (exit ${r.exitCode}):\n${r.stderr}`);
  return JSON.parse(String(r.stdout).trim().split('\n').pop()!) as Record<string, number>;
}

/** The offload as operators run it — the built CLI (`offload run --table … --json`) — with its peak RSS from the kernel. */
async function offloadCli(config: string, extraEnv: Record<string, string>): Promise<Record<string, number>> {
  const cli = existsSync(join(ROOT, 'dist/cli.js'))
    ? [process.execPath, join(ROOT, 'bin/offload.js')]
    : [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli.ts')];
  const r = await execa('/usr/bin/time', ['-f', 'peak-rss-kb %M', ...cli, 'run', '--table', 'bench_bronze', '--json'], {
    cwd: ROOT,
    env: { ...env, ...extraEnv, OFFLOAD_CONFIG: config },
    reject: false,
    timeout: 1_800_000,
  });
  if (r.exitCode !== 0) throw new Error(`offload run failed (exit ${r.exitCode}):\n${r.stderr}`);
  const doc = JSON.parse(String(r.stdout)) as {
    results: Array<{ rows: number; files: number; bytes: number; durationMs: number; batches: unknown[] }>;
  };
  const kb = Number(/peak-rss-kb (\d+)/.exec(String(r.stderr))?.[1] ?? NaN);
  const t = doc.results[0];
  return {
    totalMs: t.durationMs,
    rows: t.rows,
    files: t.files,
    parquetBytes: t.bytes,
    batches: t.batches.length,
    peakRssMb: Math.round(kb / 1024),
  };
}

interface Measured {
  rows: number;
  native: { ms: number; bytes: number };
  csv: { ms: number; bytes: number };
  ourCsv: { ms: number; bytes: number };
  naive: Record<string, number>;
  offload: Record<string, number>;
  partitions: number;
}

async function measure(rows: number): Promise<Measured> {
  const services = openServices(env, 'bench');
  const ch = services.clickhouse;
  const database = `offload_bench_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  const work = await mkdtemp(join(tmpdir(), 'offload-bench-'));
  const pg = await freshPostgresDatabase('bench');
  const scratch = openServices({ ...env, DATABASE_URL: pg.url }, 'bench');
  await initState(scratch, []).finally(() => scratch.close());
  try {
    await seed(ch, database, rows);
    const table = `${quoteIdentifier(database)}.bronze_trades_binance`;
    const [{ n: partitions }] = await ch.query<{ n: string }>(`SELECT toString(uniqExact(toDate(exchange_timestamp))) AS n FROM ${table}`);
    const caps = await ch.capabilities();
    const columns = await ch.columns({ database, table: 'bronze_trades_binance' });
    const ours = extractionQuery(
      columns.map((c) => columnTransport(c.name, c.type, caps)),
      table,
      '1',
    ).sql;

    process.stderr.write(`bench: ${fmt(rows)} rows — (a) exports to nowhere\n`);
    const native = await exportToNowhere(`SELECT * FROM ${table} FORMAT Native`);
    const csv = await exportToNowhere(`SELECT * FROM ${table} FORMAT CSV`);
    const ourCsv = await exportToNowhere(`${ours} FORMAT CSV`);

    process.stderr.write(`bench: ${fmt(rows)} rows — (b) naive CSV → DuckDB → Parquet\n`);
    const naive = await child(['naive', database, 'bronze_trades_binance', work]);

    process.stderr.write(`bench: ${fmt(rows)} rows — (c) exactly-once offload\n`);
    const { warehouse } = await freshBucket('bench');
    const config = join(work, 'offload.config.json');
    await writeFile(
      config,
      JSON.stringify({
        tables: [
          {
            name: 'bench_bronze',
            layer: 'bronze',
            source: `${database}.bronze_trades_binance`,
            cursor: 'exchange_timestamp',
            tieBreak: 'kafka_offset',
            lag: '5m',
            target: 'bench.bronze_trades_binance',
            partitionBy: ['day(exchange_timestamp)'],
          },
        ],
      }),
    );
    const offload = await offloadCli(config, { DATABASE_URL: pg.url, OFFLOAD_WAREHOUSE: warehouse, OFFLOAD_WORK_DIR: work });
    if (offload.rows !== rows) throw new Error(`the offload took ${offload.rows} rows, expected ${rows}`);
    return { rows, native, csv, ourCsv, naive, offload, partitions: Number(partitions) };
  } finally {
    await ch.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)}`).catch(() => undefined);
    await services.close();
    await pg.drop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

function report(m: Measured): string[] {
  const rate = (ms: number) => `${fmt(m.rows / (ms / 1000))} rows/s`;
  const mbs = (bytes: number, ms: number) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
  const c = m.offload.totalMs;
  return [
    `rows: ${fmt(m.rows)} (${m.partitions} day partitions)`,
    `(a) ClickHouse export, FORMAT Native → nowhere     ${secs(m.native.ms).padStart(7)} s  ${rate(m.native.ms)}  ${mbs(m.native.bytes, m.native.ms)}`,
    `(a) ClickHouse export, FORMAT CSV → nowhere        ${secs(m.csv.ms).padStart(7)} s  ${rate(m.csv.ms)}  ${mbs(m.csv.bytes, m.csv.ms)}`,
    `(a) our extraction CSV → nowhere                   ${secs(m.ourCsv.ms).padStart(7)} s  ${rate(m.ourCsv.ms)}  ${mbs(m.ourCsv.bytes, m.ourCsv.ms)}`,
    `(b) naive: CSV file + DuckDB → 1 Parquet file      ${secs(m.naive.totalMs).padStart(7)} s  ${rate(m.naive.totalMs)}  (export ${secs(m.naive.exportMs)} s + DuckDB ${secs(m.naive.duckdbMs)} s)  peak RSS ${m.naive.peakRssMb} MB`,
    `(c) offload: extract + Parquet + S3 + commit       ${secs(c).padStart(7)} s  ${rate(c)}  ${m.offload.files} files (${m.partitions} partitions)  peak RSS ${m.offload.peakRssMb} MB`,
    `ratios (throughput): (c)/(b) = ${(m.naive.totalMs / c).toFixed(2)}   (c)/(a Native) = ${(m.native.ms / c).toFixed(2)}   (c)/(a our CSV) = ${(m.ourCsv.ms / c).toFixed(2)}`,
  ];
}

// The offload runs as built (`npm run build`): what operators run, without a TypeScript loader in its memory.
const build = await execa('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, reject: false });
if (build.exitCode !== 0) process.stderr.write(`bench: the build failed; measuring the CLI from source (tsx) instead\n${build.stdout}\n`);
const results: Measured[] = [];
for (const rows of sizes) results.push(await measure(rows));
console.log('');
for (const m of results) {
  for (const line of report(m)) console.log(line);
  console.log('');
}
if (results.length > 1) {
  const rss = results.map((m) => m.offload.peakRssMb);
  console.log(
    `offload peak RSS by rows: ${results.map((m, i) => `${fmt(m.rows)} → ${rss[i]} MB`).join(', ')} (${Math.max(...rss) <= 300 ? 'within' : 'ABOVE'} 300 MB)`,
  );
}
process.exit(0);
