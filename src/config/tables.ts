// The table configuration (offload.config.json, or .yaml/.yml): which ClickHouse tables are offloaded,
// how their windows are bounded, and where they land in Iceberg. Every problem is reported with the file,
// the key (e.g. `tables[3].cursor`) and what was expected, as a ConfigError (exit code 3).
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { durationMs } from './duration.js';
import { processEnv, type Env } from './env.js';

export type Layer = 'bronze' | 'silver' | 'gold';
export const LAYERS: readonly Layer[] = ['bronze', 'silver', 'gold'];

export const DEFAULT_CONFIG_FILE = 'offload.config.json';
export const DEFAULT_LAG = '5m';
export const DEFAULT_TARGET_FILE_SIZE = '128MB';
export const REFUSED_ROWS_POLICIES = ['hold', 'stop'] as const;
export type RefusedRowsPolicy = (typeof REFUSED_ROWS_POLICIES)[number];

/** One configured table, validated, with durations and sizes parsed. */
export interface TableConfig {
  /** The table's name everywhere: offload_watermarks.table_name, CLI arguments, the TUI. */
  name: string;
  layer: Layer;
  /** The ClickHouse table as written (`k2.bronze_trades_binance`); null when only a query is given. */
  source: string | null;
  sourceTable: { database: string; table: string } | null;
  /** A SELECT to read instead of the table itself (derived tables, candles); null to read `source`. */
  query: string | null;
  /** The column windows are bounded on (a DateTime/DateTime64 column of what is read). */
  cursor: string;
  /** The column that orders rows sharing a cursor value; null when none truly does. */
  tieBreak: string | null;
  /** Late-data allowance: rows newer than now − lag are left for a later run. */
  lag: string;
  lagMs: number;
  /** For aggregates: the window length; only windows that have fully closed are offloaded. */
  closedWindow: string | null;
  closedWindowMs: number | null;
  /** The Iceberg table, `namespace.table`. */
  target: string;
  targetNamespace: string[];
  targetTable: string;
  /** Iceberg partition spec as written: `day(col)`, `month(col)`, `col` (identity), … */
  partitionBy: string[];
  targetFileSize: string;
  targetFileSizeBytes: number;
  /**
   * Rows ClickHouse refuses to read (a value a cast overflows): `hold` (default) leaves their cursor value
   * out and offloads every other row, showing them until they read again; `stop` ends the run just before
   * them, so nothing passes them (pipeline/held-rows.ts).
   */
  refusedRows: RefusedRowsPolicy;
  /** Compaction after each scheduled offload (`run --every`); null: not configured (opt-in). */
  compaction: CompactionConfig | null;
  /** Free text from the file (why this cursor, this tie-break …). */
  comment: string | null;
  /** Position in the file's `tables` list, for messages. */
  index: number;
}

/**
 * When `offload run --every` compacts a table after offloading it (and the defaults of `offload compact`):
 * a partition is compacted once it holds at least `minFiles` data files smaller than `smallFileRatio` of
 * the target file size, and only once it has been closed for `minAge` (its time range ended at least that
 * long before the table's newest offloaded row), so no partition still receiving rows is rewritten.
 */
export interface CompactionConfig {
  /** Default 5 (iceberg/compaction-plan.ts). */
  minFiles?: number;
  /** Default 0.75 (iceberg/compaction-plan.ts). */
  smallFileRatio?: number;
  /** Default: the table's lag. */
  minAge: string;
  minAgeMs: number;
}

export interface OffloadConfig {
  /** The file it was read from, as shown in messages (relative to the working directory when inside it). */
  file: string;
  tables: TableConfig[];
}

// ─── Durations and sizes ────────────────────────────────────────────────────────────────────────────

export { durationMs };

/** Like durationMs, but throws a ConfigError naming `where` when the text is not a duration. */
export function parseDuration(text: string, where = 'duration'): number {
  const ms = durationMs(text);
  if (ms === null) throw new ConfigError(`${where}: "${text}" is not a duration (expected e.g. "90s", "5m", "1h", "1h30m", "1d")`);
  return ms;
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 };

