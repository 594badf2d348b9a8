// Failure-recovery drills: kill the offload on purpose and prove that nothing was lost or duplicated.
//
// A drill never touches the configured tables' watermarks or Iceberg tables. It offloads the same sources
// into a sandbox: a copy of each drilled table's configuration under a fresh name (`drill_<id>_<table>`)
// and Iceberg namespace (`drill_<id>`), with its own watermark rows and run history, removed afterwards
// (kept with `keepSandbox`). Every offload is a real `offload run --table T --json` child process:
//
//   crash      the run is started with a fault point armed and dies there by SIGKILL (a real kill, not a
//              thrown exception); the next run recovers; then the invariants are checked (verify.ts).
//   transient  the run talks to one service through the fault proxy (fault-proxy.ts): S3 errors or stalls,
//              a PostgreSQL COMMIT whose answer is lost, a ClickHouse response reset mid-stream. It must
//              retry what is safe to retry or fail cleanly; the next run recovers; then the checks.
//   concurrent two workers on one table: the one holding the table dies at a fault, the other is turned
//              away as busy while it holds it, then two more race to recover; then the checks.
//   random     N kills at random fault points across repeated offloads of random tables, while new trades
//              keep arriving in the sources (the seed data generator); the checks after the last one.
//
// Each crash/transient/concurrent step gets a fresh slice of the source's history to work on: the drill
// sets the sandbox's lag so the run's cutoff (now − lag) falls at the next quantile of the cursor column,
// so every armed fault point is reached with real rows in flight, whatever state the sources are in.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type pg from 'pg';
import { clickhouseFromEnv, postgresFromEnv, s3FromEnv, secretsOf, warehouseFromEnv } from '../config/env.js';
import { redactUrl, scrubSecrets } from '../config/redact.js';
import { findTable, validateTablesConfig, type OffloadConfig, type TableConfig } from '../config/tables.js';
import { qualifiedName, quoteIdentifier, ClickHouseSource } from '../db/clickhouse.js';
import { migrate } from '../db/migrate.js';
import { createPool, describePostgres, isTableLocked } from '../db/postgres.js';
import * as runs from '../db/runs.js';
import * as watermarks from '../db/watermarks.js';
import { followTrades } from '../dev/seed.js';
import { Random } from '../dev/trades.js';
import { UsageError } from '../errors.js';
import { DEFAULT_CATALOG_NAME, JdbcCatalog } from '../iceberg/catalog.js';
import { createFileIO, type FileIO } from '../iceberg/io.js';
import { defaultTableLocation } from '../iceberg/table.js';
import { parseIdentifier } from '../iceberg/types.js';
import { combineOutcomes, totalsOf, type ChildRun, type DrillOutcome, type DrillReport, type DrillStep, type StepVerification } from './drill-report.js';
import { FAULT_ENV, FAULT_POINTS, type FaultPoint } from './faults.js';
import { gcTable } from './gc.js';
import { FaultProxy, postgresQueryMessage, targetOf, throughProxy, type ProxyFault } from './fault-proxy.js';
import { PyIcebergReader, verificationPython, verifyTable, type InvariantCheck, type VerifyServices } from './verify.js';

type Env = Record<string, string | undefined>;

// ─── Faults ─────────────────────────────────────────────────────────────────────────────────────────

/** The crash fault points, in protocol order (named in faults.ts, armed in a child by FAULT_ENV). */
export const CRASH_FAULTS = FAULT_POINTS;
export type CrashFault = FaultPoint;
export { FAULT_ENV };

import { TRANSIENT_FAULTS, type TransientFault } from './faults.js';
export { TRANSIENT_FAULTS, type TransientFault };

/** What each fault simulates, for reports, the TUI and docs/drills.md. */
export const FAULT_SIMULATES: Record<CrashFault | TransientFault, string> = {
  'after-plan': 'the process dies right after planning its window: the run is recorded as running, nothing is written yet',
  'mid-extract': 'the process dies while rows stream from ClickHouse: a partial extract on local disk, nothing in the table',
  'after-data-upload': 'the process dies after its Parquet data files reached S3, before any manifest names them: orphan data files',
  'after-manifests': 'the process dies after writing manifests and the manifest list, before the metadata file: orphan data and manifests',
  'after-metadata-file': 'the process dies after writing the next metadata.json, which the catalog does not point at: a complete but uncommitted version',
  'before-commit': 'the process dies with everything staged, just before the commit transaction begins',
  'inside-commit': 'the process dies inside the commit transaction (catalog pointer and watermark updated, COMMIT not sent): PostgreSQL rolls it back',
  'after-commit': 'the process dies right after COMMIT, before anything that follows it: the commit stands, the run must not be repeated',
  's3-500': 'S3 answers the first 3 uploads of data files with 500 InternalError',
  's3-503': 'S3 answers the first 3 requests of the run (whatever they are) with 503 SlowDown (throttling)',
  's3-timeout': 'S3 holds the first 2 uploads of data files for 3 s and then drops the connection without an answer (a timeout)',
  'pg-drop': 'the commit transaction\'s COMMIT reaches PostgreSQL and commits, but the connection drops before the answer: an ambiguous commit',
  'ch-reset': 'the ClickHouse connection is reset after 16 KiB of a response: the extract stream is cut mid-way',
};

/** What a person can pick on the TUI's drill screen, in order: crash points, transient faults, two workers, random. */
export interface DrillChoiceOption {
  id: string;
  kind: 'crash' | 'transient' | 'concurrent' | 'random';
  label: string;
  simulates: string;
}

