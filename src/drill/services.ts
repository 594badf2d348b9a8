// The connections a drill opens for itself (to prepare, check and remove its sandbox; the child offloads
// open their own): the one place in src/drill that creates the pool, the ClickHouse client and the FileIO.
import type pg from 'pg';
import { clickhouseFromEnv, postgresFromEnv, s3FromEnv, warehouseFromEnv } from '../config/env.js';
import { ClickHouseSource } from '../db/clickhouse.js';
import { createPool } from '../db/postgres.js';
import { DEFAULT_CATALOG_NAME, JdbcCatalog } from '../iceberg/catalog.js';
import { createFileIO, type FileIO } from '../iceberg/io.js';

type Env = Record<string, string | undefined>;

/** The state store, the catalog and the warehouse: what removing leftover sandboxes needs. */
export interface SandboxStore {
  pool: pg.Pool;
  io: FileIO;
  catalog: JdbcCatalog;
  warehouse: string;
  close(): Promise<void>;
}

/** A drill's own connections: the sandbox store, and ClickHouse (slices of the sources, new trades, checks). */
export interface DrillServices extends SandboxStore {
  clickhouse: ClickHouseSource;
}

/**
 * `drill`: a drill under way (checks read whole tables: long ClickHouse requests; a few connections, the
 * tables are drilled side by side). `drill --clean`: removing leftover sandboxes (PostgreSQL and S3 only).
 */
export function openDrillServices(env: Env, purpose: 'drill'): DrillServices;
export function openDrillServices(env: Env, purpose: 'drill --clean'): SandboxStore;
export function openDrillServices(env: Env, purpose: 'drill' | 'drill --clean'): DrillServices | SandboxStore {
  if (purpose === 'drill --clean') {
    const pool = createPool(postgresFromEnv(env), { env, max: 2, applicationName: 'offload drill --clean' });
    const io = createFileIO({ s3: s3FromEnv(env) });
    const catalog = new JdbcCatalog(pool, DEFAULT_CATALOG_NAME);
    const warehouse = warehouseFromEnv(env);
    return {
      pool,
      io,
      catalog,
      warehouse,
      close: async () => {
        io.close();
        await pool.end();
      },
    };
  }
  const warehouse = warehouseFromEnv(env);
  const clickhouse = new ClickHouseSource(clickhouseFromEnv(env), { env, requestTimeoutMs: 300_000 });
  const pool = createPool(postgresFromEnv(env), { env, max: 6, applicationName: 'offload drill' });
  const io = createFileIO({ s3: s3FromEnv(env) });
  return {
    clickhouse,
    pool,
    io,
    // The catalog name the offload writes under.
    catalog: new JdbcCatalog(pool, DEFAULT_CATALOG_NAME),
    warehouse,
    close: async () => {
      await Promise.allSettled([clickhouse.close(), pool.end()]);
      io.close();
    },
  };
}
