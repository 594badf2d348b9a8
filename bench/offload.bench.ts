// `npm run bench`: the offload against the other ways of moving ClickHouse rows into Iceberg, on the same rows,
// in one run, each in a process of its own (peak RSS from the kernel, /usr/bin/time):
//   floor      ClickHouse's own FORMAT Native export over HTTP to nowhere (curl): the physical limit;
//   naive      CSV export to a file, then DuckDB read_csv → one Parquet file (zstd): no catalog, no upload;
//   chdb       ClickHouse's own Iceberg writer (chdb, the current engine in-process): INSERT INTO an IcebergS3
//              table SELECT * FROM url(… FORMAT Native); its newest metadata file is registered in the catalog;
//   pyiceberg  CSV over HTTP into a pyarrow table, then pyiceberg's table.append() (day partitions);
//   offload    the exactly-once offload as operators run it (`offload run --table … --json`, built CLI);
//   offload-csv / offload-parquet  the same, forced onto another extraction path (not run by default).
// Every Iceberg target is then read back through the catalog and its rows counted: each must equal ClickHouse's.
//
// Sources: `18.16` (the local stack's ClickHouse) and `current` (the current engine behind the chdb-backed
// ClickHouse-HTTP test server, the same trades in the production DDL). Rows: realistic trades from the
// project's generator, BENCH_ROWS × each of BENCH_SIZES. Rounds: BENCH_ROUNDS, peers in a rotating order;
// medians are reported, with the load average before and after (the machine is shared: compare ratios).
//
//   BENCH_ROWS=5000000 BENCH_SIZES=1,2 BENCH_ROUNDS=3 BENCH_ENGINES=18.16,current BENCH_PEERS=floor,naive,chdb,pyiceberg,offload
//
// `npm run bench:same-second` (BENCH_CASE=same-second): every row shares one cursor value (one second), so
// the offload cannot cut the window into batches or slices; it measures the offload's peak RSS on such a
// group (defaults: 600,000 rows, the offload alone, one round, both engines; the target is ≤ 300 MB).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { ClickHouseSource } from '../src/clickhouse/client.js';
import { quoteIdentifier } from '../src/clickhouse/sql.js';
import type { ColumnInfo } from '../src/clickhouse/types.js';
import { feedPosition, insertTrades } from '../src/dev/seed.js';
import { seedSchemaStatements } from '../src/dev/schema.js';
import { TradeFeed } from '../src/dev/trades.js';
import type { IcebergType } from '../src/iceberg/types.js';
import { icebergFieldFromColumn } from '../src/mapping/clickhouse-to-iceberg.js';
import { initState } from '../src/pipeline/init.js';
import { JdbcCatalog } from '../src/iceberg/catalog.js';
import { openServices, type Services } from '../src/pipeline/services.js';
import { startChdbServer, type ChdbServer } from '../test/support/chdb-server.js';
import { freshPostgresDatabase, stackEnv } from '../test/support/stack.js';
import { productionDdl } from '../test/support/k2-production.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = stackEnv();
Object.assign(process.env, env);
const PYTHON = join(process.env.OFFLOAD_VENV ?? join(ROOT, '.venv'), 'bin/python');
const sameSecond = process.env.BENCH_CASE === 'same-second';
const baseRows = Number(process.env.BENCH_ROWS ?? (sameSecond ? 600_000 : 5_000_000));
const sizes = (process.env.BENCH_SIZES ?? (sameSecond ? '1' : '1,2')).split(',').map((m) => Math.round(baseRows * Number(m)));
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? (sameSecond ? 1 : 3)));
const engines = (process.env.BENCH_ENGINES ?? '18.16,current').split(',') as Array<'18.16' | 'current'>;
const peers = (process.env.BENCH_PEERS ?? (sameSecond ? 'offload' : 'floor,naive,chdb,pyiceberg,offload')).split(',') as Peer[];
type Peer = 'floor' | 'naive' | 'chdb' | 'pyiceberg' | 'offload' | 'offload-csv' | 'offload-parquet';

const TABLE = 'bronze_trades_binance';
const CURSOR = 'exchange_timestamp';
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

interface Source {
  engine: '18.16' | 'current';
  /** The server's URL with its user and password in it (CLICKHOUSE_URL of the offload). */
  url: string;
  /** The server's HTTP endpoint with user and password as parameters (`…/?user=…&password=…`): what the peers POST to. */
  http: string;
  /** The connections (pipeline/services.ts) that seed and read this source. */
  services: Services;
  ch: ClickHouseSource;
  database: string;
  columns: ColumnInfo[];
}