export const RANDOM_KILLS_IN_TUI = 10;

/** In a random drill, the share of offloads that run without a fault (and the label of their steps). */
export const CLEAN_RUN_SHARE = 0.25;
export const CLEAN_RUN = 'none (clean run)';

export function drillChoices(): DrillChoiceOption[] {
  return [
    ...CRASH_FAULTS.map((f) => ({ id: f, kind: 'crash' as const, label: f, simulates: FAULT_SIMULATES[f] })),
    ...TRANSIENT_FAULTS.map((f) => ({ id: f, kind: 'transient' as const, label: f, simulates: FAULT_SIMULATES[f] })),
    {
      id: 'concurrent',
      kind: 'concurrent' as const,
      label: 'two workers',
      simulates: 'two workers on one table: the one holding it dies at mid-extract, the other must be turned away meanwhile, then two race to recover',
    },
    {
      id: 'random',
      kind: 'random' as const,
      label: `random (${RANDOM_KILLS_IN_TUI} kills)`,
      simulates: `${RANDOM_KILLS_IN_TUI} kills at random fault points across repeated offloads, while new trades arrive when the source is the seed schema`,
    },
  ];
}

export function isCrashFault(f: string): f is CrashFault {
  return (CRASH_FAULTS as readonly string[]).includes(f);
}
export function isTransientFault(f: string): f is TransientFault {
  return (TRANSIENT_FAULTS as readonly string[]).includes(f);
}

/** The proxy a transient fault needs: which service, and what it does. */
export function proxyFaultOf(fault: TransientFault): { service: 'ClickHouse' | 'PostgreSQL' | 'S3'; protocol: 'tcp' | 'http'; fault: ProxyFault } {
  switch (fault) {
    case 's3-500':
      return { service: 'S3', protocol: 'http', fault: { kind: 'http-error', status: 500, requests: 3, match: { method: 'PUT', pathIncludes: '/data/' } } };
    case 's3-503':
      return { service: 'S3', protocol: 'http', fault: { kind: 'http-error', status: 503, requests: 3 } };
    case 's3-timeout':
      return { service: 'S3', protocol: 'http', fault: { kind: 'http-stall', requests: 2, stallMs: 3000, match: { method: 'PUT', pathIncludes: '/data/' } } };
    case 'pg-drop':
      return { service: 'PostgreSQL', protocol: 'tcp', fault: { kind: 'drop-on-message', match: postgresQueryMessage('COMMIT'), when: 'after-reply', times: 1 } };
    case 'ch-reset':
      return { service: 'ClickHouse', protocol: 'tcp', fault: { kind: 'reset-after-bytes', bytes: 16 * 1024, times: 1 } };
  }
}

// ─── Events ─────────────────────────────────────────────────────────────────────────────────────────

export type DrillEvent =
  | { kind: 'drill-started'; drill: 'faults' | 'random'; steps: number; tables: string[]; sandbox: string }
  | { kind: 'step-started'; index: number; total: number; table: string; fault: string; step: DrillStep['kind']; simulates: string }
  | { kind: 'child-started'; index: number; role: ChildRun['role']; table: string; fault: string | null; pid: number | null }
  | { kind: 'child-line'; index: number; role: ChildRun['role']; stream: 'stdout' | 'stderr'; line: string }
  | { kind: 'child-exited'; index: number; run: ChildRun }
  | { kind: 'fault-injected'; index: number; detail: string }
  | { kind: 'checking'; index: number; table: string }
  | { kind: 'check'; index: number; table: string; check: InvariantCheck }
  | { kind: 'step-finished'; step: DrillStep }
  | { kind: 'trades'; inserted: number }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { kind: 'drill-finished'; report: DrillReport };

// ─── Options ────────────────────────────────────────────────────────────────────────────────────────

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

export interface FaultDrillPlan {
  /** Configured table names. */
  tables: string[];
  crash: CrashFault[];
  transient: TransientFault[];
  /** Also a two-worker step per table, with this fault on the first worker. */
  concurrent: CrashFault | null;
}

export interface RandomDrillPlan {
  kills: number;
  seed: string;
  tables: string[];
  /** Trades per second inserted into the seed schema while the drill runs (0: none). */
  tradesPerSec: number;
  /** When the sources are not the seed schema: run without new trades (true) instead of refusing (default). */
  isTradesOptional?: boolean;
  /** The sandbox's lag during the random drill (default 5 s): new trades become eligible quickly. */
  lagMs: number;
  /** Give up when this many runs did not reach their fault (default 4 × kills + 10). */
  maxAttempts?: number;
}

/** The tables a drill takes by default: the first configured table of each layer. */
export function defaultDrillTables(config: OffloadConfig): string[] {
  const out: string[] = [];
  for (const layer of ['bronze', 'silver', 'gold'] as const) {
    const t = config.tables.find((x) => x.layer === layer);
    if (t) out.push(t.name);
  }
  return out;
}

// ─── The sandbox and the services ───────────────────────────────────────────────────────────────────

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How to start this build's `offload`: the built dist/cli.js, or src/cli.ts through tsx when running from source. */
export function defaultOffloadCommand(): string[] {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) return [process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../cli.ts', import.meta.url))];
  return [process.execPath, fileURLToPath(new URL('../cli.js', import.meta.url))];
}

interface SandboxTable {
  /** The configured table. */
  original: TableConfig;
  /** Its copy in the sandbox: own name, own Iceberg target. */
  table: TableConfig;
}

