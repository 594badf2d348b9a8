// The built `offload` CLI on a fresh corner of the local stack, for tests that drive it as a scheduler
// would (interval mode, Prefect): a fresh ClickHouse database with the seed schema, a fresh PostgreSQL
// database, a fresh S3 bucket, and the shipped configuration pointed at them. Plus what those tests read
// back: the Iceberg tables' current snapshots straight from the catalog and S3, and the runs table.
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execa, type Options } from 'execa';
import pg from 'pg';
import type { StatusReport } from '../../src/pipeline/status-model.js';
import { freshBucket, freshClickHouseDatabase, freshPostgresDatabase, ROOT, shippedConfig, stackEnv } from './stack.js';

export const CLI = join(ROOT, 'bin/offload.js');

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.tsx?$/.test(entry.name)) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** The CLI under test is the built one (bin/offload.js → dist/cli.js); build it when sources are newer. */
export async function ensureBuilt(): Promise<void> {
  const built = join(ROOT, 'dist/cli.js');
  const newest = await newestSource(join(ROOT, 'src'));
  if (existsSync(built) && statSync(built).mtimeMs >= newest) return;
  // tsc emits even when it reports type errors; what matters here is a fresh dist/ (the type check is the build's job).
  const r = await execa('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, reject: false });
  if (!existsSync(built) || statSync(built).mtimeMs < newest)
    throw new Error(`npx tsc did not build dist/cli.js:\n${r.stdout}\n${r.stderr}`);
}

/** A fresh corner of the stack for the built CLI and its children. */
export interface StackCorner {
  /** The stack's environment with this corner's databases and bucket, OFFLOAD_CONFIG set, no debug output or fault armed. */
  env: Record<string, string>;
  /** A temp directory holding the configuration (removed by drop). */
  dir: string;
  configFile: string;
  clickhouseDatabase: string;
  pgUrl: string;
  drop(): Promise<void>;
}

/** A ClickHouse database, a PostgreSQL database, an S3 bucket, and the shipped configuration pointed at them. */
export async function freshStackCorner(prefix: string): Promise<StackCorner> {
  await ensureBuilt();
  const ch = await freshClickHouseDatabase(prefix);
  const db = await freshPostgresDatabase(prefix);
  const bucket = await freshBucket(prefix);
  const env: Record<string, string> = { ...stackEnv(), DATABASE_URL: db.url, OFFLOAD_WAREHOUSE: bucket.warehouse };
  delete env.OFFLOAD_DEBUG;
  delete env.OFFLOAD_FAULT;
  const dir = mkdtempSync(join(tmpdir(), `offload-${prefix}-`));
  const configFile = join(dir, 'offload.config.json');
  writeFileSync(configFile, shippedConfig(ch.name));
  env.OFFLOAD_CONFIG = configFile;
  return {
    env,
    dir,
    configFile,
    clickhouseDatabase: ch.name,
    pgUrl: db.url,
    drop: async () => {
      await rm(dir, { recursive: true, force: true });
      await Promise.allSettled([ch.drop(), db.drop()]);
    },
  };
}

/** A configured table's current Iceberg snapshot, as the catalog points to it. */
export interface CurrentSnapshot {
  metadataLocation: string;
  snapshotId: string;
  totalRecords: number;
  summary: Record<string, string>;
}

export interface CliStack {
  /** The environment the CLI runs with (the stack's, with this stack's databases and bucket). */
  env: Record<string, string>;
  dir: string;
  configFile: string;
  clickhouseDatabase: string;
  pgUrl: string;
  /** Runs the CLI and waits for it (never rejects: look at exitCode). */
  offload(args: string[], extraEnv?: Record<string, string>, options?: Options): ReturnType<typeof execa>;
  /** `offload seed` into this stack's ClickHouse database: trades between `start` and `end`. */
  seed(rows: number, start: Date, end: Date, seed: string): Promise<{ binance: number; kraken: number; total: number }>;
  status(): Promise<StatusReport>;
  /** Per configured Iceberg table (`namespace.table`), its current snapshot; absent when it has none. */
  snapshots(): Promise<Map<string, CurrentSnapshot>>;
  /** One query on this stack's PostgreSQL database. */
  query<R extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Writes another configuration file next to the first (for variants) and returns its path. */
  writeConfig(name: string, doc: unknown): string;
  /** The configuration document in use. */
  configDoc(): { tables: Array<Record<string, unknown>> };
  drop(): Promise<void>;
}

/** A fresh stack corner; `init` has run (migrations, watermarks, the ClickHouse seed schema). */
export async function freshCliStack(prefix: string): Promise<CliStack> {
  const corner = await freshStackCorner(prefix);
  const { env, dir, configFile } = corner;
  const pool = new pg.Pool({ connectionString: corner.pgUrl, max: 2 });
  const s3 = new S3Client({
    endpoint: env.AWS_ENDPOINT_URL_S3,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });

  const offload: CliStack['offload'] = (args, extraEnv = {}, options = {}) =>
    execa('node', [CLI, ...args], {
      cwd: ROOT,
      env: { ...env, ...extraEnv },
      extendEnv: false,
      reject: false,
      timeout: 300_000,
      ...options,
    });

  const init = await offload(['init', '--clickhouse-schema', '--clickhouse-database', corner.clickhouseDatabase]);
  if (init.exitCode !== 0) throw new Error(`offload init failed (${init.exitCode}): ${init.stderr}`);

  const readObject = async (location: string): Promise<string> => {
    const m = /^s3a?:\/\/([^/]+)\/(.+)$/.exec(location);
    if (!m) return readFileSync(location.replace(/^file:\/\//, ''), 'utf8');
    const r = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
    return await r.Body!.transformToString();
  };

  return {
    env,
    dir,
    configFile,
    clickhouseDatabase: corner.clickhouseDatabase,
    pgUrl: corner.pgUrl,
    offload,
    async seed(rows, start, end, seed) {
      const r = await offload([
        'seed',
        '--rows',
        String(rows),
        '--start',
        start.toISOString(),
        '--end',
        end.toISOString(),
        '--seed',
        seed,
        '--database',
        corner.clickhouseDatabase,
        '--json',
      ]);
      if (r.exitCode !== 0) throw new Error(`offload seed failed (${r.exitCode}): ${r.stderr}`);
      const out = JSON.parse(String(r.stdout)) as { rows: { total: number; binance: number; kraken: number } };
      return out.rows;
    },
    async status() {
      const r = await offload(['status', '--json']);
      if (r.exitCode !== 0) throw new Error(`offload status failed (${r.exitCode}): ${r.stderr}`);
      return JSON.parse(String(r.stdout)) as StatusReport;
    },
    async snapshots() {
      const out = new Map<string, CurrentSnapshot>();
      const rows = (
        await pool.query<{ ns: string; name: string; loc: string | null }>(
          'SELECT table_namespace AS ns, table_name AS name, metadata_location AS loc FROM iceberg_tables',
        )
      ).rows;
      for (const r of rows) {
        if (!r.loc) continue;
        // Snapshot ids are 63-bit: keep them as text, never through a double.
        const text = await readObject(r.loc);
        const meta = JSON.parse(text.replace(/("(?:current-snapshot-id|snapshot-id|parent-snapshot-id)"\s*:\s*)(-?\d+)/g, '$1"$2"')) as {
          'current-snapshot-id'?: string | null;
          snapshots?: Array<{ 'snapshot-id': string; summary: Record<string, string> }>;
        };
        const id = meta['current-snapshot-id'];
        const snap = meta.snapshots?.find((s) => s['snapshot-id'] === id);
        if (!id || id === '-1' || !snap) continue;
        out.set(`${r.ns}.${r.name}`, {
          metadataLocation: r.loc,
          snapshotId: id,
          totalRecords: Number(snap.summary['total-records'] ?? 0),
          summary: snap.summary,
        });
      }
      return out;
    },
    async query(sql, values) {
      return (await pool.query(sql, values)).rows;
    },
    writeConfig(name, doc) {
      const file = join(dir, name);
      writeFileSync(file, JSON.stringify(doc, null, 2));
      return file;
    },
    configDoc() {
      return JSON.parse(readFileSync(configFile, 'utf8'));
    },
    async drop() {
      s3.destroy();
      await pool.end().catch(() => undefined);
      await corner.drop();
    },
  };
}

const DAY = 86_400_000;

/**
 * Time ranges for successive batches of test trades that never share a candle window (the longest is a day)
 * and arrive in time order, as real trades do: each batch starts at a UTC midnight after the previous batch,
 * the first `firstDaysAgo` days before today's, and every batch lies in closed days (older than the lag).
 * A trade back-dated into a candle already offloaded would be late data beyond the lag, which the tool
 * rightly leaves behind (and `status` shows as Δ).
 */
export function dayAlignedBatches(firstDaysAgo: number): (spanMs: number) => { start: Date; end: Date } {
  const today = Math.floor(Date.now() / DAY) * DAY;
  let cursor = today - firstDaysAgo * DAY;
  return (spanMs) => {
    const start = cursor;
    const end = start + spanMs;
    if (end >= today) throw new Error(`test batches ran out of past days (a batch of ${spanMs} ms from ${new Date(start).toISOString()})`);
    cursor = Math.ceil((end + 1) / DAY) * DAY;
    return { start: new Date(start), end: new Date(end) };
  };
}

/** Trades seeded batch after batch, each in days of its own and in time order (dayAlignedBatches), counted per exchange. */
export class TradeBatches {
  readonly seeded = { binance: 0, kraken: 0 };
  private readonly next: (spanMs: number) => { start: Date; end: Date };

  constructor(firstDaysAgo: number) {
    this.next = dayAlignedBatches(firstDaysAgo);
  }

  async seed(stack: CliStack, rows: number, spanMs: number, seed: string): Promise<{ binance: number; kraken: number; total: number }> {
    const { start, end } = this.next(spanMs);
    const r = await stack.seed(rows, start, end, seed);
    this.seeded.binance += r.binance;
    this.seeded.kraken += r.kraken;
    return r;
  }
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function until<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