interface Run {
  peer: Peer;
  /** The work, timed inside the process (without interpreter start and imports). */
  ms: number;
  /** The whole process. */
  wallMs: number;
  peakRssMb: number;
  /** Rows read back from the target (the catalog for Iceberg tables, the file for the naive pipe). */
  rows: number | null;
}

/** A process measured by the kernel: its wall time and peak RSS; its JSON result from stdout. */
async function timed(cmd: string, args: string[], o: { env?: Record<string, string>; input?: string; cwd?: string } = {}) {
  const t0 = performance.now();
  const r = await execa('/usr/bin/time', ['-f', 'peak-rss-kb %M', cmd, ...args], {
    env: { ...env, ...o.env },
    input: o.input,
    cwd: o.cwd ?? ROOT,
    reject: false,
    timeout: 3_600_000,
  });
  const wallMs = performance.now() - t0;
  if (r.exitCode !== 0)
    throw new Error(`${cmd} ${args.slice(0, 2).join(' ')} failed (exit ${r.exitCode}):\n${String(r.stderr).slice(-3000)}`);
  const peakRssMb = Math.round(Number(/peak-rss-kb (\d+)/.exec(String(r.stderr))?.[1] ?? NaN) / 1024);
  // One JSON document (the CLI's --json), or a JSON line last (the peers').
  const stdout = String(r.stdout).trim();
  const last = stdout.startsWith('{') ? stdout : (stdout.split('\n').pop() ?? '');
  return { wallMs, peakRssMb, out: last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : {} };
}

/** A server URL (user and password in it, or not: then `default` without one) as the offload and the peers take it. */
function endpoints(serverUrl: string): { url: string; http: string } {
  const u = new URL(serverUrl);
  const user = decodeURIComponent(u.username) || 'default';
  const password = decodeURIComponent(u.password);
  const origin = u.origin;
  return {
    url: origin.replace('://', `://${encodeURIComponent(user)}:${encodeURIComponent(password)}@`),
    http: `${origin}/?user=${encodeURIComponent(user)}&password=${encodeURIComponent(password)}`,
  };
}

// ─── Sources and their rows ─────────────────────────────────────────────────────────────────────────