function sandboxId(): string {
  return `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
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

function readFrom(t: TableConfig): string {
  return t.query ? `(${t.query})` : qualifiedName(t.sourceTable!);
}

class DrillSession {
  readonly id = sandboxId();
  readonly namespace: string;
  readonly tables = new Map<string, SandboxTable>();
  readonly dir: string;
  readonly clickhouse: ClickHouseSource;
  readonly pool: pg.Pool;
  readonly io: FileIO;
  readonly catalog: JdbcCatalog;
  readonly warehouse: string;
  readonly catalogName: string;
  readonly python: string | null;
  private pyiceberg: PyIcebergReader | null = null;
  readonly secrets: string[];
  private readonly command: string[];
  private configCount = 0;

  constructor(readonly options: DrillOptions, tableNames: string[]) {
    const env = options.env;
    this.namespace = `drill_${this.id}`;
    this.dir = join(tmpdir(), `offload-drill-${this.id}`);
    this.warehouse = warehouseFromEnv(env);
    this.catalogName = DEFAULT_CATALOG_NAME; // the catalog name the offload writes under
    this.clickhouse = new ClickHouseSource(clickhouseFromEnv(env), { env, requestTimeoutMs: 300_000 });
    this.pool = createPool(postgresFromEnv(env), { env, max: 6, applicationName: 'offload drill' });
    this.io = createFileIO({ s3: s3FromEnv(env) });
    this.catalog = new JdbcCatalog(this.pool, this.catalogName);
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
    await watermarks.ensure(this.pool, [...this.tables.values()].map((s) => ({ table: s.table.name, icebergTable: s.table.target })));
  }

  /** Writes a configuration file holding just `t` with `lagMs` as its lag; returns its path. */
  async writeConfig(t: TableConfig, lagMs: number | null): Promise<string> {
    const path = join(this.dir, `offload.config.${++this.configCount}.json`);
    const lag = lagMs === null ? t.lag : `${Math.max(0, Math.round(lagMs))}ms`;
    await writeFile(path, `${JSON.stringify({ comment: `drill ${this.id}: sandbox copy of a configured table`, tables: [tableJson(t, { lag })] }, null, 2)}\n`);
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
    // NODE_NO_WARNINGS: the runtime's notices (an SDK's Node version advice) are not the run's output.
    const env: Env = { ...this.options.env, ...opts.env, OFFLOAD_CONFIG: configPath, NODE_NO_WARNINGS: '1' };
    delete env[FAULT_ENV];
    if (opts.fault) env[FAULT_ENV] = opts.fault;
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    const began = performance.now();
    const child = execa(this.command[0], [...this.command.slice(1), 'run', '--table', s.table.name, '--json'], {
      env: clean,
      extendEnv: false,
      reject: false,
      timeout: this.options.childTimeoutMs ?? 180_000,
      killSignal: 'SIGKILL',
      stdin: 'ignore',
      cwd: this.dir,
    });
    const pid = child.pid ?? null;
    this.emit({ kind: 'child-started', index, role, table: s.original.name, fault: opts.fault ?? null, pid });
    opts.onStarted?.(pid);
    const forward = (stream: 'stdout' | 'stderr') => {
      let partial = '';
      child[stream]?.on('data', (chunk: Buffer) => {
        const text = partial + chunk.toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) this.emit({ kind: 'child-line', index, role, stream, line: this.scrub(line) });
      });
    };
    // stderr carries the run's progress lines; stdout only its closing JSON document.
    forward('stderr');
    const result = await child;
    const run = classifyChild(role, s.original.name, opts.fault ?? null, {
      pid,
      exitCode: result.exitCode ?? null,
      signal: result.signal ?? null,
      timedOut: result.timedOut,
      stdout: String(result.stdout ?? ''),
      stderr: this.scrub(String(result.stderr ?? '')),
      durationMs: Math.round(performance.now() - began),
    });
    this.emit({ kind: 'child-exited', index, run });
    return run;
  }

  /** Removes the sandbox table's orphans with `offload gc` (no safety age: no run of it is alive). */
  async collectOrphans(s: SandboxTable): Promise<{ deleted: number; detail?: string }> {
    return collectOrphansWithGc(this, s);
  }

  services(): VerifyServices {
    // One pyiceberg process for the whole drill, started on the first check.
    if (this.python && !this.pyiceberg) this.pyiceberg = new PyIcebergReader(this.python, this.options.env, this.warehouse, this.catalogName);
    return { clickhouse: this.clickhouse, pool: this.pool, io: this.io, catalog: this.catalog, warehouse: this.warehouse, env: this.options.env, pyiceberg: this.pyiceberg };
  }

  /** Every invariant of a sandbox table, streamed as events, gc included. */
  async verify(index: number, s: SandboxTable, options: { gc?: boolean } = {}): Promise<StepVerification> {
    this.emit({ kind: 'checking', index, table: s.original.name });
    const v = await verifyTable(this.services(), s.table, {
      catalogName: this.catalogName,
      collectOrphans: options.gc === false ? undefined : () => this.collectOrphans(s),
    });
    const checks = v.checks.map((c) => ({ ...c, detail: this.scrub(c.detail) }));
    for (const check of checks) this.emit({ kind: 'check', index, table: s.original.name, check });
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
          const entry = await this.catalog.loadTable(ident);
          let location = defaultTableLocation(this.warehouse, ident);
          if (entry?.metadataLocation) location = entry.metadataLocation.replace(/\/metadata\/[^/]+$/, '');
          await this.catalog.dropTable(ident);
          const files = await this.io.list(`${location}/`);
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
    await Promise.allSettled([this.clickhouse.close(), this.pool.end(), this.pyiceberg?.close()]);
    this.io.close();
  }

  environment(): DrillReport['environment'] {
    return {
      clickhouse: this.clickhouse.url,
      postgres: describePostgres(postgresFromEnv(this.options.env), this.options.env),
      warehouse: redactUrl(this.warehouse),
      sandbox: { id: this.id, namespace: this.namespace, kept: this.options.keepSandbox === true },
      tables: [...this.tables.values()].map((s) => ({ table: s.original.name, sandbox: s.table.name, source: s.original.source ?? `query of ${s.original.name}`, target: s.table.target })),
    };
  }
}

// ─── The child's outcome ────────────────────────────────────────────────────────────────────────────

interface ChildResult {
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** `--json` output: one document or JSON lines; the objects, in order. */
export function parseJsonOutput(stdout: string): Array<Record<string, unknown>> {
  const text = stdout.trim();
  if (!text) return [];
  try {
    const doc = JSON.parse(text) as unknown;
    if (Array.isArray(doc)) return doc.filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null);
    return typeof doc === 'object' && doc !== null ? [doc as Record<string, unknown>] : [];
  } catch {
    /* JSON lines */
  }
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* not a document */
    }
  }
  return out;
}

/** Every value of `key` anywhere in the documents. */
function valuesOf(docs: unknown[], key: string): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 6 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) return v.forEach((x) => walk(x, depth + 1));
    for (const [k, x] of Object.entries(v)) {
      if (k === key) out.push(x);
      walk(x, depth + 1);
    }
  };
  docs.forEach((d) => walk(d, 0));
  return out;
}

function classifyChild(role: ChildRun['role'], table: string, fault: string | null, r: ChildResult): ChildRun {
  const docs = parseJsonOutput(r.stdout);
  const runIds = [...new Set(valuesOf(docs, 'runId').filter((x): x is string => typeof x === 'string'))];
  const rowsValue = valuesOf(docs, 'rows').find((x) => typeof x === 'number');
  const statusValue = [...valuesOf(docs, 'status'), ...valuesOf(docs, 'outcome')].find((x) => typeof x === 'string') as string | undefined;
  // The error a person sees: the JSON document's, else the last `offload: …` line on stderr, else its last line.
  const jsonError = valuesOf(docs, 'error').find((x): x is string => typeof x === 'string');
  const lines = r.stderr.trim().split('\n').filter((l) => l.trim() && !/fault point .* reached/.test(l));
  const lastError = (jsonError ?? [...lines].reverse().find((l) => l.startsWith('offload:')) ?? lines[lines.length - 1] ?? '').split('\n')[0].replace(/^offload:\s*/, '');
  let outcome: string;
  if (r.timedOut) outcome = `did not finish within the time limit (killed)`;
  else if (r.signal === 'SIGKILL') outcome = fault ? `killed at ${fault}${r.stderr.includes(fault) ? '' : ' (no fault message seen)'}` : 'killed';
  else if (r.signal) outcome = `ended by ${r.signal}`;
  else if (r.exitCode === 0) outcome = statusValue ?? 'ok';
  else if (r.exitCode === 5) outcome = 'busy';
  else outcome = `failed (exit ${r.exitCode}): ${lastError || statusValue || 'no message'}`;
  return {
    role,
    table,
    fault,
    pid: r.pid,
    exitCode: r.exitCode,
    signal: r.timedOut ? 'timeout' : r.signal,
    durationMs: r.durationMs,
    outcome,
    runIds,
    rows: typeof rowsValue === 'number' ? rowsValue : null,
  };
}

function isKilledAtFault(r: ChildRun): boolean {
  return r.signal === 'SIGKILL';
}

/** A run that ended on its own: success, up to date, or a clean (documented, non-internal) failure. */
function isCleanEnd(r: ChildRun): boolean {
  return r.signal === null && r.exitCode !== null && r.exitCode !== 70;
}

// ─── gc ─────────────────────────────────────────────────────────────────────────────────────────────

/** `offload gc` on the sandbox table, with no safety age: no run of it is alive when a drill checks it. */
async function collectOrphansWithGc(session: DrillSession, s: SandboxTable): Promise<{ deleted: number; detail?: string }> {
  const r = await gcTable(s.table, { pool: session.pool, catalog: session.catalog, io: session.io }, { minAgeMs: 0 });
  return { deleted: r.deleted.length, detail: r.status === 'collected' || r.status === 'no-table' ? undefined : `gc: ${r.status}${r.tooYoung ? `, ${r.tooYoung} too young` : ''}` };
}

// ─── Steps ──────────────────────────────────────────────────────────────────────────────────────────

function outcomeOfChecks(v: StepVerification | null): DrillOutcome {
  if (!v) return 'broken';
  return v.checks.some((c) => c.status === 'broken') ? 'broken' : 'held';
}

function brokenChecks(v: StepVerification | null): string {
  return (v?.checks ?? []).filter((c) => c.status === 'broken').map((c) => `${c.name}: ${c.detail}`).join('; ');
}

/** After a killed or faulty run: a run without faults must recover and end cleanly. */
async function recover(session: DrillSession, index: number, s: SandboxTable, lagMs: number | null, runsOut: ChildRun[]): Promise<ChildRun> {
  const r = await session.offload(index, 'recovery', s, { lagMs });
  runsOut.push(r);
  return r;
}

async function crashStep(session: DrillSession, index: number, s: SandboxTable, fault: CrashFault, cutoffSec: number | null): Promise<DrillStep> {
  const began = performance.now();
  const lagMs = cutoffSec === null ? null : session.lagFor(s.table, cutoffSec);
  const runsOut: ChildRun[] = [];
  const killed = await session.offload(index, 'killed', s, { fault, lagMs });
  runsOut.push(killed);
  const recovery = await recover(session, index, s, lagMs, runsOut);
  const verification = await session.verify(index, s);
  let outcome = outcomeOfChecks(verification);
  let note = '';
  if (!isKilledAtFault(killed)) {
    outcome = outcome === 'broken' ? 'broken' : 'inconclusive';
    note = `the run was not killed (${killed.outcome}): the fault point was not reached`;
  } else if (recovery.exitCode !== 0) {
    outcome = 'broken';
    note = `the recovery run did not succeed: ${recovery.outcome}`;
  }
  if (outcome === 'broken' && !note) note = brokenChecks(verification);
  return { index, kind: 'crash', table: s.original.name, fault, simulates: FAULT_SIMULATES[fault], runs: runsOut, injected: null, verification, outcome, note, elapsedMs: Math.round(performance.now() - began) };
}

async function transientStep(session: DrillSession, index: number, s: SandboxTable, fault: TransientFault, cutoffSec: number | null): Promise<DrillStep> {
  const began = performance.now();
  const lagMs = cutoffSec === null ? null : session.lagFor(s.table, cutoffSec);
  const spec = proxyFaultOf(fault);
  const env = session.options.env;
  const serviceUrl = spec.service === 'ClickHouse' ? env.CLICKHOUSE_URL : spec.service === 'PostgreSQL' ? env.DATABASE_URL : (env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
  if (!serviceUrl) throw new UsageError(`the ${fault} drill needs ${spec.service === 'ClickHouse' ? 'CLICKHOUSE_URL' : spec.service === 'PostgreSQL' ? 'DATABASE_URL' : 'AWS_ENDPOINT_URL_S3'} (the proxy goes in front of it)`);
  const proxy = await FaultProxy.start({ target: targetOf(serviceUrl), protocol: spec.protocol, fault: spec.fault });
  proxy.onInjected((f) => session.emit({ kind: 'fault-injected', index, detail: `${spec.service}: ${f.detail}` }));
  const runsOut: ChildRun[] = [];
  let faulty: ChildRun;
  try {
    const override: Env =
      spec.service === 'ClickHouse' ? { CLICKHOUSE_URL: throughProxy(serviceUrl, proxy) }
      : spec.service === 'PostgreSQL' ? { DATABASE_URL: throughProxy(serviceUrl, proxy) }
      : { AWS_ENDPOINT_URL_S3: `http://${proxy.address}` };
    faulty = await session.offload(index, 'faulty', s, { lagMs, env: override });
    runsOut.push(faulty);
  } finally {
    await proxy.close();
  }
  const injected = proxy.snapshot().injected;
  const recovery = await recover(session, index, s, lagMs, runsOut);
  const verification = await session.verify(index, s);
  let outcome = outcomeOfChecks(verification);
  let note = faulty.exitCode === 0 ? `the run got past the fault (${faulty.outcome})` : `the run failed cleanly: ${faulty.outcome}`;
  if (!isCleanEnd(faulty)) {
    outcome = 'broken';
    note = `the run under the fault did not end cleanly: ${faulty.outcome}`;
  } else if (recovery.exitCode !== 0) {
    outcome = 'broken';
    note = `the recovery run did not succeed: ${recovery.outcome}`;
  } else if (injected === 0 && outcome !== 'broken') {
    outcome = 'inconclusive';
    note = `the fault was never injected (the run made no request it applies to): ${faulty.outcome}`;
  }
  if (outcome === 'broken' && verification.checks.some((c) => c.status === 'broken')) note = `${note}; ${brokenChecks(verification)}`;
  return { index, kind: 'transient', table: s.original.name, fault, simulates: FAULT_SIMULATES[fault], runs: runsOut, injected, verification, outcome, note, elapsedMs: Math.round(performance.now() - began) };
}

