// PostgreSQL: the pool, explicit transactions, and the per-table advisory locks that let several
// workers on several machines run at once (DESIGN.md "The exactly-once protocol", step 1 "Claim").
import { createHash } from 'node:crypto';
import pg from 'pg';
import { postgresFromEnv, type PostgresConnection } from '../config/env.js';
import { redactUrl, scrubSecrets } from '../config/redact.js';
import { ServiceUnavailable } from '../core/errors.js';

export type Pool = pg.Pool;
/** A client inside an open transaction (`BEGIN` issued by withTransaction). */
export type Tx = pg.PoolClient;

/** Anything that runs a parameterized query: a pool, a checked-out client, a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

type Env = Record<string, string | undefined>;

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
export function describePostgres(conn: PostgresConnection = postgresFromEnv(), env: Env = process.env): string {
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
  const env = options.env ?? process.env;
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

/** createPool + one round trip, so an unreachable server is reported at once and clearly. */
export async function connectPostgres(conn: PostgresConnection = postgresFromEnv(), options: PoolOptions = {}): Promise<pg.Pool> {
  const pool = createPool(conn, options);
  try {
    await checkout(pool).then((c) => c.release());
  } catch (err) {
    await pool.end().catch(() => {});
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
    secrets: secretsOf(postgresFromEnv(), process.env),
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

function guard(client: pg.PoolClient): { lost: () => Error | undefined; dispose: () => void } {
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
 * the caller's recovery (DESIGN.md step 7) decides from the catalog.
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

/** A stable signed 64-bit advisory-lock key for a name: the first 8 bytes of SHA-256("offload:" + name). */
export function advisoryKey(name: string): bigint {
  return createHash('sha256').update(`offload:${name}`).digest().readBigInt64BE(0);
}

function tableLockName(tableName: string): string {
  return `table:${tableName}`;
}

/** A held per-table lock. It lives as long as its session: release it, or lose it with the connection. */
export interface TableLock {
  readonly table: string;
  readonly key: bigint;
  /** Aborted when the lock's connection is lost (the lock is gone with it: stop before committing). */
  readonly signal: AbortSignal;
  isHeld(): boolean;
  release(): Promise<void>;
}

async function tryLock(pool: pg.Pool, name: string, label: string): Promise<TableLock | null> {
  const key = advisoryKey(name);
  const client = await checkout(pool);
  const controller = new AbortController();
  let released = false;
  const onError = (err: Error) => controller.abort(err);
  client.on('error', onError);
  let got: boolean;
  try {
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key.toString()]);
    got = r.rows[0].ok;
  } catch (err) {
    client.removeListener('error', onError);
    client.release(err as Error);
    throw asPostgresUnavailable(err, pool) ?? err;
  }
  if (!got) {
    client.removeListener('error', onError);
    client.release();
    return null;
  }
  return {
    table: label,
    key,
    signal: controller.signal,
    isHeld: () => !released && !controller.signal.aborted,
    release: async () => {
      if (released) return;
      released = true;
      let failure: Error | undefined = controller.signal.aborted ? (controller.signal.reason as Error) : undefined;
      if (!failure) {
        try {
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
        } catch (err) {
          failure = err as Error; // the session is gone, and its lock with it
        }
      }
      client.removeListener('error', onError);
      client.release(failure);
    },
  };
}

/**
 * Claims a table for this worker: a session-level pg_try_advisory_lock held on one checked-out client
 * until `release()`. Returns null when another session holds it (report "busy", do nothing).
 */
export function tryLockTable(pool: pg.Pool, tableName: string): Promise<TableLock | null> {
  return tryLock(pool, tableLockName(tableName), tableName);
}

/** Who holds a lock, as PostgreSQL sees it. */
export interface LockHolder {
  pid: number;
  applicationName: string | null;
  clientAddr: string | null;
  backendStart: string | null;
}

async function holderOf(db: Queryable, key: bigint): Promise<LockHolder | null> {
  // A bigint advisory key appears in pg_locks split into classid (high 32 bits) and objid (low 32 bits), objsubid 1.
  const u = BigInt.asUintN(64, key);
  const hi = (u >> 32n).toString();
  const lo = (u & 0xffffffffn).toString();
  const r = await db.query<{ pid: number; application_name: string | null; client_addr: string | null; backend_start: string | null }>(
    `SELECT l.pid, a.application_name, host(a.client_addr) AS client_addr,
            to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS backend_start
       FROM pg_locks l
       LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1
      LIMIT 1`,
    [hi, lo],
  );
  const row = r.rows[0];
  if (!row) return null;
  return { pid: row.pid, applicationName: row.application_name, clientAddr: row.client_addr, backendStart: row.backend_start };
}

/** The session holding a table's lock right now, or null (for `status` "busy" and for gc). Takes no lock itself. */
export function tableLockHolder(db: Queryable, tableName: string): Promise<LockHolder | null> {
  return holderOf(db, advisoryKey(tableLockName(tableName)));
}

/** Whether any session holds the table's lock right now. */
export async function isTableLocked(db: Queryable, tableName: string): Promise<boolean> {
  return (await tableLockHolder(db, tableName)) !== null;
}

/** Runs `fn` while holding a session-level advisory lock (blocking until it is free), e.g. to serialize migrations. */
export async function withAdvisoryLock<T>(pool: pg.Pool, name: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const key = advisoryKey(name).toString();
  const client = await checkout(pool);
  const g = guard(client);
  let broken: Error | undefined;
  try {
    try {
      await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    } catch (err) {
      broken = err as Error;
      throw asPostgresUnavailable(err, pool) ?? err;
    }
    try {
      return await fn(client);
    } finally {
      try {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
      } catch (err) {
        broken = err as Error;
      }
    }
  } finally {
    g.dispose();
    client.release(broken ?? g.lost() ?? undefined);
  }
}

/** The ISO-8601 UTC text of a timestamptz expression, with microseconds (JS Date would drop them). */
export function isoUtcSql(expr: string): string {
  return `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}