/** `rows` generated trades in a fresh 18.16 database (the seed's bronze table only: no views fire). */
async function seed1816(rows: number): Promise<Source> {
  const services = openServices(env, 'bench');
  const ch = services.clickhouse;
  const database = `offload_bench_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  for (const s of seedSchemaStatements(database)) {
    if (/^CREATE DATABASE/.test(s) || new RegExp(`CREATE TABLE IF NOT EXISTS \\S+\\.${TABLE}\\b`).test(s)) await ch.command(s);
  }
  const end = Date.now() - 3_600_000;
  const feed = new TradeFeed('binance', 'bench', await feedPosition(ch, 'binance', database));
  // Two days of trades; or, for the same-second case, every trade inside one whole second.
  const second = Math.floor(end / 1000) * 1000;
  const trades = sameSecond ? feed.trades(rows, second, second + 999) : feed.trades(rows, end - 2 * 86_400_000, end);
  for (let done = 0; done < rows; done += 1_000_000) {
    const n = Math.min(1_000_000, rows - done);
    await insertTrades(ch, 'binance', take(trades, n), database);
    process.stderr.write(`\rbench: seeded ${fmt(done + n)} / ${fmt(rows)} rows`);
  }
  process.stderr.write('\n');
  await ch.command(`OPTIMIZE TABLE ${quoteIdentifier(database)}.${TABLE} FINAL`);
  return {
    engine: '18.16',
    ...endpoints(env.CLICKHOUSE_URL),
    services,
    ch,
    database,
    columns: await ch.columns({ database, table: TABLE }),
  };
}

/** The same trades on the current engine, in the production DDL (DateTime64(3) times), copied from 18.16. */
async function copyToCurrent(server: ChdbServer, from: Source): Promise<Source> {
  const { url, http } = endpoints(server.url);
  const services = openServices({ ...env, CLICKHOUSE_URL: url, CLICKHOUSE_USER: '', CLICKHOUSE_PASSWORD: '' }, 'bench');
  const ch = services.clickhouse;
  const database = from.database;
  await ch.command(`CREATE DATABASE ${database}`);
  await ch.command(productionDdl(database)[0]);
  const structure = from.columns.map((c) => `${c.name} ${c.type}`).join(', ');
  const select = `SELECT * FROM ${database}.${TABLE} FORMAT Native`;
  const ms = (c: string) => `addMilliseconds(toDateTime64(${c}, 3, 'UTC'), ${c}_ms)`;
  await ch.command(
    `INSERT INTO ${database}.${TABLE} SELECT ${ms('exchange_timestamp')}, sequence_number, symbol, price, quantity, quote_volume, ${ms('event_time')}, ` +
      `kafka_offset, kafka_partition, ingestion_timestamp FROM url('${from.http}&query=${encodeURIComponent(select)}', Native, '${structure}')`,
  );
  await ch.command(`OPTIMIZE TABLE ${database}.${TABLE} FINAL`);
  return { engine: 'current', url, http, services, ch, database, columns: await ch.columns({ database, table: TABLE }) };
}

function* take<T>(it: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const r = it.next();
    if (r.done) return;
    yield r.value;
  }
}

// ─── The peers ──────────────────────────────────────────────────────────────────────────────────────

/** The Iceberg type of each source column (the offload's mapping), for the peers that create tables themselves. */
function icebergTypes(columns: ColumnInfo[]): Array<[string, IcebergType]> {
  return columns.map((c) => [c.name, icebergFieldFromColumn(TABLE, c).type]);
}

function chdbType(t: IcebergType): string {
  if (typeof t !== 'string') throw new Error(`bench: no ClickHouse type for ${JSON.stringify(t)}`);
  const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
  if (dec) return `Decimal(${dec[1]}, ${dec[2]})`;
  const types: Record<string, string> = {
    int: 'Int32',
    long: 'Int64',
    string: 'String',
    timestamptz: "DateTime64(6, 'UTC')",
    date: 'Date32',
    double: 'Float64',
    float: 'Float32',
    boolean: 'Bool',
  };
  return types[t] ?? t;
}

interface Round {
  source: Source;
  rows: number;
  work: string;
  catalogUrl: string;
  warehouse: string;
  /** The round's catalog database and warehouse, through the connections every command uses. */
  services: Services;
}

const pyEnv = (r: Round): Record<string, string> => ({
  CATALOG: 'offload',
  CATALOG_URI: r.catalogUrl.replace(/^postgres(ql)?:\/\//, 'postgresql+psycopg2://'),
  WAREHOUSE: r.warehouse,
  S3_ENDPOINT: env.AWS_ENDPOINT_URL_S3,
});

async function countRows(r: Round, ident: string): Promise<number> {
  const c = await timed(PYTHON, [join(ROOT, 'bench/peers/count_rows.py'), 'kafka_offset', ident], { env: pyEnv(r) });
  return Number(c.out[ident]);
}

async function runPeer(peer: Peer, r: Round): Promise<Run> {
  const src = r.source;
  const select = `SELECT * FROM ${src.database}.${TABLE}`;
  switch (peer) {
    case 'floor': {
      const t = await timed('curl', ['-sS', '-o', '/dev/null', '--data-binary', '@-', src.http], { input: `${select} FORMAT Native` });
      return { peer, ms: t.wallMs, wallMs: t.wallMs, peakRssMb: t.peakRssMb, rows: null };
    }
    case 'naive': {
      const t = await timed(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/child.ts'), 'naive', src.http, select, r.work]);
      return { peer, ms: Number(t.out.totalMs), wallMs: t.wallMs, peakRssMb: t.peakRssMb, rows: Number(t.out.rows) };
    }
    case 'chdb': {
      const location = `${env.AWS_ENDPOINT_URL_S3}/${r.warehouse.replace(/^s3:\/\//, '')}/bench/bronze_chdb/`;
      const structure = (cols: Array<[string, string]>) => cols.map(([n, t]) => `${n} ${t}`).join(', ');
      const t = await timed(
        PYTHON,
        [
          join(ROOT, 'bench/peers/chdb_writer.py'),
          src.http,
          select,
          structure(src.columns.map((c) => [c.name, c.type])),
          structure(icebergTypes(src.columns).map(([n, it]) => [n, chdbType(it)])),
          // ClickHouse's Iceberg writer takes day partitions this way (it rejects day() and toDate() here).
          `toRelativeDayNum(${CURSOR})`,
          location,
        ],
        { env: pyEnv(r), cwd: join(ROOT, 'bench/peers') },
      );
      // It cannot commit to a JDBC catalog: its newest metadata file is registered, so the table is read back like the others.
      const metadata = (await r.services.io.list(`${r.warehouse}/bench/bronze_chdb/metadata/`))
        .map((f) => f.uri)
        .filter((u) => /\/v\d+\.metadata\.json$/.test(u))
        .sort((a, b) => Number(/v(\d+)\.metadata/.exec(a)![1]) - Number(/v(\d+)\.metadata/.exec(b)![1]));
      const jdbc = new JdbcCatalog(r.services.pool);
      await jdbc.ensureNamespace('bench');
      await jdbc.createTable({ namespace: 'bench', name: 'bronze_chdb' }, metadata.at(-1)!);
      return { peer, ms: Number(t.out.ms), wallMs: t.wallMs, peakRssMb: t.peakRssMb, rows: await countRows(r, 'bench.bronze_chdb') };
    }
    case 'pyiceberg': {
      const columns = icebergTypes(src.columns).map(([n, t]) => [
        n,
        typeof t === 'string' ? t.replace(/^timestamptz$/, 'timestamp').replace(/\s+/g, '') : 'string',
      ]);
      const t = await timed(
        PYTHON,
        [join(ROOT, 'bench/peers/pyiceberg_append.py'), src.http, select, 'bench.bronze_pyiceberg', JSON.stringify(columns), CURSOR],
        {
          env: pyEnv(r),
          cwd: join(ROOT, 'bench/peers'),
        },
      );
      return { peer, ms: Number(t.out.ms), wallMs: t.wallMs, peakRssMb: t.peakRssMb, rows: await countRows(r, 'bench.bronze_pyiceberg') };
    }
    default: {
      const format = peer === 'offload' ? 'auto' : peer.replace('offload-', '');
      const config = join(r.work, 'offload.config.json');
      await writeFile(
        config,
        JSON.stringify({
          tables: [
            {
              name: 'bench_bronze',
              layer: 'bronze',
              source: `${src.database}.${TABLE}`,
              cursor: CURSOR,
              tieBreak: 'kafka_offset',
              lag: '5m',
              target: 'bench.bronze_offload',
              partitionBy: [`day(${CURSOR})`],
            },
          ],
        }),
      );
      const cli = existsSync(join(ROOT, 'dist/cli.js')) ? [join(ROOT, 'bin/offload.js')] : ['--import', 'tsx', join(ROOT, 'src/cli.ts')];
      const t = await timed(process.execPath, [...cli, 'run', '--table', 'bench_bronze', '--json'], {
        env: {
          CLICKHOUSE_URL: src.url,
          DATABASE_URL: r.catalogUrl,
          OFFLOAD_WAREHOUSE: r.warehouse,
          OFFLOAD_WORK_DIR: r.work,
          OFFLOAD_CONFIG: config,
          OFFLOAD_EXTRACT_FORMAT: format,
        },
      });
      const result = (t.out.results as Array<{ rows: number; durationMs: number }>)[0];
      if (result.rows !== r.rows) throw new Error(`${peer}: took ${result.rows} rows, expected ${r.rows}`);
      return { peer, ms: result.durationMs, wallMs: t.wallMs, peakRssMb: t.peakRssMb, rows: await countRows(r, 'bench.bronze_offload') };
    }
  }
}

