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

// The variables without which the tool would guess a server: no default is safe for them (an offload into
// whatever answers on localhost is worse than none). AWS_* are not among them: the SDK's own chain
// (environment, ~/.aws, an instance profile) finds credentials, and no endpoint means AWS S3 itself.
const CONNECTION_VARIABLES = ['CLICKHOUSE_URL', 'DATABASE_URL', 'PGHOST', 'OFFLOAD_WAREHOUSE'] as const;

/** `variable` is unset: say which and what it should hold, or that the environment has no connection settings at all. */
function unsetVariable(env: Env, variable: string, expected: string): ConfigError {
  if (!CONNECTION_VARIABLES.some((v) => env[v])) {
    return new ConfigError(
      'no connection settings in the environment: set CLICKHOUSE_URL, DATABASE_URL, OFFLOAD_WAREHOUSE and the AWS_* variables ' +
        '(README "Configuration"; `source .stack/env` sets them for the local stack)',
    );
  }
  return new ConfigError(`${variable} is not set (expected ${expected})`);
}

function parseClickHouseUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`CLICKHOUSE_URL: not a URL (expected http://user:password@host:8123)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`CLICKHOUSE_URL: protocol ${u.protocol} is not supported (expected http:// or https://, the HTTP interface)`);
  }
  return u;
}

/** CLICKHOUSE_URL (required) with CLICKHOUSE_USER / CLICKHOUSE_PASSWORD when the URL carries none. */
export function clickhouseFromEnv(env: Env = process.env): ClickHouseConnection {
  if (!env.CLICKHOUSE_URL) throw unsetVariable(env, 'CLICKHOUSE_URL', 'http://user:password@host:8123, the HTTP interface');
  const u = parseClickHouseUrl(env.CLICKHOUSE_URL);
  const username = decodeURIComponent(u.username) || env.CLICKHOUSE_USER || 'default';
  const password = decodeURIComponent(u.password) || env.CLICKHOUSE_PASSWORD || '';
  const database = u.pathname.replace(/^\//, '') || undefined;
  u.username = '';
  u.password = '';
  u.pathname = '/';
  return { url: u.toString().replace(/\/$/, ''), username, password, database };
}

/** DATABASE_URL, or the libpq PG* variables with PGHOST set (without either, libpq would guess localhost). */
export function postgresFromEnv(env: Env = process.env): PostgresConnection {
  if (!env.DATABASE_URL && !env.PGHOST) {
    throw unsetVariable(env, 'DATABASE_URL', 'postgres://user:password@host:5432/database, or PGHOST and the other PG* variables');
  }
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
  if (!w) throw unsetVariable(env, 'OFFLOAD_WAREHOUSE', 's3://bucket/prefix or file:///path');
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

/** The password in a URL; undefined when there is none or the text is not a URL (a libpq key=value string). */
function passwordIn(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    return decodeURIComponent(new URL(text).password) || undefined;
  } catch {
    return undefined;
  }
}

/** Every secret value in the environment, for scrubbing server messages before they are shown. Never throws. */
export function secretsOf(env: Env = process.env): string[] {
  const candidates = [
    env.CLICKHOUSE_PASSWORD,
    passwordIn(env.CLICKHOUSE_URL),
    env.AWS_SECRET_ACCESS_KEY,
    env.PGPASSWORD,
    passwordIn(env.DATABASE_URL),
    // The REST catalog's (config/catalog.ts): a bearer token, and the secret of `client_id:client_secret`.
    env.OFFLOAD_CATALOG_TOKEN,
    env.OFFLOAD_CATALOG_CREDENTIAL?.slice(env.OFFLOAD_CATALOG_CREDENTIAL.indexOf(':') + 1),
  ];
  return candidates.filter((s): s is string => !!s);
}
