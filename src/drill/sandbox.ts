// A drill's sandbox: it never touches the configured tables' watermarks or Iceberg tables. It offloads the
// same sources into a copy of each drilled table's configuration under a fresh name (`drill_<id>_<table>`)
// and Iceberg namespace (`drill_<id>`), with its own watermark rows and run history, removed afterwards
// (kept with `keepSandbox`). The session below holds the sandbox, the drill's own connections, and the
// drill's events; the steps (steps/) run offloads in it and check them.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { postgresFromEnv, secretsOf } from '../config/env.js';
import { redactUrl, scrubSecrets } from '../config/redact.js';
import { findTable, validateTablesConfig, type OffloadConfig, type TableConfig } from '../config/tables.js';
import type { ClickHouseSource } from '../clickhouse/client.js';
import { quoteIdentifier } from '../clickhouse/sql.js';
import { migrate } from '../state/migrate.js';
import { describePostgres } from '../state/pool.js';
import * as runs from '../state/runs.js';
import { PostgresStateStore } from '../state/store.js';
import * as watermarks from '../state/watermarks.js';
import { UsageError } from '../core/errors.js';
import { DEFAULT_CATALOG_NAME, type Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { defaultTableLocation } from '../iceberg/table.js';
import { parseIdentifier, type TableIdentifier } from '../iceberg/types.js';
import { gcTable } from '../pipeline/gc.js';
import type { InvariantCheck, VerifyServices } from '../verify/check.js';
import { PyIcebergReader, verificationPython } from '../verify/pyiceberg-reader.js';
import { readFrom } from '../verify/rows.js';
import { verifyTable } from '../verify/table.js';
import type { CrashFault } from './catalogue.js';
import { defaultOffloadCommand, runChildOffload } from './child.js';
import type { DrillEvent } from './events.js';
import type { ChildRun, DrillReport, StepVerification } from './report.js';
import { openDrillServices, type DrillServices } from './services.js';

type Env = Record<string, string | undefined>;

export interface DrillOptions {
  config: OffloadConfig;
  env: Env;
  onEvent?: (event: DrillEvent) => void;
  /** Stops the drill between steps (the step under way finishes, the sandbox is cleaned up). */
  signal?: AbortSignal;
  /** Leave the sandbox (tables, files, watermark rows, run history) for inspection. */
  keepSandbox?: boolean;
  /** Run the pyiceberg check (default: when the verification venv is installed). */
  pyiceberg?: boolean;
  /** Project root, to find the venv (default: the package's root). */
  root?: string;
  /** A child offload that takes longer than this is killed and the step is broken (default 180 s). */
  childTimeoutMs?: number;
  /** How many tables are drilled at the same time (default 3). */
  parallelTables?: number;
  /** The command that starts `offload` (default: this build: node + dist/cli.js, or tsx + src/cli.ts). */
  offloadCommand?: string[];
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface SandboxTable {
  /** The configured table. */
  original: TableConfig;
  /** Its copy in the sandbox: own name, own Iceberg target. */
  table: TableConfig;
}

/** `<epoch ms in base 36><4 hex digits>`: unique, and tells when the sandbox was made (sandboxCreatedAt). */
function sandboxId(): string {
  return `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

/** When a sandbox was made, from its id (`<epoch ms in base 36><4 hex digits>`); null when it is not one. */
export function sandboxCreatedAt(id: string): number | null {
  const m = /^([0-9a-z]{6,})[0-9a-f]{4}$/.exec(id);
  if (!m) return null;
  const ms = parseInt(m[1], 36);
  return Number.isFinite(ms) && ms > 1_500_000_000_000 && ms < 4_000_000_000_000 ? ms : null;
}

/** The sandbox copy of a configured table: same source and settings, a name and target of its own. */
export function sandboxTableConfig(t: TableConfig, id: string, file: string): TableConfig {
  const json = tableJson(t, { name: `drill_${id}_${t.name}`, target: `drill_${id}.${t.targetTable}` });
  return validateTablesConfig({ tables: [json] }, file).tables[0];
}

/** A table configuration as the file's JSON (what a child process reads), with overrides. */
function tableJson(t: TableConfig, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const json: Record<string, unknown> = {
    name: t.name,
    layer: t.layer,
    cursor: t.cursor,
    lag: t.lag,
    target: t.target,
    partitionBy: t.partitionBy,
    targetFileSize: t.targetFileSize,
  };
  if (t.source) json.source = t.source;
  if (t.query) json.query = t.query;
  if (t.tieBreak) json.tieBreak = t.tieBreak;
  if (t.closedWindow) json.closedWindow = t.closedWindow;
  return { ...json, ...overrides };
}

/** Where a sandbox table's files are: its location in the catalog, else where the JDBC catalog would put it (null: unknown). */
export async function tableLocation(catalog: Catalog, warehouse: string | null, ident: TableIdentifier): Promise<string | null> {
  const table = await catalog.loadTable(ident);
  if (table) return table.metadata.location.replace(/\/+$/, '');
  return warehouse ? defaultTableLocation(warehouse, ident) : null;
}

export class DrillSession {
  readonly id = sandboxId();
  readonly namespace: string;
  readonly tables = new Map<string, SandboxTable>();
  readonly dir: string;
  readonly clickhouse: ClickHouseSource;
  readonly pool: pg.Pool;
  readonly io: FileIO;
  readonly catalog: Catalog;
  readonly warehouse: string | null;
  readonly catalogName: string;
  readonly python: string | null;
  private pyiceberg: PyIcebergReader | null = null;
  readonly secrets: string[];
  private readonly services: DrillServices;
  private readonly command: string[];
  private configCount = 0;

  constructor(
    readonly options: DrillOptions,
    tableNames: string[],
  ) {
    const env = options.env;
    this.namespace = `drill_${this.id}`;
    this.dir = join(tmpdir(), `offload-drill-${this.id}`);
    this.services = openDrillServices(env, 'drill');
    this.warehouse = this.services.warehouse;
    this.clickhouse = this.services.clickhouse;
    this.pool = this.services.pool;
    this.io = this.services.io;
    this.catalog = this.services.catalog;
    this.catalogName = DEFAULT_CATALOG_NAME; // the catalog name the offload writes under
    this.python = options.pyiceberg === false ? null : verificationPython(env, options.root ?? ROOT);
    this.secrets = secretsOf(env);
    this.command = options.offloadCommand ?? defaultOffloadCommand();
    for (const name of tableNames) {
      const original = findTable(options.config, name);
      this.tables.set(name, { original, table: sandboxTableConfig(original, this.id, options.config.file) });
    }
  }

  emit(event: DrillEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      /* a listener's failure never stops a drill */
    }
  }

  log(level: 'info' | 'warn' | 'error', message: string): void {
    this.emit({ kind: 'log', level, message: this.scrub(message) });
  }

  scrub(text: string): string {
    return scrubSecrets(text, this.secrets);
  }

  sandbox(name: string): SandboxTable {
    const t = this.tables.get(name);
    if (!t) throw new UsageError(`${name} is not one of the drilled tables`);
    return t;
  }

  /** Migrations (idempotent) and a watermark row at the start for every sandbox table. */
  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await migrate(this.pool);
    await watermarks.ensure(
      this.pool,
      [...this.tables.values()].map((s) => ({ table: s.table.name, icebergTable: s.table.target })),
    );
  }

  /** Writes a configuration file holding just `t` with `lagMs` as its lag; returns its path. */
  async writeConfig(t: TableConfig, lagMs: number | null): Promise<string> {
    const path = join(this.dir, `offload.config.${++this.configCount}.json`);
    const lag = lagMs === null ? t.lag : `${Math.max(0, Math.round(lagMs))}ms`;
    await writeFile(
      path,
      `${JSON.stringify({ comment: `drill ${this.id}: sandbox copy of a configured table`, tables: [tableJson(t, { lag })] }, null, 2)}\n`,
    );
    return path;
  }

  /** Cutoffs that cut the source's rows into `steps` slices of about equal size (epoch seconds, ascending, distinct). */
  async cutoffs(t: TableConfig, steps: number): Promise<number[]> {
    const levels = Array.from({ length: steps }, (_, i) => ((i + 1) / (steps + 1)).toFixed(4));
    const cursor = `toUInt32(${quoteIdentifier(t.cursor)})`;
    const rows = await this.clickhouse.query<{ q: Array<number | string>; hi: number | string }>(
      `SELECT quantilesExact(${levels.join(', ')})(${cursor}) AS q, max(${cursor}) AS hi FROM ${readFrom(t)}`,
    );
    const q = (rows[0]?.q ?? []).map(Number);
    const out: number[] = [];
    for (const c of q) if (c > 0 && (out.length === 0 || c > out[out.length - 1])) out.push(c);
    return out;
  }

  /** The lag that puts a table's cutoff (now − lag, minus the closed window for aggregates) at `cutoffSec`. */
  lagFor(t: TableConfig, cutoffSec: number): number {
    return Date.now() - cutoffSec * 1000 - (t.closedWindowMs ?? 0);
  }

  /** Runs `offload run --table <sandbox table> --json` in a child process and classifies how it ended. */
  async offload(
    index: number,
    role: ChildRun['role'],
    s: SandboxTable,
    opts: { fault?: CrashFault | null; lagMs: number | null; env?: Env; onStarted?: (pid: number | null) => void },
  ): Promise<ChildRun> {
    const configPath = await this.writeConfig(s.table, opts.lagMs);
    const fault = opts.fault ?? null;
    const run = await runChildOffload({
      command: this.command,
      table: s.table.name,
      reportedAs: s.original.name,
      role,
      env: { ...this.options.env, ...opts.env, OFFLOAD_CONFIG: configPath },
      fault,
      timeoutMs: this.options.childTimeoutMs ?? 180_000,
      cwd: this.dir,
      scrub: (text) => this.scrub(text),
      onStarted: (pid) => {
        this.emit({ kind: 'child-started', index, role, table: s.original.name, fault, pid });
        opts.onStarted?.(pid);
      },
      onLine: (stream, line) => this.emit({ kind: 'child-line', index, role, stream, line }),
    });
    this.emit({ kind: 'child-exited', index, run });
    return run;
  }

  /** Removes the sandbox table's orphans with `offload gc`, with no safety age: no run of it is alive when a drill checks it. */
  async collectOrphans(s: SandboxTable): Promise<{ deleted: number; detail?: string }> {
    const r = await gcTable(s.table, { state: new PostgresStateStore(this.pool), catalog: this.catalog, io: this.io }, { minAgeMs: 0 });
    return {
      deleted: r.deleted.length,
      detail:
        r.status === 'collected' || r.status === 'no-table' ? undefined : `gc: ${r.status}${r.tooYoung ? `, ${r.tooYoung} too young` : ''}`,
    };
  }

  verifyServices(): VerifyServices {
    // One pyiceberg process for the whole drill, started on the first check.
    if (this.python && !this.pyiceberg)
      this.pyiceberg = new PyIcebergReader(this.python, this.options.env, this.warehouse ?? '', this.catalogName);
    return {
      clickhouse: this.clickhouse,
      pool: this.pool,
      io: this.io,
      catalog: this.catalog,
      warehouse: this.warehouse,
      env: this.options.env,
      pyiceberg: this.pyiceberg,
    };
  }

  /** Every invariant of a sandbox table, streamed as events, gc included. */
  async verify(index: number, s: SandboxTable, options: { gc?: boolean } = {}): Promise<StepVerification> {
    const table = s.original.name;
    this.emit({ kind: 'checking', index, table });
    const scrubbed = (c: InvariantCheck): InvariantCheck => ({ ...c, detail: this.scrub(c.detail) });
    // Each check shows as it begins and ends: the row comparison of a large table takes minutes.
    const v = await verifyTable(this.verifyServices(), s.table, {
      catalogName: this.catalogName,
      collectOrphans: options.gc === false ? undefined : () => this.collectOrphans(s),
      onChecking: (checks) => this.emit({ kind: 'checking', index, table, checks }),
      onCheck: (check) => this.emit({ kind: 'check', index, table, check: scrubbed(check) }),
    });
    const checks = v.checks.map(scrubbed);
    return {
      checks,
      clickhouseRows: v.rows?.clickhouseRows ?? null,
      icebergRows: v.rows?.icebergRows ?? null,
      orphansFound: v.files?.before.orphans.length ?? null,
      elapsedMs: v.elapsedMs,
    };
  }

  /** Drops the sandbox: Iceberg tables and their files, watermark rows, run history, the config files. */
  async cleanUp(): Promise<void> {
    const names = [...this.tables.values()].map((s) => s.table.name);
    if (!this.options.keepSandbox) {
      for (const s of this.tables.values()) {
        const ident = parseIdentifier(s.table.target);
        try {
          const location = await tableLocation(this.catalog, this.warehouse, ident);
          await this.catalog.dropTable(ident);
          const files = location ? await this.io.list(`${location}/`) : [];
          await this.io.deleteMany(files.map((f) => f.uri));
        } catch (err) {
          this.log('warn', `sandbox ${s.table.target} not fully removed: ${(err as Error).message}`);
        }
      }
      try {
        await this.catalog.dropNamespace(this.namespace);
      } catch {
        /* never created, or not empty: nothing to do */
      }
      await watermarks.remove(this.pool, names).catch(() => 0);
      await runs.removeForTables(this.pool, names).catch(() => 0);
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.services.close(), this.pyiceberg?.close()]);
  }

  environment(): DrillReport['environment'] {
    return {
      clickhouse: this.clickhouse.url,
      postgres: describePostgres(postgresFromEnv(this.options.env), this.options.env),
      warehouse: this.warehouse ? redactUrl(this.warehouse) : 'chosen by the REST catalog',
      catalog: this.catalog.description,
      sandbox: { id: this.id, namespace: this.namespace, kept: this.options.keepSandbox === true },
      tables: [...this.tables.values()].map((s) => ({
        table: s.original.name,
        sandbox: s.table.name,
        source: s.original.source ?? `query of ${s.original.name}`,
        target: s.table.target,
      })),
    };
  }
}