/** One peer on a fresh catalog database and warehouse prefix. */
async function measure(peer: Peer, source: Source, rows: number): Promise<Run> {
  const pg = await freshPostgresDatabase('bench');
  const warehouse = `s3://warehouse/${pg.name}`;
  const services = openServices({ ...env, DATABASE_URL: pg.url, OFFLOAD_WAREHOUSE: warehouse }, 'bench');
  const work = await mkdtemp(join(tmpdir(), 'offload-bench-'));
  try {
    await initState(services, []);
    return await runPeer(peer, { source, rows, work, catalogUrl: pg.url, warehouse, services });
  } finally {
    await services.close();
    await pg.drop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

interface Measured {
  engine: string;
  rows: number;
  runs: Run[];
  loadBefore: string;
  loadAfter: string;
}

async function measureAll(source: Source, rows: number): Promise<Measured> {
  const loadBefore = load();
  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++) {
    // A rotating order: no peer always runs first (or right after the heaviest one). 18.16 has no Parquet output.
    const here = peers.filter((p) => !(p === 'offload-parquet' && source.engine === '18.16'));
    const order = here.map((_, i) => here[(i + round) % here.length]);
    for (const peer of order) {
      process.stderr.write(`bench: ${source.engine}, ${fmt(rows)} rows, round ${round + 1}/${rounds}: ${peer} (load ${load()})\n`);
      const run = await measure(peer, source, rows);
      if (run.rows !== null && run.rows !== rows) throw new Error(`bench: ${peer} wrote ${run.rows} rows, ClickHouse has ${rows}`);
      runs.push(run);
    }
  }
  const measured = { engine: source.engine, rows, runs, loadBefore, loadAfter: load() };
  // Each table as soon as it is measured (on stderr; stdout gets them all at the end).
  process.stderr.write(`\n${report(measured).join('\n')}\n\n`);
  return measured;
}

const LABEL: Record<Peer, string> = {
  floor: 'ClickHouse FORMAT Native → nowhere (the floor)',
  naive: 'naive: CSV file → DuckDB → 1 Parquet (no S3, no catalog)',
  chdb: "ClickHouse's own Iceberg writer (chdb 4.4)",
  pyiceberg: 'pyiceberg 0.12 append (CSV → pyarrow)',
  offload: 'offload (exactly once; built CLI)',
  'offload-csv': 'offload, forced CSV extraction',
  'offload-parquet': 'offload, forced Parquet extraction',
};

function report(m: Measured): string[] {
  const by = (p: Peer) => m.runs.filter((r) => r.peer === p);
  const offloadMs = median(by('offload').map((r) => r.ms));
  const lines = [
    `ClickHouse ${m.engine === '18.16' ? '18.16' : 'current engine (26.9, chdb-backed server)'}, ${fmt(m.rows)} rows, ${rounds} round(s), load average before ${m.loadBefore}, after ${m.loadAfter}`,
    `| path | rows/s (median) | work s | process s | peak RSS MB | rows read back | offload ÷ this |`,
    `|---|---:|---:|---:|---:|---:|---:|`,
  ];
  for (const p of peers) {
    const runs = by(p);
    if (runs.length === 0) continue;
    const ms = median(runs.map((r) => r.ms));
    const counted = runs.every((r) => r.rows === null) ? '—' : runs.every((r) => r.rows === m.rows) ? `${fmt(m.rows)} ✓` : 'MISMATCH';
    lines.push(
      `| ${LABEL[p]} | ${fmt(m.rows / (ms / 1000))} | ${(ms / 1000).toFixed(2)} | ${(median(runs.map((r) => r.wallMs)) / 1000).toFixed(2)} | ${Math.max(...runs.map((r) => r.peakRssMb))} | ${counted} | ${p === 'offload' ? '1.00' : (ms / offloadMs).toFixed(2)} |`,
    );
  }
  return lines;
}

// The offload runs as built (`npm run build`): what operators run, without a TypeScript loader in its memory.
const build = await execa('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, reject: false });
if (build.exitCode !== 0) process.stderr.write(`bench: the build failed; measuring the CLI from source (tsx) instead\n${build.stdout}\n`);
const results: Measured[] = [];
let server: ChdbServer | undefined;
try {
  for (const rows of sizes) {
    const seeded = await seed1816(rows);
    try {
      for (const engine of engines) {
        if (engine === '18.16') results.push(await measureAll(seeded, rows));
        else {
          server ??= await startChdbServer({ pool: 2 });
          const current = await copyToCurrent(server, seeded);
          try {
            results.push(await measureAll(current, rows));
          } finally {
            await current.ch.command(`DROP DATABASE IF EXISTS ${current.database}`).catch(() => undefined);
            await current.services.close();
          }
        }
      }
    } finally {
      await seeded.ch.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(seeded.database)}`).catch(() => undefined);
      await seeded.services.close();
    }
  }
} finally {
  await server?.stop();
}
console.log('');
for (const m of results) {
  for (const line of report(m)) console.log(line);
  console.log('');
}
const rss = results.flatMap((m) =>
  m.runs.filter((r) => r.peer === 'offload').map((r) => ({ engine: m.engine, rows: m.rows, mb: r.peakRssMb })),
);
if (rss.length > 0) {
  const peak = Math.max(...rss.map((r) => r.mb));
  console.log(
    `offload peak RSS: ${[...new Set(rss.map((r) => `${r.engine} ${fmt(r.rows)}`))].map((k) => `${k} → ${Math.max(...rss.filter((r) => `${r.engine} ${fmt(r.rows)}` === k).map((r) => r.mb))} MB`).join(', ')} (${peak <= 300 ? 'within' : 'ABOVE'} 300 MB)`,
  );
}
process.exit(0);