/** "128MB", "512KiB", "1GB", "1048576" → bytes (binary multiples: 1MB = 1,048,576 bytes); null when not a size. */
export function sizeBytes(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!m) return null;
  const unit = (m[2] || 'b').toLowerCase();
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) return null;
  const bytes = Math.round(Number(m[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** Like sizeBytes, but throws a ConfigError naming `where`. */
export function parseSize(text: string, where = 'size'): number {
  const bytes = sizeBytes(text);
  if (bytes === null)
    throw new ConfigError(`${where}: "${text}" is not a size (expected e.g. "64MB", "128MB", "1GB", or a number of bytes)`);
  return bytes;
}

// ─── The file's shape ───────────────────────────────────────────────────────────────────────────────

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PARTITION =
  /^\s*(?:(identity|years?|months?|days?|date|hours?|void)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)|([A-Za-z_][A-Za-z0-9_]*))\s*$/i;

function expected(what: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? `required: ${what}` : `expected ${what}, got ${describe(issue.input)}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

const columnName = z
  .string({ error: expected('a column name') })
  .trim()
  .min(1, { error: 'expected a column name, got an empty string' });

const duration = (example: string) =>
  z.string({ error: expected(`a duration like "${example}"`) }).refine((s) => durationMs(s) !== null, {
    error: (issue) => `expected a duration like "${example}" ("90s", "5m", "1h", "1d"), got ${describe(issue.input)}`,
  });

const compactionSchema = z
  .object({
    minFiles: z
      .number({ error: expected('a whole number ≥ 2') })
      .int({ error: 'expected a whole number ≥ 2' })
      .min(2, { error: 'expected a whole number ≥ 2 (one file is already compact)' })
      .optional(),
    smallFileRatio: z
      .number({ error: expected('a fraction of the target file size, e.g. 0.75') })
      .gt(0, { error: 'expected a fraction above 0 and at most 1, e.g. 0.75' })
      .lte(1, { error: 'expected a fraction above 0 and at most 1, e.g. 0.75' })
      .optional(),
    minAge: duration('1h').optional(),
  })
  .strict();

const COMPACTION_KEYS = Object.keys(compactionSchema.shape);

const tableSchema = z
  .object({
    comment: z.string({ error: expected('a text') }).optional(),
    name: z.string({ error: expected('a table name') }).regex(IDENT, {
      error: (issue) => `expected a table name of letters, digits and _ (it is the watermark's table_name), got ${describe(issue.input)}`,
    }),
    layer: z.enum(['bronze', 'silver', 'gold'], { error: expected('one of "bronze", "silver", "gold"') }),
    source: z
      .string({ error: expected('a ClickHouse table "database.table"') })
      .regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, {
        error: (issue) => `expected a ClickHouse table "database.table" (e.g. "k2.bronze_trades_binance"), got ${describe(issue.input)}`,
      })
      .optional(),
    query: z
      .string({ error: expected('a SELECT query') })
      .refine((s) => /^\s*(SELECT|WITH)\b/i.test(s), { error: (issue) => `expected a SELECT query, got ${describe(issue.input)}` })
      .optional(),
    cursor: columnName,
    tieBreak: z
      .union([columnName, z.array(columnName)], { error: expected('a column name') })
      .refine((v) => !Array.isArray(v) || v.length <= 1, {
        error: 'only one tie-break column is supported (the watermark keeps one tie-break value)',
      })
      .optional(),
    lag: duration('5m').optional(),
    closedWindow: duration('1h').optional(),
    target: z
      .string({ error: expected('an Iceberg table "namespace.table"') })
      .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/, {
        error: (issue) => `expected an Iceberg table "namespace.table" (e.g. "cold.bronze_trades_binance"), got ${describe(issue.input)}`,
      }),
    partitionBy: z
      .array(
        z.string({ error: expected('a partition expression like "day(col)"') }).regex(PARTITION, {
          error: (issue) =>
            `expected a partition expression: "day(col)", "month(col)", "year(col)", "hour(col)", "identity(col)" or a column name; got ${describe(issue.input)}`,
        }),
        { error: expected('a list of partition expressions, e.g. ["day(exchange_timestamp)"]') },
      )
      .optional(),
    targetFileSize: z
      .union([z.string(), z.number()], { error: expected('a size like "128MB"') })
      .refine((s) => sizeBytes(String(s)) !== null && sizeBytes(String(s))! > 0, {
        error: (issue) => `expected a size like "128MB" or "1GB", got ${describe(issue.input)}`,
      })
      .optional(),
    compaction: z
      .union([compactionSchema, z.literal(true)], {
        error: expected('true, or an object { minFiles, smallFileRatio, minAge }'),
      })
      .optional(),
    refusedRows: z.enum(REFUSED_ROWS_POLICIES, { error: expected('"hold" or "stop"') }).optional(),
  })
  .strict();

