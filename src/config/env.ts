// Settings from the environment, with the ecosystem's usual names (docs/architecture.md "Configuration"). The one
// reader of process.env: everything else is handed an Env (the CLI's, a test's) and reads that.
import { ConfigError } from '../core/errors.js';

export interface ClickHouseConnection {
  url: string; // without credentials
  username: string;
  password: string;
  database?: string;
}

export interface PostgresConnection {
  /** A libpq connection string or URL; empty means "use the PG* variables". */
  connectionString?: string;
}

export interface S3Connection {
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
}

export interface Connections {
  clickhouse: ClickHouseConnection;
  postgres: PostgresConnection;
  s3: S3Connection;
  warehouse: string; // s3://bucket/prefix or file:///path
}

/** Environment variables by name. */
export type Env = Record<string, string | undefined>;

/** This process's environment: the default wherever no Env is handed in. */
export function processEnv(): Env {
  return process.env;
}

export function clickhouseFromEnv(env: Env = process.env): ClickHouseConnection {
  const raw = env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`CLICKHOUSE_URL: not a URL (expected http://user:password@host:8123)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`CLICKHOUSE_URL: protocol ${u.protocol} is not supported (expected http:// or https://, the HTTP interface)`);
  }
  const username = decodeURIComponent(u.username) || env.CLICKHOUSE_USER || 'default';
  const password = decodeURIComponent(u.password) || env.CLICKHOUSE_PASSWORD || '';
  const database = u.pathname.replace(/^\//, '') || undefined;
  u.username = '';
  u.password = '';
  u.pathname = '/';
  return { url: u.toString().replace(/\/$/, ''), username, password, database };
}

export function postgresFromEnv(env: Env = process.env): PostgresConnection {
  return { connectionString: env.DATABASE_URL || undefined };
}

export function s3FromEnv(env: Env = process.env): S3Connection {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  return {
    endpoint,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    // S3-compatible servers (moto, MinIO) want path-style addressing; AWS itself takes both.
    forcePathStyle: endpoint !== undefined || env.OFFLOAD_S3_PATH_STYLE === '1',
  };
}

export function warehouseFromEnv(env: Env = process.env): string {
  const w = env.OFFLOAD_WAREHOUSE;
  if (!w) throw new ConfigError('OFFLOAD_WAREHOUSE is not set (expected s3://bucket/prefix or file:///path)');
  if (!/^(s3|s3a|file):\/\//.test(w)) {
    throw new ConfigError(`OFFLOAD_WAREHOUSE: "${w}" is not supported (expected s3://bucket/prefix or file:///path)`);
  }
  return w.replace(/\/+$/, '');
}

/** The offload's local scratch directory (OFFLOAD_WORK_DIR); undefined: the system's temp directory. */
export function workDirFromEnv(env: Env): string | undefined {
  return env.OFFLOAD_WORK_DIR;
}

export function connectionsFromEnv(env: Env = process.env): Connections {
  return {
    clickhouse: clickhouseFromEnv(env),
    postgres: postgresFromEnv(env),
    s3: s3FromEnv(env),
    warehouse: warehouseFromEnv(env),
  };
}

/** Every secret value in the environment, for scrubbing server messages before they are shown. */
export function secretsOf(env: Env = process.env): string[] {
  const out: string[] = [];
  const ch = clickhouseFromEnv(env).password;
  if (ch) out.push(ch);
  if (env.AWS_SECRET_ACCESS_KEY) out.push(env.AWS_SECRET_ACCESS_KEY);
  if (env.PGPASSWORD) out.push(env.PGPASSWORD);
  // The REST catalog's (config/catalog.ts): a bearer token, and the secret of `client_id:client_secret`.
  if (env.OFFLOAD_CATALOG_TOKEN) out.push(env.OFFLOAD_CATALOG_TOKEN);
  if (env.OFFLOAD_CATALOG_CREDENTIAL) out.push(env.OFFLOAD_CATALOG_CREDENTIAL.slice(env.OFFLOAD_CATALOG_CREDENTIAL.indexOf(':') + 1));
  if (env.DATABASE_URL) {
    try {
      const p = decodeURIComponent(new URL(env.DATABASE_URL).password);
      if (p) out.push(p);
    } catch {
      /* not a URL: a libpq key=value string */
    }
  }
  return out;
}
