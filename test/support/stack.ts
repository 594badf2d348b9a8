// Isolated resources on the real local stack, one set per test file: a fresh PostgreSQL database,
// a fresh ClickHouse database, a fresh S3 bucket. Nothing is mocked.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The local stack's environment (.stack/env, or another stack's env file), merged over process.env. */
export function stackEnv(file = `${ROOT}.stack/env`): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  if (!existsSync(file)) throw new Error('the local stack is not up: run `npm run stack:up` first');
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Creates a new PostgreSQL database on the stack and returns its URL. */
export async function freshPostgresDatabase(prefix = 't'): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const base = stackEnv().DATABASE_URL;
  const name = uniqueName(prefix).toLowerCase();
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Runs one statement on the stack's ClickHouse over HTTP and returns the body text. */
export async function clickhouseQuery(sql: string, env = stackEnv()): Promise<string> {
  const res = await fetch(env.CLICKHOUSE_URL.replace(/\/\/[^@]*@/, '//'), { method: 'POST', body: sql });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text.trim()}\n  in: ${sql.slice(0, 200)}`);
  return text;
}

/** Creates a new ClickHouse database on the stack. */
export async function freshClickHouseDatabase(prefix = 't'): Promise<{ name: string; drop: () => Promise<void> }> {
  const name = uniqueName(prefix);
  await clickhouseQuery(`CREATE DATABASE ${name}`);
  return { name, drop: async () => void (await clickhouseQuery(`DROP DATABASE IF EXISTS ${name}`)) };
}

/** Creates a new S3 bucket on the stack's S3 server and returns a warehouse URL inside it. */
export async function freshBucket(prefix = 't'): Promise<{ bucket: string; warehouse: string }> {
  const env = stackEnv();
  const bucket = uniqueName(prefix).toLowerCase().replace(/_/g, '-');
  const s3 = new S3Client({
    endpoint: env.AWS_ENDPOINT_URL_S3,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  return { bucket, warehouse: `s3://${bucket}/iceberg` };
}

/** The tables of the shipped offload.config.json, in its order (bronze, silver, candles). */
export const SHIPPED_TABLES = [
  'bronze_trades_binance',
  'bronze_trades_kraken',
  'silver_trades',
  'ohlcv_1m',
  'ohlcv_5m',
  'ohlcv_15m',
  'ohlcv_30m',
  'ohlcv_1h',
  'ohlcv_1d',
];

/** The shipped offload.config.json, its tables read from `database` instead of the seed's `k2`. */
export function shippedConfig(database: string): string {
  const text = readFileSync(`${ROOT}offload.config.json`, 'utf8');
  return text.replace(/"k2\./g, `"${database}.`).replace(/`k2`\./g, `\`${database}\`.`);
}

/** The Python of the verification venv (.venv), or undefined when it is not installed. */
export function verificationPython(): string | undefined {
  const venv = process.env.OFFLOAD_VENV ?? `${ROOT}.venv`;
  const py = `${venv}/bin/python`;
  return existsSync(py) ? py : undefined;
}