const fileSchema = z
  .object({
    $schema: z.string().optional(),
    comment: z.string({ error: expected('a text') }).optional(),
    tables: z.array(tableSchema, { error: expected('a list of tables') }),
  })
  .strict();

// ─── Messages ───────────────────────────────────────────────────────────────────────────────────────

/** ['tables', 3, 'cursor'] → `tables[3].cursor` */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

const TABLE_KEYS = Object.keys(tableSchema.shape);

function closest(word: string, candidates: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0];
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const tmp = d[j];
        d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
        prev = tmp;
      }
    }
    return d[b.length];
  };
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = dist(word, c);
    if (dd < bestD) [best, bestD] = [c, dd];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

interface Problem {
  path: PropertyKey[];
  message: string;
}

function problemsOf(issues: z.core.$ZodIssue[]): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const inTable = issue.path.length === 2 && issue.path[0] === 'tables';
      const inCompaction = issue.path.length === 3 && issue.path[2] === 'compaction';
      const allowed = inCompaction ? COMPACTION_KEYS : inTable ? TABLE_KEYS : ['tables', 'comment', '$schema'];
      for (const key of issue.keys) {
        const guess = closest(key, allowed);
        out.push({
          path: [...issue.path, key],
          message: `unknown key${guess ? ` (did you mean "${guess}"?)` : ` (allowed: ${allowed.join(', ')})`}`,
        });
      }
    } else {
      out.push({ path: [...issue.path], message: issue.message });
    }
  }
  return out;
}

/** Every problem in one line (a failure is one line): `file: key: message`, or `file: 3 problems: (1) key: message; (2) …`. */
function configError(file: string, problems: Problem[]): ConfigError {
  const each = problems.map((p) => `${formatPath(p.path)}: ${p.message}`);
  if (each.length === 1) return new ConfigError(`${file}: ${each[0]}`);
  return new ConfigError(`${file}: ${each.length} problems: ${each.map((e, i) => `(${i + 1}) ${e}`).join('; ')}`);
}

// ─── Loading ────────────────────────────────────────────────────────────────────────────────────────

/**
 * The configuration file to read: `--config`, else OFFLOAD_CONFIG, else ./offload.config.json (or, when
 * only that is missing, ./offload.config.yaml / .yml).
 */
export function resolveConfigPath(options: { config?: string; env?: Env; cwd?: string } = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const given = options.config ?? (options.env ?? processEnv()).OFFLOAD_CONFIG;
  if (given) return resolve(cwd, given);
  for (const name of [DEFAULT_CONFIG_FILE, 'offload.config.yaml', 'offload.config.yml']) {
    if (existsSync(resolve(cwd, name))) return resolve(cwd, name);
  }
  return resolve(cwd, DEFAULT_CONFIG_FILE);
}

function displayPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

/** The YAML parser, loaded only for a YAML file (most configurations are JSON; the CLI starts faster without it). */
const yaml = (): typeof import('yaml') => createRequire(import.meta.url)('yaml') as typeof import('yaml');

