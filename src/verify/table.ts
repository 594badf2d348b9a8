// The invariant checks of exactly-once, with their numbers: what a drill asserts after every recovery.
//
//   rows-lost / rows-duplicated  ClickHouse rows up to the watermark and the Iceberg table's rows, compared
//                                as multisets of whole rows (both sides loaded into DuckDB with the Iceberg
//                                types, then EXCEPT ALL both ways and counted).
//   watermark-matches-snapshot   the PostgreSQL watermark is the current snapshot's `offload.watermark`, and
//                                the run that moved it is the snapshot's `offload.run-id`.
//   no-run-left-running          no offload_runs row of the table is still 'running'.
//   metadata-readable            the catalog's metadata file parses; every manifest list, manifest and data
//                                file of the kept snapshots is there; the manifests' record count is the
//                                summary's total-records.
//   pyiceberg-loads              an independent reader (pyiceberg, through the same JDBC catalog) loads the
//                                table and counts the same rows; skipped when the Python venv is absent.
//   orphans-collected            files under the table's location that no kept snapshot references (the
//                                leftovers of killed runs) are found, `offload gc` removes them, and nothing
//                                referenced is removed.
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import type pg from 'pg';
import type { TableConfig } from '../config/tables.js';
import { qualifiedName, quoteIdentifier, type ClickHouseSource } from '../db/clickhouse.js';
import * as runs from '../db/runs.js';
import * as watermarks from '../db/watermarks.js';
import type { JdbcCatalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { openDuckDB } from '../iceberg/parquet.js';
import { mapConcurrent, readDataFiles, readReferencedFiles } from '../iceberg/reader.js';
import { duckdbType } from '../iceberg/schema.js';
import { defaultTableLocation, loadTable } from '../iceberg/table.js';
import { currentSchema, currentSnapshot } from '../iceberg/metadata.js';
import { formatIdentifier, parseIdentifier, type IcebergType, type TableMetadata } from '../iceberg/types.js';
import type { Watermark } from '../pipeline/events.js';
import { upToWatermarkSql } from '../pipeline/status.js';

export type CheckName =
  | 'rows-lost'
  | 'rows-duplicated'
  | 'watermark-matches-snapshot'
  | 'no-run-left-running'
  | 'metadata-readable'
  | 'pyiceberg-loads'
  | 'orphans-collected';

export type CheckStatus = 'held' | 'broken' | 'skipped';

/** One invariant, checked: whether it held, the numbers behind the verdict, and a sentence. */
export interface InvariantCheck {
  name: CheckName;
  status: CheckStatus;
  numbers: Record<string, number | string | null>;
  detail: string;
}

export const CHECK_TITLES: Record<CheckName, string> = {
  'rows-lost': 'rows lost',
  'rows-duplicated': 'rows duplicated',
  'watermark-matches-snapshot': 'watermark = snapshot offload.watermark',
  'no-run-left-running': 'no run left running',
  'metadata-readable': 'metadata readable',
  'pyiceberg-loads': 'table loads in pyiceberg',
  'orphans-collected': 'orphans found and removed by gc',
};

/** What the checks read: the same services the offload used, handed in by the caller. */
export interface VerifyServices {
  clickhouse: ClickHouseSource;
  pool: pg.Pool;
  io: FileIO;
  catalog: JdbcCatalog;
  /** OFFLOAD_WAREHOUSE: where a table not (yet) in the catalog would live. */
  warehouse: string;
  env: Record<string, string | undefined>;
  /** pyiceberg through the same catalog, or null when the venv is absent (the check is then skipped). */
  pyiceberg: PyIcebergReader | null;
}

// ─── Rows as multisets ──────────────────────────────────────────────────────────────────────────────

export interface RowComparison {
  watermark: Watermark;
  columns: string[];
  /** Columns left out of the comparison (not in the source, or of a type that cannot travel exactly). */
  skippedColumns: string[];
  clickhouseRows: number;
  icebergRows: number;
  /** ClickHouse rows (up to the watermark) missing from Iceberg, counted with multiplicity. */
  lost: number;
  /** Iceberg rows beyond their multiplicity in ClickHouse (a row written twice counts once here). */
  duplicated: number;
  /** Iceberg rows that are not in ClickHouse up to the watermark at all (beyond it, or altered). */
  unexpected: number;
  /** A few of each kind, for the report (JSON text of the row). */
  samples: { lost: string[]; duplicated: string[]; unexpected: string[] };
  elapsedMs: number;
}

/**
 * How one column travels from ClickHouse to DuckDB for the comparison, independently of the offload's
 * own extraction: ClickHouse prints `select` as TabSeparated text that needs no unescaping (strings as
 * hex, instants as epoch numbers, decimals and 64-bit integers as the format's exact digits); DuckDB turns
 * that text into the compared value with `fromText`, and the Iceberg column into the same with
 * `fromIceberg`. Values compare in the Iceberg type, except decimals wider than 18 digits (UInt64 columns
 * too), which compare as their exact text: DuckDB parses text into such decimals very slowly, and prints
 * them with every digit of their scale, as ClickHouse does. (DuckDB's JSON reader would go through doubles,
 * and ClickHouse 18.16's toString(Decimal128) is wrong beyond 2^64 — hence this route.) Null for a column
 * that cannot travel exactly (maps, tuples, nested arrays): the comparison leaves it out and says so.
 */
export interface ColumnCodec {
  name: string;
  select: string;
  /** The DuckDB type of the compared value. */
  type: string;
  fromText: (ref: string) => string;
  fromIceberg: (ref: string) => string;
}

interface ScalarCodec {
  select: string;
  type: string;
  fromText: (ref: string) => string;
  fromIceberg: (ref: string) => string;
}

function scalarCodec(expr: string, clickhouseType: string, icebergType: IcebergType): ScalarCodec | null {
  if (typeof icebergType !== 'string') return null;
  const type = duckdbType(icebergType);
  const same = (r: string) => r;
  if (icebergType === 'string') return { select: `hex(toString(${expr}))`, type, fromText: (r) => `decode(unhex(${r}))`, fromIceberg: same };
  if (/^DateTime64/.test(clickhouseType)) return { select: `toUnixTimestamp64Micro(${expr})`, type, fromText: (r) => `make_timestamptz(${r}::BIGINT)`, fromIceberg: same };
  if (/^DateTime\b/.test(clickhouseType)) return { select: `toUInt32(${expr})`, type, fromText: (r) => `make_timestamptz(${r}::BIGINT * 1000000)`, fromIceberg: same };
  if (icebergType === 'uuid' || icebergType === 'date') return { select: `toString(${expr})`, type, fromText: (r) => `${r}::${type}`, fromIceberg: same };
  if (icebergType === 'boolean') return { select: `toUInt8(${expr})`, type, fromText: (r) => `(${r} <> '0')`, fromIceberg: same };
  const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(icebergType);
  if (decimal && Number(decimal[1]) > 18) return { select: expr, type: 'VARCHAR', fromText: same, fromIceberg: (r) => `CAST(${r} AS VARCHAR)` };
  if (/^(decimal|int|long|float|double)/.test(icebergType)) return { select: expr, type, fromText: (r) => `${r}::${type}`, fromIceberg: same };
  return null;
}

export function columnCodec(name: string, clickhouseType: string, icebergType: IcebergType): ColumnCodec | null {
  const col = quoteIdentifier(name);
  const inner = unwrap(clickhouseType);
  if (typeof icebergType === 'string') {
    const c = scalarCodec(col, inner, icebergType);
    return c && { name, ...c, select: `${c.select} AS ${col}` };
  }
  const array = /^Array\((.*)\)$/.exec(inner);
  if (icebergType.type === 'list' && array && typeof icebergType.element === 'string' && !/^Array/.test(unwrap(array[1]))) {
    const element = scalarCodec('x', unwrap(array[1]), icebergType.element);
    if (!element) return null;
    const listType = `${element.type}[]`;
    // "<length>:<e1>,<e2>…": the length tells [] from [''].
    return {
      name,
      type: listType,
      select: `concat(toString(length(${col})), ':', arrayStringConcat(arrayMap(x -> toString(${element.select}), ${col}), ',')) AS ${col}`,
      fromText: (r) =>
        `CASE WHEN split_part(${r}, ':', 1) = '0' THEN []::${listType} ELSE list_transform(string_split(split_part(${r}, ':', 2), ','), x -> ${element.fromText('x')})::${listType} END`,
      fromIceberg: (r) => (element.type === duckdbType(icebergType.element) ? r : `list_transform(${r}, x -> ${element.fromIceberg('x')})`),
    };
  }
  return null;
}

function unwrap(type: string): string {
  let t = type.trim();
  for (;;) {
    const m = /^(?:LowCardinality|Nullable)\((.*)\)$/.exec(t);
    if (!m) return t;
    t = m[1].trim();
  }
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function duckIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function scratchDir(): Promise<string> {
  const dir = join(tmpdir(), `offload-verify-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** What is read for a table: its query as a subquery, or its source table. */
function readFrom(t: TableConfig): string {
  return t.query ? `(${t.query})` : qualifiedName(t.sourceTable!);
}

/**
 * ClickHouse rows with cursor ≤ `watermark` against every row of the table's current snapshot, as
 * multisets of whole rows over the columns both sides have.
 */
export async function compareRows(s: VerifyServices, table: TableConfig, watermark: Watermark, metadata: TableMetadata | null): Promise<RowComparison> {
  const began = performance.now();
  const isAtEpoch = Date.parse(watermark.timestamp) <= 0 && watermark.tieBreak === null;
  if (!metadata) {
    // No table: nothing can be compared row by row; every ClickHouse row up to the watermark is lost.
    const chColumns = table.query ? await s.clickhouse.describeQuery(table.query) : await s.clickhouse.columns(table.sourceTable!);
    const cursorType = chColumns.find((c) => c.name === table.cursor)?.type ?? 'DateTime';
    const n = isAtEpoch
      ? 0
      : Number((await s.clickhouse.query<{ n: string }>(`SELECT count() AS n FROM ${readFrom(table)} WHERE ${upToWatermarkSql(table, cursorType, watermark)}`))[0]?.n ?? 0);
    const none = { lost: [], duplicated: [], unexpected: [] };
    return { watermark, columns: [], skippedColumns: [], clickhouseRows: n, icebergRows: 0, lost: n, duplicated: 0, unexpected: 0, samples: none, elapsedMs: Math.round(performance.now() - began) };
  }
  const dir = await scratchDir();
  const duck = await openDuckDB({ threads: 2, memoryLimit: '1GB', tempDirectory: join(dir, 'spill') });
  try {
    const chColumns = table.query ? await s.clickhouse.describeQuery(table.query) : await s.clickhouse.columns(table.sourceTable!);
    const chType = new Map(chColumns.map((c) => [c.name, c.type]));
    const cursorType = chType.get(table.cursor) ?? 'DateTime';
    // The columns compared: those of the Iceberg schema (the table's truth) that the source has and that
    // travel exactly; the cursor always does.
    const codecs: ColumnCodec[] = [];
    const skipped: string[] = [];
    for (const f of currentSchema(metadata).fields) {
      const type = chType.get(f.name);
      const codec = type === undefined ? null : columnCodec(f.name, type, f.type);
      if (codec) codecs.push(codec);
      else skipped.push(f.name);
    }
    const columns = codecs.map((c) => c.name);
    const typed = codecs.map((c) => `${duckIdent(c.name)} ${c.type}`).join(', ');

    // ClickHouse → a TabSeparated file → DuckDB, typed as Iceberg types.
    const chFile = join(dir, 'clickhouse.tsv');
    if (!isAtEpoch) {
      const sql =
        `SELECT ${codecs.map((c) => c.select).join(', ')} FROM ${readFrom(table)} ` +
        `WHERE ${upToWatermarkSql(table, cursorType, watermark)} FORMAT TabSeparated`;
      await s.clickhouse.run(async (c) => {
        const result = await c.exec({ query: sql });
        await pipeline(result.stream as Readable, createWriteStream(chFile));
      }, `reading ${table.name} up to its watermark`);
    } else {
      await writeFile(chFile, '');
    }
    await duck.connection.run(`CREATE TABLE ch (${typed})`);
    if ((await stat(chFile)).size > 0) {
      const names = codecs.map((_, i) => `c${i}`);
      await duck.connection.run(
        `INSERT INTO ch SELECT ${codecs.map((c, i) => c.fromText(names[i])).join(', ')} ` +
          `FROM read_csv(${sqlString(chFile)}, delim = '\t', quote = '', escape = '', header = false, nullstr = '\\N', all_varchar = true, ` +
          `names = [${names.map(sqlString).join(', ')}])`,
      );
    }
    await rm(chFile, { force: true });

    // Iceberg → the live data files of the current snapshot, read by DuckDB.
    await duck.connection.run(`CREATE TABLE ice (${typed})`);
    {
      const files = await readDataFiles(s.io, metadata);
      const local = await mapConcurrent(files, 8, async (f) => {
        const path = join(dir, `${randomBytes(8).toString('hex')}.parquet`);
        await writeFile(path, await s.io.read(f.filePath));
        return path;
      });
      if (local.length > 0) {
        await duck.connection.run(
          `INSERT INTO ice SELECT ${codecs.map((c) => c.fromIceberg(duckIdent(c.name))).join(', ')} FROM read_parquet([${local.map(sqlString).join(', ')}], union_by_name = true)`,
        );
      }
    }

    const count = async (sql: string) => Number((await duck.connection.runAndReadAll(sql)).getRows()[0]?.[0] ?? 0);
    const samples = async (sql: string) =>
      (await duck.connection.runAndReadAll(`${sql} LIMIT 3`)).getRowObjectsJson().map((r) => JSON.stringify(r));
    const clickhouseRows = await count('SELECT count(*) FROM ch');
    const icebergRows = await count('SELECT count(*) FROM ice');
    await duck.connection.run('CREATE TABLE lost AS SELECT * FROM ch EXCEPT ALL SELECT * FROM ice');
    await duck.connection.run('CREATE TABLE extra AS SELECT * FROM ice EXCEPT ALL SELECT * FROM ch');
    const lost = await count('SELECT count(*) FROM lost');
    const extra = await count('SELECT count(*) FROM extra');
    // An extra row that ClickHouse has (fewer times) is a duplicate; one it does not have at all is unexpected.
    const same = columns.map((c) => `e.${duckIdent(c)} IS NOT DISTINCT FROM d.${duckIdent(c)}`).join(' AND ');
    const duplicatedSql = `SELECT e.* FROM extra e WHERE EXISTS (SELECT 1 FROM (SELECT DISTINCT * FROM ch) d WHERE ${same || 'true'})`;
    const duplicated = extra === 0 ? 0 : await count(`SELECT count(*) FROM (${duplicatedSql})`);
    return {
      watermark,
      columns,
      skippedColumns: skipped,
      clickhouseRows,
      icebergRows,
      lost,
      duplicated,
      unexpected: extra - duplicated,
      samples: {
        lost: lost > 0 ? await samples('SELECT * FROM lost') : [],
        duplicated: duplicated > 0 ? await samples(duplicatedSql) : [],
        unexpected: extra - duplicated > 0 ? await samples(`SELECT * FROM extra EXCEPT ALL (${duplicatedSql})`) : [],
      },
      elapsedMs: Math.round(performance.now() - began),
    };
  } finally {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ─── Watermark and snapshot ─────────────────────────────────────────────────────────────────────────

/** The snapshot summary's `offload.watermark` as a Watermark (`<ISO>#<tie-break>`, `<ISO>`, or JSON). */
export function parseSummaryWatermark(text: string): Watermark | null {
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      const o = JSON.parse(t) as { timestamp?: unknown; tieBreak?: unknown; tie_break?: unknown };
      if (typeof o.timestamp !== 'string') return null;
      const tb = o.tieBreak ?? o.tie_break ?? null;
      return { timestamp: o.timestamp, tieBreak: tb === null ? null : String(tb) };
    } catch {
      return null;
    }
  }
  const m = /^(\S+?)(?:[#@ ](-?\d+))?$/.exec(t);
  if (!m || Number.isNaN(Date.parse(m[1]))) return null;
  return { timestamp: m[1], tieBreak: m[2] ?? null };
}

/** Microseconds since the epoch of an ISO instant with up to 9 fraction digits (exact, no float). */
export function instantMicros(iso: string): bigint | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(iso.trim().replace(' ', 'T'));
  if (!m) return null;
  const seconds = Date.parse(`${m[1]}${m[3] ?? 'Z'}`);
  if (Number.isNaN(seconds)) return null;
  return BigInt(seconds) * 1000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 6));
}

export function sameWatermark(a: Watermark, b: Watermark): boolean {
  const ta = instantMicros(a.timestamp);
  const tb = instantMicros(b.timestamp);
  return ta !== null && ta === tb && (a.tieBreak ?? null) === (b.tieBreak ?? null);
}

export function formatWatermark(w: Watermark): string {
  return w.tieBreak === null ? w.timestamp : `${w.timestamp} #${w.tieBreak}`;
}

// ─── Files under the table's location ───────────────────────────────────────────────────────────────

export interface FileInventory {
  location: string;
  /** Every object under the location. */
  listed: number;
  referenced: number;
  /** Listed but referenced by no kept snapshot (nor the metadata log): leftovers of runs that never committed. */
  orphans: string[];
  /** Referenced by a kept snapshot but absent: a reader would fail. */
  missing: string[];
  /** Older metadata files named by the metadata log but gone (not needed to read the table). */
  missingMetadataLog: number;
}

/** Lists the table's location and sorts what is there into referenced files and orphans. */
export async function inventoryFiles(s: VerifyServices, table: TableConfig): Promise<FileInventory> {
  const ident = parseIdentifier(table.target);
  const entry = await s.catalog.loadTable(ident);
  let location = defaultTableLocation(s.warehouse, ident);
  const referenced = new Set<string>();
  const needed = new Set<string>();
  let metadataLog: string[] = [];
  if (entry?.metadataLocation) {
    const t = await loadTable(s.catalog, s.io, ident);
    location = t.metadata.location;
    const refs = await readReferencedFiles(s.io, t.metadata, t.metadataLocation);
    for (const f of [...refs.manifestLists, ...refs.manifests, ...refs.dataFiles, t.metadataLocation]) {
      referenced.add(f);
      needed.add(f);
    }
    metadataLog = refs.metadataFiles.filter((f) => f !== t.metadataLocation);
    for (const f of metadataLog) referenced.add(f);
  }
  const listed = await s.io.list(`${location.replace(/\/+$/, '')}/`);
  const present = new Set(listed.map((f) => f.uri));
  return {
    location,
    listed: listed.length,
    referenced: referenced.size,
    orphans: listed.map((f) => f.uri).filter((u) => !referenced.has(u)),
    missing: [...needed].filter((u) => !present.has(u)),
    missingMetadataLog: metadataLog.filter((u) => !present.has(u)).length,
  };
}

// ─── pyiceberg ──────────────────────────────────────────────────────────────────────────────────────

// One Python process per reader, answering one JSON line per request: importing pyiceberg takes seconds,
// loading a table through the catalog a fraction of one.
const PYICEBERG_SERVER = `
import json, os, sys
from pyiceberg.catalog.sql import SqlCatalog
props = {"uri": os.environ["CATALOG_URI"], "warehouse": os.environ["WAREHOUSE"]}
if os.environ.get("S3_ENDPOINT"):
    props.update({"s3.endpoint": os.environ["S3_ENDPOINT"], "s3.access-key-id": os.environ.get("AWS_ACCESS_KEY_ID", ""),
                  "s3.secret-access-key": os.environ.get("AWS_SECRET_ACCESS_KEY", ""), "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
                  "s3.force-virtual-addressing": "false"})
catalog = SqlCatalog(os.environ["CATALOG"], **props)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    try:
        table = catalog.load_table(req["table"])
        snapshot = table.current_snapshot()
        scan = table.scan()
        files = list(scan.plan_files())
        try:
            rows = scan.count()
        except AttributeError:
            rows = scan.to_arrow().num_rows
        out = {"id": req["id"], "ok": True, "snapshot": str(snapshot.snapshot_id) if snapshot else None, "rows": rows, "files": len(files)}
    except Exception as e:
        out = {"id": req["id"], "ok": False, "error": type(e).__name__ + ": " + str(e).splitlines()[0] if str(e) else type(e).__name__}
    print(json.dumps(out), flush=True)
`;

export interface PyIcebergResult {
  snapshotId: string | null;
  rows: number;
  files: number;
}

/** pyiceberg, kept running, loading tables through the same JDBC catalog and counting their rows. */
export class PyIcebergReader {
  private readonly child: ReturnType<typeof execa>;
  private readonly waiting = new Map<number, { resolve: (v: PyIcebergResult) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private readonly ready: Promise<void>;
  private stderr = '';
  private exited = false;

  constructor(python: string, env: Record<string, string | undefined>, warehouse: string, catalogName: string) {
    const dbUrl = env.DATABASE_URL ?? '';
    this.child = execa(python, ['-u', '-c', PYICEBERG_SERVER], {
      env: {
        CATALOG: catalogName,
        CATALOG_URI: dbUrl.replace(/^postgres(ql)?:\/\//, 'postgresql+psycopg2://'),
        WAREHOUSE: warehouse,
        S3_ENDPOINT: env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? '',
        AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID ?? '',
        AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY ?? '',
        AWS_REGION: env.AWS_REGION ?? 'us-east-1',
        PATH: env.PATH ?? '',
      },
      extendEnv: false,
      stdin: 'pipe',
      reject: false,
      buffer: false,
    });
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.ready.catch(() => undefined);
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        let msg: { ready?: boolean; id?: number; ok?: boolean; snapshot?: string | null; rows?: number; files?: number; error?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.ready) {
          readyResolve();
          continue;
        }
        const w = msg.id === undefined ? undefined : this.waiting.get(msg.id);
        if (!w) continue;
        this.waiting.delete(msg.id!);
        if (msg.ok) w.resolve({ snapshotId: msg.snapshot ?? null, rows: Number(msg.rows), files: Number(msg.files) });
        else w.reject(new Error(`pyiceberg: ${msg.error ?? 'failed'}`));
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    void Promise.resolve(this.child).then(() => {
      this.exited = true;
      const err = new Error(`pyiceberg exited: ${this.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
      readyReject(err);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
  }

  /** Loads `target` (namespace.table) and counts its rows at its current snapshot. */
  async read(target: string, timeoutMs = 120_000): Promise<PyIcebergResult> {
    await this.ready;
    if (this.exited) throw new Error('pyiceberg is not running');
    const id = this.nextId++;
    return new Promise<PyIcebergResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`pyiceberg did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ id, table: target })}\n`);
    });
  }

  async close(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await Promise.resolve(this.child).catch(() => undefined);
    clearTimeout(timer);
  }
}

/** The verification venv's python (OFFLOAD_VENV, else ./.venv), or null when it is not there. */
export function verificationPython(env: Record<string, string | undefined>, root: string): string | null {
  const venv = env.OFFLOAD_VENV ?? join(root, '.venv');
  const py = join(venv, 'bin', 'python');
  return existsSync(py) ? py : null;
}

// ─── All checks of a table ──────────────────────────────────────────────────────────────────────────

export interface VerifyOptions {
  /** The catalog name tables are registered under (iceberg_tables.catalog_name). */
  catalogName: string;
  /** Removes orphans (`offload gc`); when absent the orphan check only counts them. */
  collectOrphans?: () => Promise<{ deleted: number; detail?: string }>;
}

export interface TableVerification {
  table: string;
  target: string;
  checks: InvariantCheck[];
  rows: RowComparison | null;
  files: { before: FileInventory; after: FileInventory | null } | null;
  isHeld: boolean;
  elapsedMs: number;
}

function check(name: CheckName, held: boolean, numbers: InvariantCheck['numbers'], detail: string): InvariantCheck {
  return { name, status: held ? 'held' : 'broken', numbers, detail };
}

function failedCheck(name: CheckName, err: unknown): InvariantCheck {
  return { name, status: 'broken', numbers: {}, detail: `could not be checked: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
}

/**
 * Every invariant of one table after its offloads have ended (none may be running when this is
 * called: a live run legitimately holds a 'running' row and unreferenced files).
 */
export async function verifyTable(s: VerifyServices, table: TableConfig, options: VerifyOptions): Promise<TableVerification> {
  const began = performance.now();
  const checks: InvariantCheck[] = [];
  const ident = parseIdentifier(table.target);

  // State: the watermark row and the table's current version.
  const mark = await watermarks.read(s.pool, table.name);
  const watermark = mark?.watermark ?? watermarks.EPOCH;
  let metadata: TableMetadata | null = null;
  let metadataError: unknown = null;
  let metadataLocation: string | null = null;
  try {
    const entry = await s.catalog.loadTable(ident);
    if (entry) {
      const t = await loadTable(s.catalog, s.io, ident);
      metadata = t.metadata;
      metadataLocation = t.metadataLocation;
    }
  } catch (err) {
    metadataError = err;
  }

  // Rows.
  let rows: RowComparison | null = null;
  try {
    if (metadataError) throw metadataError;
    rows = await compareRows(s, table, watermark, metadata);
    const n = { clickhouseRowsUpToWatermark: rows.clickhouseRows, icebergRows: rows.icebergRows };
    checks.push(
      check('rows-lost', rows.lost === 0, { lost: rows.lost, ...n }, rows.lost === 0
        ? `all ${rows.clickhouseRows} ClickHouse rows up to ${formatWatermark(watermark)} are in Iceberg`
        : `${rows.lost} of ${rows.clickhouseRows} ClickHouse rows up to the watermark are not in Iceberg (e.g. ${rows.samples.lost[0] ?? '?'})`),
      check('rows-duplicated', rows.duplicated === 0 && rows.unexpected === 0, { duplicated: rows.duplicated, unexpected: rows.unexpected, ...n },
        rows.duplicated === 0 && rows.unexpected === 0
          ? `no Iceberg row appears more often than in ClickHouse (${rows.icebergRows} rows, ${rows.columns.length} columns compared)`
          : `${rows.duplicated} duplicated and ${rows.unexpected} unexpected Iceberg rows (e.g. ${rows.samples.duplicated[0] ?? rows.samples.unexpected[0] ?? '?'})`),
    );
  } catch (err) {
    checks.push(failedCheck('rows-lost', err), failedCheck('rows-duplicated', err));
  }

  // Watermark = the current snapshot's summary.
  try {
    if (metadataError) throw metadataError;
    const snapshot = metadata ? currentSnapshot(metadata) : undefined;
    const pgText = formatWatermark(watermark);
    if (!snapshot) {
      const isEpoch = sameWatermark(watermark, watermarks.EPOCH);
      checks.push(check('watermark-matches-snapshot', isEpoch, { watermark: pgText, snapshotWatermark: null, snapshotId: null },
        isEpoch ? 'no snapshot yet and the watermark is still at the start' : `the watermark moved to ${pgText} but the table has no snapshot`));
    } else {
      const summaryText = snapshot.summary['offload.watermark'] ?? null;
      const summaryWatermark = summaryText === null ? null : parseSummaryWatermark(summaryText);
      const runId = snapshot.summary['offload.run-id'] ?? null;
      const sameRun = mark?.committedRunId === null || mark?.committedRunId === undefined || runId === null || mark.committedRunId === runId;
      const held = summaryWatermark !== null && sameWatermark(summaryWatermark, watermark) && sameRun;
      checks.push(check('watermark-matches-snapshot', held,
        { watermark: pgText, snapshotWatermark: summaryWatermark ? formatWatermark(summaryWatermark) : summaryText, snapshotId: snapshot['snapshot-id'].toString() },
        held ? `PostgreSQL and snapshot ${snapshot['snapshot-id']} agree on ${pgText} (run ${runId ?? '?'})`
          : !sameRun ? `the watermark was moved by run ${mark?.committedRunId} but the current snapshot was made by run ${runId}`
          : `PostgreSQL says ${pgText}, snapshot ${snapshot['snapshot-id']} says ${summaryText ?? '(no offload.watermark)'}`));
    }
  } catch (err) {
    checks.push(failedCheck('watermark-matches-snapshot', err));
  }

  // No run left running.
  try {
    const running = await runs.findRunning(s.pool, table.name);
    const all = await runs.list(s.pool, { table: table.name, limit: 100_000 });
    const by = (st: runs.RunStatus) => all.filter((r) => r.status === st).length;
    checks.push(check('no-run-left-running', running.length === 0,
      { running: running.length, committed: by('committed'), aborted: by('aborted'), failed: by('failed'), upToDate: by('up_to_date') },
      running.length === 0 ? `${all.length} runs recorded, none left running` : `${running.length} run(s) still marked running: ${running.map((r) => r.runId).join(', ')}`));
  } catch (err) {
    checks.push(failedCheck('no-run-left-running', err));
  }

  // Metadata readable, and the files it names are there.
  let before: FileInventory | null = null;
  try {
    if (metadataError) throw metadataError;
    before = await inventoryFiles(s, table);
    if (!metadata) {
      checks.push(check('metadata-readable', true, { metadataFiles: 0, dataFiles: 0 }, 'the table does not exist yet (nothing committed): nothing to read'));
    } else {
      const snapshot = currentSnapshot(metadata);
      const files = await readDataFiles(s.io, metadata);
      const counted = files.reduce((n, f) => n + f.recordCount, 0n);
      const summaryTotal = snapshot?.summary['total-records'] ?? '0';
      const held = before.missing.length === 0 && counted.toString() === summaryTotal;
      checks.push(check('metadata-readable', held,
        { snapshots: metadata.snapshots.length, dataFiles: files.length, manifestRecords: Number(counted), summaryTotalRecords: Number(summaryTotal), missingFiles: before.missing.length },
        held ? `${metadataLocation}: ${metadata.snapshots.length} snapshot(s), ${files.length} data file(s), manifests count ${counted} records = summary total-records`
          : before.missing.length > 0 ? `${before.missing.length} referenced file(s) missing, e.g. ${before.missing[0]}`
          : `manifests count ${counted} records, the summary says ${summaryTotal}`));
    }
  } catch (err) {
    checks.push(failedCheck('metadata-readable', err));
  }

  // An independent reader.
  if (s.pyiceberg === null) {
    checks.push({ name: 'pyiceberg-loads', status: 'skipped', numbers: {}, detail: 'the Python venv with pyiceberg is not installed (dev/python-env.sh)' });
  } else if (!metadata) {
    checks.push({ name: 'pyiceberg-loads', status: 'skipped', numbers: {}, detail: 'the table does not exist yet' });
  } else {
    try {
      const py = await s.pyiceberg.read(table.target);
      const snap = currentSnapshot(metadata)?.['snapshot-id'].toString() ?? null;
      const expected = rows?.icebergRows ?? null;
      const held = py.snapshotId === snap && (expected === null || py.rows === expected);
      checks.push(check('pyiceberg-loads', held, { rows: py.rows, files: py.files, snapshotId: py.snapshotId },
        held ? `pyiceberg loads ${formatIdentifier(ident)} at snapshot ${py.snapshotId} and counts ${py.rows} rows`
          : `pyiceberg sees snapshot ${py.snapshotId} with ${py.rows} rows; expected ${snap} with ${expected}`));
    } catch (err) {
      checks.push(failedCheck('pyiceberg-loads', err));
    }
  }

  // Orphans: found, then collected, and nothing referenced removed.
  let after: FileInventory | null = null;
  try {
    if (!before) throw new Error('the table files could not be listed');
    if (!options.collectOrphans) {
      checks.push({ name: 'orphans-collected', status: 'skipped', numbers: { found: before.orphans.length }, detail: `${before.orphans.length} orphan file(s) found; gc not run` });
    } else {
      const gc = await options.collectOrphans();
      after = await inventoryFiles(s, table);
      const held = after.orphans.length === 0 && after.missing.length === 0;
      checks.push(check('orphans-collected', held,
        { found: before.orphans.length, removedByGc: gc.deleted, left: after.orphans.length, referencedMissing: after.missing.length },
        held ? `${before.orphans.length} orphan file(s) found, gc removed ${gc.deleted}; every referenced file is still there`
          : after.missing.length > 0 ? `gc removed ${after.missing.length} referenced file(s), e.g. ${after.missing[0]}`
          : `${after.orphans.length} orphan file(s) left after gc, e.g. ${after.orphans[0]}${gc.detail ? ` (${gc.detail})` : ''}`));
    }
  } catch (err) {
    checks.push(failedCheck('orphans-collected', err));
  }

  return {
    table: table.name,
    target: table.target,
    checks,
    rows,
    files: before ? { before, after } : null,
    isHeld: checks.every((c) => c.status !== 'broken'),
    elapsedMs: Math.round(performance.now() - began),
  };
}
