// The migrations runner behind `offload init`: applies migrations/NNN_name.sql in order, each in its
// own transaction, recorded in offload_schema_migrations. Two `offload init` at once are safe: the
// whole run holds one advisory lock, so the second waits and then finds nothing to do.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { ConfigError, OffloadError } from '../core/errors.js';
import { postgresFailure, checkout } from './pool.js';
import { withAdvisoryLock } from './locks.js';

/** migrations/ at the package root (the same relative path from src/state and from dist/state). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

const TRACKING_TABLE = 'offload_schema_migrations';
const LOCK_NAME = 'migrations';
const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  /** SHA-256 of the file's text (line endings normalized): an applied migration must never change. */
  checksum: string;
}

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  appliedAt: string;
}

export interface MigrateResult {
  /** Migrations this call applied, in order. */
  applied: Migration[];
  /** The database's schema version afterwards. */
  version: number;
}

/** The migrations shipped with this build, ordered by version. */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.sql')) continue;
    const m = FILE_NAME.exec(file);
    if (!m) throw new ConfigError(`${join(dir, file)}: not a migration file name (expected NNN_name.sql, e.g. 004_add_index.sql)`);
    const sql = readFileSync(join(dir, file), 'utf8').replace(/\r\n/g, '\n');
    out.push({ version: Number(m[1]), name: m[2], file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i].version === out[i - 1].version) {
      throw new ConfigError(`${dir}: two migrations have version ${out[i].version} (${out[i - 1].file}, ${out[i].file})`);
    }
  }
  return out;
}

async function databaseName(db: pg.ClientBase): Promise<string> {
  return (await db.query<{ db: string }>('SELECT current_database() AS db')).rows[0].db;
}

async function readApplied(db: pg.ClientBase): Promise<AppliedMigration[]> {
  const exists = await db.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [TRACKING_TABLE]);
  if (!exists.rows[0].t) return [];
  const r = await db.query<{ version: number; name: string; checksum: string; applied_at: string }>(
    `SELECT version, name, checksum,
            to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS applied_at
       FROM ${TRACKING_TABLE} ORDER BY version`,
  );
  return r.rows.map((x) => ({ version: x.version, name: x.name, checksum: x.checksum, appliedAt: x.applied_at }));
}

/** Refuses a database this build cannot safely migrate: newer than us, or with an applied migration changed since. */
function checkCompatible(dbName: string, known: Migration[], applied: AppliedMigration[]): void {
  const byVersion = new Map(known.map((m) => [m.version, m]));
  const newest = known.length ? known[known.length - 1].version : 0;
  const unknown = applied.filter((a) => !byVersion.has(a.version));
  if (unknown.length) {
    const top = unknown[unknown.length - 1];
    if (top.version > newest) {
      throw new ConfigError(
        `database "${dbName}" was migrated by a newer offload (version ${top.version} > ${newest}); upgrade the tool` +
          ` (migration ${String(top.version).padStart(3, '0')}_${top.name} is not in this build)`,
      );
    }
    throw new ConfigError(
      `database "${dbName}" has migration ${String(top.version).padStart(3, '0')}_${top.name} applied, which this build does not have; ` +
        `it was migrated by a different build of offload`,
    );
  }
  for (const a of applied) {
    const m = byVersion.get(a.version)!;
    if (m.checksum !== a.checksum) {
      throw new ConfigError(
        `database "${dbName}": migration ${m.file} was changed after it was applied ` +
          `(checksum recorded ${a.checksum.slice(0, 12)}…, file has ${m.checksum.slice(0, 12)}…); ` +
          `applied migrations are never edited: restore the file and add a new numbered migration instead`,
      );
    }
  }
}

/** What is applied and what is pending, without changing anything (for `offload status` / doctor). */
export async function migrationStatus(
  pool: pg.Pool,
  dir = MIGRATIONS_DIR,
): Promise<{ applied: AppliedMigration[]; pending: Migration[]; version: number }> {
  const known = loadMigrations(dir);
  const client = await checkout(pool);
  try {
    const applied = await readApplied(client);
    checkCompatible(await databaseName(client), known, applied);
    const done = new Set(applied.map((a) => a.version));
    return {
      applied,
      pending: known.filter((m) => !done.has(m.version)),
      version: applied.length ? applied[applied.length - 1].version : 0,
    };
  } finally {
    client.release();
  }
}

/**
 * Applies every pending migration, in version order, each in its own transaction together with its
 * row in offload_schema_migrations. Safe to run twice and from two processes at once.
 */
export async function migrate(pool: pg.Pool, options: { dir?: string } = {}): Promise<MigrateResult> {
  const known = loadMigrations(options.dir);
  return withAdvisoryLock(pool, LOCK_NAME, async (client) => {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${TRACKING_TABLE} (
         version    INTEGER PRIMARY KEY,
         name       TEXT NOT NULL,
         checksum   TEXT NOT NULL,
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
    );
    const applied = await readApplied(client);
    const dbName = await databaseName(client);
    checkCompatible(dbName, known, applied);
    const done = new Set(applied.map((a) => a.version));
    const ran: Migration[] = [];
    for (const m of known) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(`INSERT INTO ${TRACKING_TABLE} (version, name, checksum) VALUES ($1, $2, $3)`, [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined); // the migration's own error is the one to report
        throw (
          postgresFailure(err, pool) ??
          new OffloadError(`database "${dbName}": migration ${m.file} failed: ${(err as Error).message}; nothing of it was applied`, {
            cause: err,
          })
        );
      }
      ran.push(m);
    }
    const version = Math.max(0, ...applied.map((a) => a.version), ...ran.map((m) => m.version));
    return { applied: ran, version };
  });
}
