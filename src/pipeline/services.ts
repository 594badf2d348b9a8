// The one place that opens connections — the ClickHouse client, the PostgreSQL pool (state store, and the
// JDBC catalog), the Iceberg catalog the configuration names (OFFLOAD_CATALOG: the JDBC catalog in the state
// database, or a REST catalog) and the FileIO — with the settings measured for each use, so the CLI, the
// TUI, the drills and the benchmark offload with the memory and concurrency the README reports. A connection
// opens when first used (a command that needs no ClickHouse never reaches for it); close() closes what opened.
// require() checks, before a command starts, that the services it needs answer and let it in.
import type pg from 'pg';
import { clickhouseFromEnv, postgresFromEnv, s3FromEnv, warehouseFromEnv, workDirFromEnv, type Env } from '../config/env.js';
import type { OffloadConfig } from '../config/tables.js';
import { ClickHouseSource } from '../clickhouse/client.js';
import { catalogFromEnv, type CatalogSettings } from '../config/catalog.js';
import { mostUrgent, type ServiceName } from '../core/errors.js';
import { JdbcCatalog, type Catalog } from '../iceberg/catalog.js';
import { JdbcTableCatalog } from '../iceberg/jdbc-table-catalog.js';
import { RestCatalog } from '../iceberg/rest-catalog.js';
import { createFileIO, describeS3Endpoint, type FileIO } from '../iceberg/io.js';
import { createPool, serverVersion } from '../state/pool.js';
import { PostgresStateStore } from '../state/store.js';
import type { OffloadDeps } from './offload.js';
import { ClickHouseRows } from './source.js';
import type { StatusSources } from './status.js';

/** What the connections are for; each has its settings, and its name in pg_stat_activity (`offload <purpose>`). */
export type ServicePurpose =
  | 'run'
  | 'run --every'
  | 'gc'
  | 'compact'
  | 'verify'
  | 'repair'
  | 'expire'
  | 'tui'
  | 'tui offloads'
  | 'status'
  | 'serve-metrics'
  | 'init'
  | 'runs'
  | 'seed'
  | 'drill'
  | 'drill --clean'
  | 'bench';

interface Settings {
  /** Most PostgreSQL connections: each table an offload holds keeps one checked out for its lock. */
  poolMax: number;
  /** Per ClickHouse request: extraction queries may take minutes; status queries must not hang a screen. */
  clickhouseTimeoutMs: number;
}

const OFFLOADS: Settings = { poolMax: 16, clickhouseTimeoutMs: 300_000 };
// Small status queries: a short timeout lets a hung server show as such on the next refresh.
const STATUS: Settings = { poolMax: 4, clickhouseTimeoutMs: 30_000 };
const ADMIN: Settings = { poolMax: 2, clickhouseTimeoutMs: 300_000 };

const SETTINGS: Record<ServicePurpose, Settings> = {
  run: OFFLOADS,
  'run --every': OFFLOADS,
  gc: OFFLOADS,
  compact: OFFLOADS,
  verify: OFFLOADS,
  repair: OFFLOADS,
  expire: ADMIN,
  'tui offloads': OFFLOADS,
  bench: OFFLOADS,
  tui: STATUS,
  status: STATUS,
  // Status queries only, between scrapes: the same small pool and short timeouts as `offload status`.
  'serve-metrics': STATUS,
  drill: { poolMax: 6, clickhouseTimeoutMs: 300_000 },
  'drill --clean': ADMIN,
  init: ADMIN,
  runs: ADMIN,
  seed: ADMIN,
};

/**
 * Uploads: two parts in flight per file, 5 MiB each (S3's minimum part), overlap encoding without holding
 * much memory — what keeps the offload's peak RSS flat (README "Performance").
 */
const UPLOAD_PARTS = { queueSize: 2, partSizeBytes: 5 * 1024 * 1024 };

/** The connections of one process (or one screen), opened on first use. */
export class Services {
  private openedClickhouse?: ClickHouseSource;
  private openedPool?: pg.Pool;
  private openedIo?: FileIO;
  private openedCatalog?: Catalog;
  private readonly settings: Settings;
  /** Which Iceberg catalog (read at once: a bad setting is reported before anything opens). */
  readonly catalogSettings: CatalogSettings;

  constructor(
    readonly env: Env,
    readonly purpose: ServicePurpose,
  ) {
    this.settings = SETTINGS[purpose];
    this.catalogSettings = catalogFromEnv(env);
  }

  get clickhouse(): ClickHouseSource {
    this.openedClickhouse ??= new ClickHouseSource(clickhouseFromEnv(this.env), {
      env: this.env,
      requestTimeoutMs: this.settings.clickhouseTimeoutMs,
    });
    return this.openedClickhouse;
  }

