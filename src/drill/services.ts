// The connections a drill opens for itself (to prepare, check and remove its sandbox; the child offloads
// open their own): the one place in src/drill that creates the pool, the ClickHouse client and the FileIO.
import type pg from 'pg';
import type { ClickHouseSource } from '../clickhouse/client.js';
import type { Env } from '../config/env.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { openServices } from '../pipeline/services.js';

/** The state store, the catalog and the warehouse: what removing leftover sandboxes needs. */
export interface SandboxStore {
  pool: pg.Pool;
  io: FileIO;
  /** The configured Iceberg catalog (JDBC or REST): sandboxes live in it as their own namespaces. */
  catalog: Catalog;
  /** OFFLOAD_WAREHOUSE; null with a REST catalog that places tables itself. */
  warehouse: string | null;
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
  // The settings of each purpose live with every other use's (pipeline/services.ts); the warehouse is read
  // first so a missing OFFLOAD_WAREHOUSE fails before anything opens (a REST catalog needs none).
  const services = openServices(env, purpose);
  const warehouse = services.catalogSettings.kind === 'rest' ? services.warehouseIfSet : services.warehouse;
  const store: SandboxStore = { pool: services.pool, io: services.io, catalog: services.catalog, warehouse, close: () => services.close() };
  return purpose === 'drill --clean' ? store : { ...store, clickhouse: services.clickhouse };
}
