// PostgreSQL: the pool, connection failures as ServiceUnavailable, and explicit transactions (the commit
// of step 8 is one of them). The advisory locks live in locks.ts.
import pg from 'pg';
import { postgresFromEnv, processEnv, type Env, type PostgresConnection } from '../config/env.js';
import { redactUrl, scrubSecrets } from '../config/redact.js';
import { ServiceUnavailable } from '../core/errors.js';

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

const poolUrls = new WeakMap<pg.Pool, { url: string; secrets: string[] }>();

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
  poolUrls.set(pool, { url: describePostgres(conn, env), secrets: secretsOf(conn, env) });
  return pool;
}

/** The pool's server as a person should see it (describePostgres of the connection it was created for). */
export function describePool(pool: pg.Pool): string {
  return poolUrls.get(pool)?.url ?? describePostgres();
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

// Server-side refusals that mean "this server will not let us in", not "the query was wrong".
const LOGIN_SQLSTATES = new Set(['28000', '28P01', '3D000', '53300', '57P03']);

/** The error as ServiceUnavailable when it means PostgreSQL cannot be reached or refused the login; otherwise undefined. */
export function asPostgresUnavailable(err: unknown, pool?: pg.Pool): ServiceUnavailable | undefined {
  if (err instanceof ServiceUnavailable) return err;
  if (!(err instanceof Error)) return undefined;
  const info = (pool && poolUrls.get(pool)) ?? {
    url: describePostgres(),
    secrets: secretsOf(postgresFromEnv(), processEnv()),
  };
  type Coded = Error & { code?: string; errors?: Array<Error & { code?: string }> };
  const e = err as Coded;
  // Node reports a refused dual-stack connect as an AggregateError whose own message is empty.
  const code = e.code ?? e.errors?.find((x) => x.code)?.code;
  let detail: string | undefined;
  if (code && CONNECTION_CODES[code]) detail = CONNECTION_CODES[code];
  else if (code && LOGIN_SQLSTATES.has(code)) detail = e.message;
  else if (/^(timeout expired|Connection terminated)/i.test(e.message)) detail = e.message;
  if (detail === undefined) return undefined;
  return new ServiceUnavailable('PostgreSQL', info.url, scrubSecrets(detail, info.secrets), undefined, { cause: err });
}

/** pool.connect() with connection failures reported as ServiceUnavailable and a listener that keeps a dying connection from crashing the process. */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw asPostgresUnavailable(err, pool) ?? err;
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
      throw asPostgresUnavailable(err, pool) ?? err;
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
      throw asPostgresUnavailable(err, pool) ?? err;
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