async function waitFor(predicate: () => Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function concurrentStep(session: DrillSession, index: number, s: SandboxTable, fault: CrashFault, cutoffSec: number | null): Promise<DrillStep> {
  const began = performance.now();
  const lagMs = cutoffSec === null ? null : session.lagFor(s.table, cutoffSec);
  const runsOut: ChildRun[] = [];
  const notes: string[] = [];
  let outcome: DrillOutcome = 'held';
  // Worker 1 reaches ClickHouse through a proxy that holds every byte: it claims the table (PostgreSQL),
  // then waits on its first ClickHouse request for as long as the drill wants. Meanwhile worker 2 must be
  // turned away as busy. Then the proxy lets go and worker 1 runs on until it dies at the fault.
  const chUrl = session.options.env.CLICKHOUSE_URL;
  if (!chUrl) throw new UsageError('the two-worker drill needs CLICKHOUSE_URL (a proxy goes in front of it)');
  const proxy = await FaultProxy.start({ target: targetOf(chUrl), protocol: 'tcp' });
  proxy.hold();
  let killed: ChildRun;
  try {
    let firstDone = false;
    const first = session
      .offload(index, 'killed', s, { fault, lagMs, env: { CLICKHOUSE_URL: throughProxy(chUrl, proxy) } })
      .then((r) => {
        firstDone = true;
        return r;
      });
    const holds = await waitFor(async () => firstDone || (await isTableLocked(session.pool, s.table.name)), 60_000, 25);
    if (holds && !firstDone) {
      const second = await session.offload(index, 'second-worker', s, { lagMs });
      runsOut.push(second);
      if (second.exitCode === 5) notes.push('the second worker was turned away as busy while the first held the table');
      else {
        outcome = 'broken';
        notes.push(`the second worker was not turned away while the first held the table: ${second.outcome}`);
      }
    } else {
      outcome = 'inconclusive';
      notes.push(`the first worker never held the table (${firstDone ? 'it ended first' : 'no lock within 60 s'})`);
    }
    proxy.release();
    killed = await first;
  } finally {
    proxy.release();
    await proxy.close();
  }
  runsOut.unshift(killed);
  if (!isKilledAtFault(killed)) {
    if (outcome === 'held') outcome = 'inconclusive';
    notes.push(`the first worker was not killed (${killed.outcome}): the fault point was not reached`);
  }
  // Two workers race to recover: one recovers and offloads, the other is busy or finds nothing left.
  const racers = await Promise.all([session.offload(index, 'racer', s, { lagMs }), session.offload(index, 'racer', s, { lagMs })]);
  runsOut.push(...racers);
  if (racers.some((r) => r.exitCode !== 0 && r.exitCode !== 5)) {
    outcome = 'broken';
    notes.push(`a recovering worker failed: ${racers.map((r) => r.outcome).join(' / ')}`);
  } else if (!racers.some((r) => r.exitCode === 0)) {
    outcome = 'broken';
    notes.push('neither recovering worker got the table');
  } else {
    notes.push(`recovering workers: ${racers.map((r) => r.outcome).join(' / ')}`);
  }
  const verification = await session.verify(index, s);
  if (outcomeOfChecks(verification) === 'broken') {
    outcome = 'broken';
    notes.push(brokenChecks(verification));
  }
  return {
    index,
    kind: 'concurrent',
    table: s.original.name,
    fault,
    simulates: `two workers on one table: the one holding it dies at ${fault} (${FAULT_SIMULATES[fault]}); the other must be turned away meanwhile, then two race to recover`,
    runs: runsOut,
    injected: null,
    verification,
    outcome,
    note: notes.join('; '),
    elapsedMs: Math.round(performance.now() - began),
  };
}

// ─── Fault drills ───────────────────────────────────────────────────────────────────────────────────

interface PlannedStep {
  index: number;
  kind: 'crash' | 'transient' | 'concurrent';
  table: string;
  fault: CrashFault | TransientFault;
}

export function planFaultSteps(plan: FaultDrillPlan): PlannedStep[] {
  const out: PlannedStep[] = [];
  let index = 0;
  for (const table of plan.tables) {
    for (const fault of plan.crash) out.push({ index: ++index, kind: 'crash', table, fault });
    for (const fault of plan.transient) out.push({ index: ++index, kind: 'transient', table, fault });
    if (plan.concurrent) out.push({ index: ++index, kind: 'concurrent', table, fault: plan.concurrent });
  }
  return out;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * Crash, transient and concurrency drills on each table: every step kills or disturbs a run, recovers,
 * and checks every invariant with its numbers. Tables are drilled side by side, steps of one table in order.
 */
export async function runFaultDrill(plan: FaultDrillPlan, options: DrillOptions): Promise<DrillReport> {
  if (plan.tables.length === 0) throw new UsageError('drill: no tables to drill');
  const startedAt = new Date();
  const session = new DrillSession(options, plan.tables);
  const steps = planFaultSteps(plan);
  const done: DrillStep[] = [];
  try {
    await session.prepare();
    session.emit({ kind: 'drill-started', drill: 'faults', steps: steps.length, tables: plan.tables, sandbox: session.namespace });
    await mapLimit(plan.tables, options.parallelTables ?? 3, async (name) => {
      const s = session.sandbox(name);
      const mine = steps.filter((p) => p.table === name);
      const cutoffs = await session.cutoffs(s.table, mine.length);
      if (cutoffs.length < mine.length) {
        session.log('warn', `${name}: the source has too few distinct cursor values for ${mine.length} slices (${cutoffs.length}); later steps work on what is left`);
      }
      for (const [i, p] of mine.entries()) {
        if (options.signal?.aborted) break;
        const cutoff = cutoffs[Math.min(i, cutoffs.length - 1)] ?? null;
        session.emit({ kind: 'step-started', index: p.index, total: steps.length, table: name, fault: p.fault, step: p.kind, simulates: FAULT_SIMULATES[p.fault] });
        let step: DrillStep;
        try {
          step =
            p.kind === 'crash' ? await crashStep(session, p.index, s, p.fault as CrashFault, cutoff)
            : p.kind === 'transient' ? await transientStep(session, p.index, s, p.fault as TransientFault, cutoff)
            : await concurrentStep(session, p.index, s, p.fault as CrashFault, cutoff);
        } catch (err) {
          step = { index: p.index, kind: p.kind, table: name, fault: p.fault, simulates: FAULT_SIMULATES[p.fault], runs: [], injected: null, verification: null, outcome: 'broken', note: `the step could not run: ${session.scrub((err as Error).message)}`, elapsedMs: 0 };
        }
        done.push(step);
        session.emit({ kind: 'step-finished', step });
      }
    });
  } finally {
    await session.cleanUp().catch((err) => session.log('warn', `cleaning up the sandbox: ${(err as Error).message}`));
    await session.close();
  }
  done.sort((a, b) => a.index - b.index);
  const report = finishReport('faults', startedAt, session, done, [], 0, {
    tables: plan.tables,
    crashFaults: [...plan.crash],
    transientFaults: [...plan.transient],
    concurrent: plan.concurrent,
    keepSandbox: options.keepSandbox === true,
  });
  // Stopped before every step ran: what ran is reported, but the drill proved less than asked.
  if (done.length < steps.length && report.outcome === 'held') report.outcome = 'inconclusive';
  session.emit({ kind: 'drill-finished', report });
  return report;
}

function finishReport(
  kind: DrillReport['kind'],
  startedAt: Date,
  session: DrillSession,
  steps: DrillStep[],
  final: DrillReport['final'],
  tradesInserted: number,
  options: DrillReport['options'],
): DrillReport {
  const finishedAt = new Date();
  const outcomes = [...steps.map((s) => s.outcome), ...final.map((f) => outcomeOfChecks(f.verification))];
  return {
    kind,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    elapsedMs: finishedAt.getTime() - startedAt.getTime(),
    environment: session.environment(),
    options,
    steps,
    final,
    totals: totalsOf(steps, final, tradesInserted),
    outcome: steps.length === 0 && final.length === 0 ? 'inconclusive' : combineOutcomes(outcomes),
  };
}

// ─── Random drill ───────────────────────────────────────────────────────────────────────────────────

/** The seed schema's database the sources read from (where generated trades go), or null. */
async function seedDatabaseOf(session: DrillSession): Promise<string | null> {
  const candidates = new Set<string>();
  for (const t of session.options.config.tables) if (t.sourceTable && /^bronze_trades_/.test(t.sourceTable.table)) candidates.add(t.sourceTable.database);
  for (const db of candidates) {
    if (await session.clickhouse.tableExists({ database: db, table: 'bronze_trades_binance' })) return db;
  }
  return null;
}

/**
 * N kills at random fault points across repeated offloads of the tables (side by side) while trades keep
 * arriving; after each kill the table's next run recovers what it finds; at the end every table gets a
 * clean run and every invariant is checked.
 */
export async function runRandomDrill(plan: RandomDrillPlan, options: DrillOptions): Promise<DrillReport> {
  if (plan.tables.length === 0) throw new UsageError('drill: no tables to drill');
  if (!(plan.kills > 0)) throw new UsageError('drill --random: the number of kills must be at least 1');
  const startedAt = new Date();
  const session = new DrillSession(options, plan.tables);
  const steps: DrillStep[] = [];
  const final: DrillReport['final'] = [];
  let tradesInserted = 0;
  const stopTrades = new AbortController();
  let trades: Promise<number> | null = null;
  try {
    await session.prepare();
    if (plan.tradesPerSec > 0) {
      const database = await seedDatabaseOf(session);
      if (!database && !plan.isTradesOptional) throw new UsageError('drill --random: new trades go into the seed schema (bronze_trades_*), which the configured sources are not; use --trades-rate 0');
      if (!database) session.log('warn', 'the sources are not the seed schema: no new trades arrive during this drill');
      else session.log('info', `inserting about ${plan.tradesPerSec} trades/s into ${database} while the drill runs`);
      trades = !database ? null : followTrades(session.clickhouse, {
        rate: plan.tradesPerSec,
        database,
        seed: `drill/${plan.seed}`,
        intervalMs: 250,
        signal: stopTrades.signal,
        onBatch: (_n, total) => {
          tradesInserted = total;
          session.emit({ kind: 'trades', inserted: total });
        },
      });
    }
    session.emit({ kind: 'drill-started', drill: 'random', steps: plan.kills, tables: plan.tables, sandbox: session.namespace });
    const maxAttempts = plan.maxAttempts ?? plan.kills * 4 + 10;
    let kills = 0;
    let inFlight = 0;
    let attempts = 0;
    let index = 0;
    // Every table has its own loop of offloads, side by side (as several workers would run them); each
    // offload gets a random fault point. A loop starts an offload only while the kills so far plus the
    // offloads in flight are fewer than asked, so the drill ends with exactly `kills` kills.
    const loop = async (name: string, random: Random) => {
      const s = session.sandbox(name);
      while (kills + inFlight < plan.kills && attempts < maxAttempts && !options.signal?.aborted) {
        attempts++;
        // About one offload in four runs without a fault and commits what is pending, so kills land on
        // tables with history as well as on first windows and on recoveries.
        const isClean = random.next() < CLEAN_RUN_SHARE;
        const fault: CrashFault | null = isClean ? null : CRASH_FAULTS[random.int(CRASH_FAULTS.length)];
        if (!isClean) inFlight++;
        const i = ++index;
        const label = fault ?? CLEAN_RUN;
        const simulates = fault ? FAULT_SIMULATES[fault] : 'an offload without a fault: it recovers what the last kill left and commits what is pending';
        session.emit({ kind: 'step-started', index: i, total: plan.kills, table: name, fault: label, step: 'random', simulates });
        const began = performance.now();
        let run: ChildRun;
        try {
          run = await session.offload(i, fault ? 'killed' : 'run', s, { fault, lagMs: plan.lagMs });
        } finally {
          if (!isClean) inFlight--;
        }
        const step: DrillStep = { index: i, kind: 'random', table: name, fault: label, simulates, runs: [run], injected: null, verification: null, outcome: 'held', note: '', elapsedMs: 0 };
        let rest = 0;
        if (isClean) {
          if (run.exitCode === 0) step.note = `clean run: ${run.outcome}`;
          else {
            step.outcome = 'broken';
            step.note = `a clean offload failed: ${run.outcome}`;
          }
        } else if (isKilledAtFault(run)) {
          kills++;
          step.note = `kill ${kills} of ${plan.kills}`;
        } else if (run.exitCode === 0) {
          step.note = `the run ended before the fault point (${run.outcome})`;
          // Nothing new yet (aggregates close a window a minute at best): let trades arrive first.
          if (/up.to.date/i.test(run.outcome)) rest = 3_000;
        } else {
          step.outcome = 'broken';
          step.note = `an offload failed: ${run.outcome}`;
          rest = 1_000;
        }
        step.elapsedMs = Math.round(performance.now() - began);
        steps.push(step);
        session.emit({ kind: 'step-finished', step });
        if (rest > 0) await new Promise((r) => setTimeout(r, rest));
      }
    };
    await Promise.all(plan.tables.map((name) => loop(name, new Random(`drill/${plan.seed}/${name}`))));
    steps.sort((a, b) => a.index - b.index);
    if (kills < plan.kills) session.log('warn', `only ${kills} of ${plan.kills} kills in ${attempts} runs`);

    // The end: trades stop, every table gets a clean run (it recovers what the last kill left), then the checks.
    stopTrades.abort();
    if (trades) tradesInserted = await trades;
    trades = null;
    for (const name of plan.tables) {
      const s = session.sandbox(name);
      index++;
      const run = await session.offload(index, 'recovery', s, { lagMs: plan.lagMs });
      const verification = await session.verify(index, s);
      if (run.exitCode !== 0) {
        verification.checks.push({ name: 'no-run-left-running', status: 'broken', numbers: { exitCode: run.exitCode }, detail: `the final recovery run failed: ${run.outcome}` });
      }
      final.push({ table: name, verification });
    }
  } finally {
    stopTrades.abort();
    if (trades) tradesInserted = await trades.catch(() => tradesInserted);
    await session.cleanUp().catch((err) => session.log('warn', `cleaning up the sandbox: ${(err as Error).message}`));
    await session.close();
  }
  const report = finishReport('random', startedAt, session, steps, final, tradesInserted, {
    kills: plan.kills,
    seed: plan.seed,
    tables: plan.tables,
    tradesPerSec: plan.tradesPerSec,
    lag: `${plan.lagMs}ms`,
    keepSandbox: options.keepSandbox === true,
  });
  if (report.totals.kills < plan.kills && report.outcome === 'held') report.outcome = 'inconclusive';
  session.emit({ kind: 'drill-finished', report });
  return report;
}

// ─── Leftover sandboxes ─────────────────────────────────────────────────────────────────────────────

export interface SandboxCleanup {
  namespaces: string[];
  tables: number;
  files: number;
  watermarkRows: number;
  runRows: number;
}

/** When a sandbox was made, from its id (`<epoch ms in base 36><4 hex digits>`); null when it is not one. */
export function sandboxCreatedAt(id: string): number | null {
  const m = /^([0-9a-z]{6,})[0-9a-f]{4}$/.exec(id);
  if (!m) return null;
  const ms = parseInt(m[1], 36);
  return Number.isFinite(ms) && ms > 1_500_000_000_000 && ms < 4_000_000_000_000 ? ms : null;
}

/**
 * Removes what drills killed before their own cleanup left behind (a drill ended by SIGKILL, a machine
 * that went down): sandbox namespaces `drill_<id>` with their tables and files, and the sandbox tables'
 * watermark rows and run history — only sandboxes older than `minAgeMs` (default 1 hour), so a drill
 * running right now is never touched.
 */
export async function cleanLeftoverSandboxes(options: { env: Env; minAgeMs?: number }): Promise<SandboxCleanup> {
  const env = options.env;
  const minAgeMs = options.minAgeMs ?? 3_600_000;
  const isOld = (id: string) => {
    const at = sandboxCreatedAt(id);
    return at !== null && Date.now() - at >= minAgeMs;
  };
  const pool = createPool(postgresFromEnv(env), { env, max: 2, applicationName: 'offload drill --clean' });
  const io = createFileIO({ s3: s3FromEnv(env) });
  const catalog = new JdbcCatalog(pool, DEFAULT_CATALOG_NAME);
  const warehouse = warehouseFromEnv(env);
  const out: SandboxCleanup = { namespaces: [], tables: 0, files: 0, watermarkRows: 0, runRows: 0 };
  try {
    for (const ns of await catalog.listNamespaces()) {
      const m = /^drill_([0-9a-z]+)$/.exec(ns);
      if (!m || !isOld(m[1])) continue;
      for (const ident of await catalog.listTables(ns)) {
        const entry = await catalog.loadTable(ident);
        const location = entry?.metadataLocation ? entry.metadataLocation.replace(/\/metadata\/[^/]+$/, '') : defaultTableLocation(warehouse, ident);
        const files = await io.list(`${location}/`);
        await io.deleteMany(files.map((f) => f.uri));
        out.files += files.length;
        await catalog.dropTable(ident);
        out.tables++;
      }
      const rest = await io.list(`${warehouse}/${ns}/`);
      await io.deleteMany(rest.map((f) => f.uri));
      out.files += rest.length;
      await catalog.dropNamespace(ns).catch(() => false);
      out.namespaces.push(ns);
    }
    const names = (await watermarks.list(pool)).map((w) => w.table).filter((t) => {
      const m = /^drill_([0-9a-z]+)_/.exec(t);
      return m !== null && isOld(m[1]);
    });
    out.runRows = await runs.removeForTables(pool, names);
    out.watermarkRows = await watermarks.remove(pool, names);
  } finally {
    io.close();
    await pool.end();
  }
  return out;
}
