// PostgreSQL: the pool, its failures classified (unreachable: ServiceUnavailable; login refused or no such
// database: ServiceRefused; no offload tables: `offload init` not run), and explicit transactions (the commit
// of step 8 is one of them). The advisory locks live in locks.ts.
import pg from 'pg';
import { postgresFromEnv, processEnv, type Env, type PostgresConnection } from '../config/env.js';
import { redactUrl, scrubSecrets } from '../config/redact.js';
import { ConfigError, type OffloadError, ServiceRefused, ServiceUnavailable } from '../core/errors.js';

export type Pool = pg.Pool;
/** A client inside an open transaction (`BEGIN` issued by withTransaction). */
export type Tx = pg.PoolClient;

/** Anything that runs a parameterized query: a pool, a checked-out client, a transaction. */
export interface Queryable {
  // biome-ignore lint/suspicious/noExplicitAny: the default of pg's own query signature, so a Pool or a PoolClient fits
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PoolOptions {
  /** Most connections the pool opens (each held table lock keeps one checked out). */
  max?: number;
  /** Shown in pg_stat_activity, so `offload status` can tell who holds a table. */
  applicationName?: string;
  connectionTimeoutMs?: number;
  env?: Env;
}

/** What messages about a pool's server say: its redacted URL, the secrets to scrub, the variables that set it. */
interface PoolInfo {
  url: string;
  secrets: string[];
  variables: string;
}

const poolInfo = new WeakMap<pg.Pool, PoolInfo>();

/** The server as a person should see it: a URL with the password replaced by `***`. */
export function describePostgres(conn: PostgresConnection = postgresFromEnv(), env: Env = processEnv()): string {
  if (conn.connectionString) {
    if (/^postgres(ql)?:\/\//.test(conn.connectionString)) return redactUrl(conn.connectionString);
    // libpq key=value form: drop the password, keep the rest.
    return conn.connectionString.replace(/password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/gi, 'password=***');
  }
  const user = env.PGUSER ?? env.USER ?? '';
  const host = env.PGHOST ?? 'localhost';
  const port = env.PGPORT ?? '5432';
  const db = env.PGDATABASE ?? user;
  const hostPart = host.startsWith('/') ? `localhost:${port}?host=${host}` : `${host}:${port}`;
  return `postgres://${user ? `${encodeURIComponent(user)}${env.PGPASSWORD ? ':***' : ''}@` : ''}${hostPart}/${db}`;
}

function secretsOf(conn: PostgresConnection, env: Env): string[] {
  const out: string[] = [];
  if (env.PGPASSWORD) out.push(env.PGPASSWORD);
  if (conn.connectionString) {
    try {
      const p = decodeURIComponent(new URL(conn.connectionString).password);
      if (p) out.push(p);
    } catch {
      const m = /password\s*=\s*'?([^'\s]+)/i.exec(conn.connectionString);
      if (m) out.push(m[1]);
    }
  }
  return out;
}

/** A pool for the given connection (default: DATABASE_URL or the PG* variables). Connects lazily. */
export function createPool(conn: PostgresConnection = postgresFromEnv(), options: PoolOptions = {}): pg.Pool {
  const env = options.env ?? processEnv();
  const pool = new pg.Pool({
    // Without a connection string, pg reads PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE itself.
    connectionString: conn.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'offload',
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
  });
  // An idle client whose server went away must not crash the process; the next query reports it.
  pool.on('error', () => {});
  poolInfo.set(pool, {
    url: describePostgres(conn, env),
    secrets: secretsOf(conn, env),
    variables: conn.connectionString ? 'DATABASE_URL' : 'PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE',
  });
  classifyQueryFailures(pool);
  return pool;
}

/**
 * Every `pool.query` failure that means the server is unreachable or refuses us is classified here, at the
 * client, so a command reading through the pool (runs, status) reports it like one using `checkout`.
 */
function classifyQueryFailures(pool: pg.Pool): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    return result instanceof Promise
      ? result.catch((err: unknown) => {
          throw postgresFailure(err, pool) ?? err;
        })
      : result;
  };
}

/** The pool's server as a person should see it (describePostgres of the connection it was created for). */
export function describePool(pool: pg.Pool): string {
  return poolInfo.get(pool)?.url ?? 'PostgreSQL';
}

/** One round trip: the server's version, or the classified failure (what `status` shows for PostgreSQL). */
export async function serverVersion(pool: pg.Pool): Promise<string> {
  const r = await pool.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
  return r.rows[0]?.v ?? '';
}

/** createPool + one round trip, so an unreachable server is reported at once and clearly. */
export async function connectPostgres(conn: PostgresConnection = postgresFromEnv(), options: PoolOptions = {}): Promise<pg.Pool> {
  const pool = createPool(conn, options);
  try {
    await checkout(pool).then((c) => c.release());
  } catch (err) {
    await pool.end().catch(() => undefined); // the connection error is the one to report
    throw err;
  }
  return pool;
}

const CONNECTION_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ENOENT: 'no such socket',
};