function parseText(text: string, file: string, shown: string): unknown {
  if (/\.ya?ml$/i.test(file)) {
    const doc = yaml().parseDocument(text, { prettyErrors: false });
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      throw new ConfigError(
        `${shown}: not valid YAML (${e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : ''}${e.message.split('\n')[0]})`,
      );
    }
    return doc.toJS();
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const pos = /position (\d+)/.exec(message);
    throw new ConfigError(
      `${shown}: not valid JSON (${pos ? `${lineColumn(text, Number(pos[1]))}: ` : ''}${message.replace(/\s*in JSON at position \d+.*$/, '')})`,
    );
  }
}

/** Validates a parsed document; `file` is only used in messages. */
export function validateTablesConfig(doc: unknown, file: string): OffloadConfig {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`${file}: expected an object with a "tables" list at the top level, got ${describe(doc)}`);
  }
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) throw configError(file, problemsOf(parsed.error.issues));

  const problems: Problem[] = [];
  const tables: TableConfig[] = [];
  const byName = new Map<string, number>();
  const byTarget = new Map<string, number>();
  parsed.data.tables.forEach((t, i) => {
    const at = (key: string) => ['tables', i, key];
    if (t.source === undefined && t.query === undefined) {
      problems.push({
        path: ['tables', i],
        message: 'expected "source" (a ClickHouse table "database.table") or "query" (a SELECT), got neither',
      });
    }
    if (t.layer === 'gold' && t.closedWindow === undefined) {
      problems.push({
        path: at('closedWindow'),
        message: 'required for gold tables: the aggregate window (e.g. "1m", "1h", "1d"); only closed windows are offloaded',
      });
    }
    const seenName = byName.get(t.name);
    if (seenName !== undefined)
      problems.push({ path: at('name'), message: `"${t.name}" is already the name of tables[${seenName}] (names must be unique)` });
    else byName.set(t.name, i);
    const seenTarget = byTarget.get(t.target);
    if (seenTarget !== undefined)
      problems.push({
        path: at('target'),
        message: `"${t.target}" is already the target of tables[${seenTarget}] (two tables cannot write one Iceberg table)`,
      });
    else byTarget.set(t.target, i);
    const tieBreak = Array.isArray(t.tieBreak) ? (t.tieBreak[0] ?? null) : (t.tieBreak ?? null);
    if (tieBreak !== null && tieBreak === t.cursor)
      problems.push({
        path: at('tieBreak'),
        message: `"${tieBreak}" is the cursor itself; a tie-break orders rows that share a cursor value`,
      });
    const lag = t.lag ?? DEFAULT_LAG;
    const compaction = t.compaction === undefined ? null : t.compaction === true ? {} : t.compaction;
    const size = String(t.targetFileSize ?? DEFAULT_TARGET_FILE_SIZE);
    const targetParts = t.target.split('.');
    const [database, table] = t.source ? t.source.split('.') : [];
    tables.push({
      name: t.name,
      layer: t.layer,
      source: t.source ?? null,
      sourceTable: t.source ? { database, table } : null,
      query: t.query?.trim() ?? null,
      cursor: t.cursor,
      tieBreak,
      lag,
      lagMs: durationMs(lag)!,
      closedWindow: t.closedWindow ?? null,
      closedWindowMs: t.closedWindow ? durationMs(t.closedWindow) : null,
      target: t.target,
      targetNamespace: targetParts.slice(0, -1),
      targetTable: targetParts[targetParts.length - 1],
      partitionBy: (t.partitionBy ?? []).map((p) => p.trim()),
      targetFileSize: size,
      targetFileSizeBytes: sizeBytes(size)!,
      compaction: compaction && {
        ...(compaction.minFiles !== undefined ? { minFiles: compaction.minFiles } : {}),
        ...(compaction.smallFileRatio !== undefined ? { smallFileRatio: compaction.smallFileRatio } : {}),
        minAge: compaction.minAge ?? lag,
        minAgeMs: durationMs(compaction.minAge ?? lag)!,
      },
      refusedRows: t.refusedRows ?? 'hold',
      comment: t.comment ?? null,
      index: i,
    });
  });
  if (problems.length > 0) throw configError(file, problems);
  return { file, tables };
}

/** Parses configuration text (JSON, or YAML when `file` ends in .yaml/.yml). */
export function parseTablesConfig(text: string, file: string): OffloadConfig {
  return validateTablesConfig(parseText(text, file, file), file);
}

