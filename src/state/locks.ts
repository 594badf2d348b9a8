// Session-level advisory locks: the per-table lock a worker claims a table with (step 1, claim), so that
// several workers on several machines can run at once; who holds one (`status`, gc); and a blocking lock
// around migrations. A lock lives as long as its session: it goes with the connection.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { postgresFailure, checkout, guard, type Queryable } from './pool.js';

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
    throw postgresFailure(err, pool) ?? err;
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
      throw postgresFailure(err, pool) ?? err;
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