// The server is there but cannot serve us now: a retry may pass (too many connections, starting up or
// shutting down, a connection lost).
const UNAVAILABLE_SQLSTATES = new Set(['53300', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);
// The server will not let these settings in: a retry will not help.
const REFUSED_SQLSTATES: Record<string, string> = {
  '28000': 'login refused',
  '28P01': 'login refused',
  '3D000': 'no such database',
};

/**
 * What a PostgreSQL failure means for the person running the tool: unreachable (ServiceUnavailable, exit 4),
 * these settings refused — wrong user or password, no such database (ServiceRefused, exit 3) — or a database
 * `offload init` has not prepared (ConfigError, exit 3). Undefined for anything else (a query's own error,
 * which its caller reports).
 */
export function postgresFailure(err: unknown, pool?: pg.Pool): OffloadError | undefined {
  if (err instanceof ServiceUnavailable || err instanceof ServiceRefused) return err;
  if (!(err instanceof Error)) return undefined;
  const info = (pool && poolInfo.get(pool)) ?? { url: 'PostgreSQL', secrets: [], variables: 'DATABASE_URL' };
  type Coded = Error & { code?: string; errors?: Array<Error & { code?: string }> };
  const e = err as Coded;
  // Node reports a refused dual-stack connect as an AggregateError whose own message is empty.
  const code = e.code ?? e.errors?.find((x) => x.code)?.code;
  const message = scrubSecrets(e.message, info.secrets);
  if (isNotInitialized(err)) return notInitialized(info.url, { cause: err });
  if (code && REFUSED_SQLSTATES[code]) {
    const check = code === '3D000' ? 'the database name' : 'the user and password';
    return new ServiceRefused('PostgreSQL', info.url, `${REFUSED_SQLSTATES[code]} (${message})`, `check ${check} in ${info.variables}`, {
      cause: err,
    });
  }
  let detail: string | undefined;
  if (code && CONNECTION_CODES[code]) detail = CONNECTION_CODES[code];
  else if (code && UNAVAILABLE_SQLSTATES.has(code)) detail = message;
  else if (/^(timeout expired|Connection terminated)/i.test(e.message)) detail = message;
  if (detail === undefined) return undefined;
  return new ServiceUnavailable('PostgreSQL', info.url, detail, `is the server running, and is ${info.variables} right?`, {
    cause: err,
  });
}

// The tables `offload init` creates (migrations/): a query that finds one missing means init has not run.
const STATE_TABLES = /relation "(offload_watermarks|offload_runs|iceberg_tables|iceberg_namespace_properties)" does not exist/;

/** PostgreSQL answered that one of the tables `offload init` creates does not exist. */
export function isNotInitialized(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === '42P01' && typeof e.message === 'string' && STATE_TABLES.test(e.message);
}

/** The error for a database `offload init` has not prepared. */
function notInitialized(url: string, options?: { cause?: unknown }): ConfigError {
  return new ConfigError(
    `PostgreSQL at ${url} has no offload tables (offload_watermarks, offload_runs, iceberg_tables) yet: run \`offload init\` first`,
    options,
  );
}

/** pool.connect() with connection failures classified (postgresFailure) and a listener that keeps a dying connection from crashing the process. */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw postgresFailure(err, pool) ?? err;
  }
  return client;
}

/** Catches an error on a checked-out client (unhandled, it would crash the process); `lost()` tells whether one came. */
export function guard(client: pg.PoolClient): { lost: () => Error | undefined; dispose: () => void } {
  let lostWith: Error | undefined;
  const onError = (err: Error) => {
    lostWith = err;
  };
  client.on('error', onError);
  return { lost: () => lostWith, dispose: () => client.removeListener('error', onError) };
}

export interface TransactionOptions {
  /** Runs after `fn` and just before COMMIT; the pipeline's `inside-commit` fault point lives here. */
  beforeCommit?: (tx: Tx) => Promise<void> | void;
}

/**
 * Runs `fn` inside BEGIN … COMMIT on one client; any error rolls back and is rethrown. When COMMIT
 * itself fails (e.g. the connection drops), the outcome is unknown to us: the error is rethrown and
 * the caller's recovery (docs/architecture.md, step 2 recover) decides from the catalog.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const client = await checkout(pool);
  const g = guard(client);
  let broken: Error | undefined;
  try {
    try {
      await client.query('BEGIN');
    } catch (err) {
      broken = err as Error;
      throw postgresFailure(err, pool) ?? err;
    }
    let result: T;
    try {
      result = await fn(client);
      if (options.beforeCommit) await options.beforeCommit(client);
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error;
      }
      throw err;
    }
    try {
      await client.query('COMMIT');
    } catch (err) {
      broken = err as Error;
      throw postgresFailure(err, pool) ?? err;
    }
    return result;
  } finally {
    g.dispose();
    // A client whose connection failed is destroyed, never handed to the next caller.
    client.release(broken ?? g.lost() ?? undefined);
  }
}

/** The ISO-8601 UTC text of a timestamptz expression, with microseconds (JS Date would drop them). */
export function isoUtcSql(expr: string): string {
  return `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}