/** Reads and validates the configuration file chosen by `--config` / OFFLOAD_CONFIG / the default. */
export function loadTablesConfig(options: { config?: string; env?: Env; cwd?: string } = {}): OffloadConfig {
  const path = resolveConfigPath(options);
  const shown = displayPath(path, options.cwd);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `${shown}: no such file (choose one with --config or OFFLOAD_CONFIG; the project ships offload.config.json for the local stack)`
        : `${shown}: cannot read it (${(err as Error).message})`,
    );
  }
  return validateTablesConfig(parseText(text, path, shown), shown);
}

/** The configured table called `name`, or a ConfigError listing the names there are. */
export function findTable(config: OffloadConfig, name: string): TableConfig {
  const t = config.tables.find((x) => x.name === name);
  if (!t) throw new ConfigError(`${config.file}: no table "${name}" (configured: ${config.tables.map((x) => x.name).join(', ')})`);
  return t;
}

// ─── Checking against ClickHouse ────────────────────────────────────────────────────────────────────

/** What the check needs from a ClickHouse source (src/clickhouse/client.ts provides it). */
export interface ColumnIntrospection {
  columns(ref: { database: string; table: string }): Promise<Array<{ name: string; type: string }>>;
  describeQuery(sql: string): Promise<Array<{ name: string; type: string }>>;
}

function listColumns(cols: Array<{ name: string }>): string {
  const names = cols.map((c) => c.name);
  return names.length > 12 ? `${names.slice(0, 12).join(', ')}, …` : names.join(', ');
}

/**
 * Checks every table against the connected server: the source table exists, the query runs, the cursor
 * and tie-break columns are among what is read, the cursor is a date/time, partition columns exist.
 * Throws one ConfigError listing every problem, e.g.
 * `offload.config.json: tables[3].cursor: column "exchange_ts" is not in k2.bronze_trades_kraken (columns: …)`.
 */
export async function checkTablesAgainstClickHouse(config: OffloadConfig, source: ColumnIntrospection): Promise<void> {
  const problems: Problem[] = [];
  for (const t of config.tables) {
    const at = (key: string) => ['tables', t.index, key];
    let columns: Array<{ name: string; type: string }>;
    let what: string;
    try {
      if (t.query) {
        what = `the query of ${t.name}`;
        columns = await source.describeQuery(t.query);
      } else {
        what = t.source!;
        columns = await source.columns(t.sourceTable!);
      }
    } catch (err) {
      if ((err as { exitCode?: number }).exitCode === 4) throw err; // unreachable server: not a config problem
      const key = t.query ? 'query' : 'source';
      problems.push({ path: at(key), message: (err as Error).message.replace(/^ClickHouse( error \d+)?: /, '') });
      continue;
    }
    const byName = new Map(columns.map((c) => [c.name, c.type]));
    const cursorType = byName.get(t.cursor);
    if (cursorType === undefined) {
      problems.push({ path: at('cursor'), message: `column "${t.cursor}" is not in ${what} (columns: ${listColumns(columns)})` });
    } else if (!/^(Nullable\()?(DateTime|DateTime64|Date|Date32)\b/.test(cursorType)) {
      problems.push({
        path: at('cursor'),
        message: `column "${t.cursor}" is ${cursorType}; a cursor must be a Date, DateTime or DateTime64 column`,
      });
    }
    if (t.tieBreak !== null && !byName.has(t.tieBreak)) {
      problems.push({ path: at('tieBreak'), message: `column "${t.tieBreak}" is not in ${what} (columns: ${listColumns(columns)})` });
    }
    t.partitionBy.forEach((p, j) => {
      const m = PARTITION.exec(p);
      const column = m?.[2] ?? m?.[3];
      if (column && !byName.has(column)) {
        problems.push({
          path: ['tables', t.index, 'partitionBy', j],
          message: `column "${column}" is not in ${what} (columns: ${listColumns(columns)})`,
        });
      }
    });
  }
  if (problems.length > 0) throw configError(config.file, problems);
}