  get pool(): pg.Pool {
    this.openedPool ??= createPool(postgresFromEnv(this.env), {
      env: this.env,
      max: this.settings.poolMax,
      applicationName: `offload ${this.purpose.replace(/ offloads$/, '')}`,
    });
    return this.openedPool;
  }

  get io(): FileIO {
    this.openedIo ??= createFileIO({ s3: s3FromEnv(this.env), ...UPLOAD_PARTS });
    return this.openedIo;
  }

  /**
   * The Iceberg catalog: the JDBC catalog in the same PostgreSQL database as the state (so a commit is one
   * transaction), or the REST catalog of OFFLOAD_CATALOG_URI (asked for its configuration on first use).
   */
  get catalog(): Catalog {
    const settings = this.catalogSettings;
    this.openedCatalog ??=
      settings.kind === 'rest'
        ? new RestCatalog(settings)
        : new JdbcTableCatalog(new JdbcCatalog(this.pool), this.io, () => this.warehouse, this.pool);
    return this.openedCatalog;
  }

  /** OFFLOAD_WAREHOUSE (a ConfigError when unset): where the JDBC catalog's new tables go. */
  get warehouse(): string {
    return warehouseFromEnv(this.env);
  }

  /** OFFLOAD_WAREHOUSE, or null when unset (a REST catalog places tables itself). */
  get warehouseIfSet(): string | null {
    return this.env.OFFLOAD_WAREHOUSE ? this.warehouse : null;
  }

  /** The warehouse and where its storage is, as a person reads it (the S3 endpoint, or the local path). */
  get storage(): { location: string; endpoint: string } | null {
    const location = this.warehouseForTables;
    if (location === null) return null;
    return { location, endpoint: /^s3a?:\/\//.test(location) ? describeS3Endpoint(s3FromEnv(this.env)) : location };
  }

  /** What the status collector reads (pipeline/status.ts): these connections, S3 probed for the warehouse. */
  statusSources(config: OffloadConfig): Required<Omit<StatusSources, 'lateMemo'>> {
    return { config, clickhouse: this.clickhouse, pool: this.pool, catalog: this.catalog, io: this.io, warehouse: this.storage };
  }

  /**
   * Checks, all at once and with one cheap request each, that the services `needs` names answer and let us
   * in (S3 only for an s3:// warehouse). Throws the most urgent failure: settings refused before unreachable.
   * Commands call it first, so a service that is down is one clear line before anything is done.
   */
  async require(needs: readonly ServiceName[]): Promise<void> {
    const checks: Array<Promise<unknown>> = [];
    if (needs.includes('PostgreSQL')) checks.push(serverVersion(this.pool));
    if (needs.includes('ClickHouse')) checks.push(this.clickhouse.probe());
    if (needs.includes('S3')) {
      const location = this.warehouseForTables;
      if (location && /^s3a?:\/\//.test(location)) checks.push(this.io.probe(location));
    }
    const failures = (await Promise.allSettled(checks)).flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) throw mostUrgent(failures);
  }

  /**
   * Where tables live: OFFLOAD_WAREHOUSE, required with the JDBC catalog (a ConfigError when unset); with a
   * REST catalog, which places tables itself, null when unset.
   */
  private get warehouseForTables(): string | null {
    return this.catalogSettings.kind === 'rest' ? this.warehouseIfSet : this.warehouse;
  }

  /** What an offload (or gc) is handed: these connections behind the interfaces the pipeline takes. */
  offloadDeps(): OffloadDeps {
    return offloadDepsOn({
      clickhouse: this.clickhouse,
      pool: this.pool,
      catalog: this.catalog,
      io: this.io,
      workDir: workDirFromEnv(this.env),
    });
  }

  async close(): Promise<void> {
    this.openedIo?.close();
    await Promise.allSettled([this.openedClickhouse?.close(), this.openedPool?.end()]);
  }
}

/** The connections for `purpose`, from `env` (connection settings: config/env.ts). */
export function openServices(env: Env, purpose: ServicePurpose): Services {
  return new Services(env, purpose);
}

/**
 * An offload's deps on connections opened elsewhere (Services.offloadDeps; tests with their own databases).
 * The catalog: the one given, or the JDBC catalog in `pool`'s database with new tables under `warehouse`.
 */
export function offloadDepsOn(c: {
  clickhouse: ClickHouseSource;
  pool: pg.Pool;
  catalog?: Catalog;
  io: FileIO;
  warehouse?: string;
  workDir?: string;
}): OffloadDeps {
  return {
    source: new ClickHouseRows(c.clickhouse),
    state: new PostgresStateStore(c.pool),
    catalog: c.catalog ?? new JdbcTableCatalog(new JdbcCatalog(c.pool), c.io, () => c.warehouse ?? warehouseFromEnv({}), c.pool),
    io: c.io,
    ...(c.workDir !== undefined ? { workDir: c.workDir } : {}),
  };
}
