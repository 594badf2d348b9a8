// The batch loop (pipeline/offload.ts) on in-memory fakes of the interfaces it is handed — a row source,
// a state store, a catalog, a FileIO — with the real planner, writer (DuckDB, in-process), stager and
// commit logic in between: large windows commit in several batches, a lost compare-and-set re-plans or
// restages as it must, and a failed run is recorded as failed with everything it wrote removed. No
// service is needed; the same loop on the real services is covered by test/pipeline/*.stack.test.ts.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { capabilitiesOf, ClickHouseQueryError } from '../../src/clickhouse/client.js';
import type { ExtractedFile } from '../../src/clickhouse/extract/http-to-file.js';
import type { Lower, WindowSource } from '../../src/clickhouse/window.js';
import { validateTablesConfig, type TableConfig } from '../../src/config/tables.js';
import { CatalogError, type CatalogTable, type PointerCatalog } from '../../src/iceberg/catalog.js';
import { JdbcTableCatalog } from '../../src/iceberg/jdbc-table-catalog.js';
import { CommitConflict } from '../../src/core/errors.js';
import { isoFromMicros, sameWatermark, type Micros, type Watermark } from '../../src/core/watermark.js';
import { AlreadyExists, FileNotFound, type FileInfo, type FileIO, type WriteSource } from '../../src/iceberg/io.js';
import { currentSchema } from '../../src/iceberg/metadata.js';
import { commitStaged, loadTable, stageSchemaChange } from '../../src/iceberg/table.js';
import { formatIdentifier, type TableIdentifier } from '../../src/iceberg/types.js';
import { OffloadEvents, type OffloadEvent } from '../../src/pipeline/events.js';
import { offloadTable, type OffloadDeps } from '../../src/pipeline/offload.js';
import type { CursorCount, Slice } from '../../src/pipeline/plan.js';
import type { WindowFingerprint } from '../../src/state/windows.js';
import type { HeldRowsRecord } from '../../src/state/held-rows.js';
import { sourceShape, type ExtractSliceOptions, type RowSource, type RowsHint, type SourceShape } from '../../src/pipeline/source.js';
import { snapshotWatermark, SUMMARY } from '../../src/pipeline/stage.js';
import type { TableLock } from '../../src/state/locks.js';
import type { Queryable } from '../../src/state/pool.js';
import type { CommittedRun, OffloadRun, StartRun } from '../../src/state/runs.js';
import type { StateStore, StateTransaction } from '../../src/state/store.js';
import type { AdvanceOptions, EnsureTable, WatermarkState } from '../../src/state/watermarks.js';

const S = 1_000_000n; // µs per second
const BASE = 1_767_225_600n * S; // 2026-01-01T00:00:00Z
const at = (second: number): Micros => BASE + BigInt(second) * S;
const mark = (second: number, id: number): Watermark => ({ timestamp: isoFromMicros(at(second)), tieBreak: String(id) });

// ─── A row source: trades in memory, extracted as ClickHouse 18.16 would print them (the CSV path) ──────

interface Trade {
  ts: Micros; // whole seconds: a DateTime column
  id: bigint;
  note: string;
}

const COLUMNS = [
  { name: 'ts', type: 'DateTime' },
  { name: 'id', type: 'UInt64' },
  { name: 'note', type: 'String' },
];

class MemoryRows implements RowSource {
  /** Called after each slice is extracted: rows may arrive meanwhile, as they do on a live table. */
  onExtracted?: () => void;
  /** Cursor values whose rows the source refuses to read (as ClickHouse's 407 on a cast that overflows). */
  readonly refused = new Set<Micros>();
  constructor(readonly rows: Trade[]) {}

  /** The error reading these rows meets: the first refused value among them, or null. */
  private refusal(rows: Trade[]): Error | null {
    const bad = rows.find((r) => this.refused.has(r.ts));
    return bad ? new ClickHouseQueryError(407, `ClickHouse error 407: Decimal convert overflow (row at ${bad.ts})`) : null;
  }

  async shape(cfg: TableConfig): Promise<SourceShape> {
    // The CSV path forced, as OFFLOAD_EXTRACT_FORMAT=csv does: extractSlice below prints CSV.
    return sourceShape(cfg, COLUMNS, { ...capabilitiesOf('18.16.1'), nativeExtraction: false });
  }

  async now(): Promise<Micros> {
    return at(86_400);
  }

  private within(window: WindowSource, lower: Lower | null, upper: Micros, range?: { from: Micros | null; to: Micros | null }): Trade[] {
    return this.rows.filter((r) => {
      const above =
        lower === null ||
        r.ts > lower.cursor ||
        (r.ts === lower.cursor && lower.tieBreak !== null && window.tieBreak !== null && r.id > BigInt(lower.tieBreak));
      const inRange = (range?.from == null || r.ts >= range.from) && (range?.to == null || r.ts < range.to);
      return above && r.ts <= upper && inRange && !(window.held ?? []).includes(r.ts);
    });
  }

  async windowStats(window: WindowSource, lower: Lower | null, cutoff: Micros): Promise<{ rows: number; newest: Micros | null }> {
    const rows = this.within(window, lower, cutoff);
    return { rows: rows.length, newest: rows.length ? rows.reduce((m, r) => (r.ts > m ? r.ts : m), rows[0].ts) : null };
  }

  async bucketCounts(
    window: WindowSource,
    lower: Lower | null,
    upper: Micros,
    size: Micros,
    range?: { from: Micros; to: Micros },
  ): Promise<CursorCount[]> {
    const counts = new Map<Micros, number>();
    for (const r of this.within(window, lower, upper, range)) counts.set((r.ts / size) * size, (counts.get((r.ts / size) * size) ?? 0) + 1);
    return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([cursor, rows]) => ({ cursor, rows }));
  }

  async extractSlice(
    shape: SourceShape,
    lower: Lower | null,
    upper: Micros,
    slice: Slice,
    o: ExtractSliceOptions,
  ): Promise<ExtractedFile[]> {
    const refusal = this.refusal(this.within(shape.window, lower, upper, slice));
    if (refusal) throw refusal;
    // Columns as the CSV path selects them (DateTime as its epoch second), then the end-of-row marker.
    const lines = this.within(shape.window, lower, upper, slice).map((r) => `${r.ts / S},${r.id},"${r.note.replace(/"/g, '""')}",1\n`);
    const path = join(o.workDir, `slice-${slice.index}.${shape.extraction.extension}`);
    await writeFile(path, lines.join(''));
    const bytes = Buffer.byteLength(lines.join(''));
    o.onBytes?.(bytes);
    o.onRows?.(lines.length);
    this.onExtracted?.();
    return [{ path, bytes }];
  }

  async probe(shape: SourceShape, lower: Lower | null, upper: Micros): Promise<Error | null> {
    return this.refusal(this.within(shape.window, lower, upper));
  }

  rowsHint(_shape: SourceShape, lower: Lower | null, upper: Micros): RowsHint {
    return { kind: 'query', sql: `rows in (${lower?.cursor ?? '-'}, ${upper}]` };
  }

  async windowFingerprints(): Promise<WindowFingerprint[]> {
    return []; // no candle table here
  }
}

// ─── The state store and the catalog: one in-memory database, transactions on a copy ───────────────────

interface Tables {
  watermarks: Map<string, WatermarkState>;
  runs: Map<string, OffloadRun>;
  /** Catalog pointers by `namespace.name`. */
  pointers: Map<string, string>;
}

const copy = (t: Tables): Tables => ({
  watermarks: new Map([...t.watermarks].map(([k, v]) => [k, { ...v, watermark: { ...v.watermark } }])),
  runs: new Map([...t.runs].map(([k, v]) => [k, { ...v }])),
  pointers: new Map(t.pointers),
});

const noSql = (): Queryable => ({
  query: () => Promise.reject(new Error('the memory database runs no SQL')),
});

class MemoryDatabase implements StateStore {
  committed: Tables = { watermarks: new Map(), runs: new Map(), pointers: new Map() };
  readonly connection = noSql();
  /** Open transactions by their connection (the catalog's compare-and-set finds its transaction so). */
  private readonly open = new Map<Queryable, Tables>();
  private readonly locks = new Set<string>();
  /** Runs when a transaction is asked for, before it begins: another writer's move, or a failure. */
  beforeTransaction?: () => Promise<void>;

  tablesOf(connection: Queryable): Tables {
    if (connection === this.connection) return this.committed;
    const t = this.open.get(connection);
    assert.ok(t, 'a connection of no open transaction');
    return t;
  }

  async tryLockTable(table: string): Promise<TableLock | null> {
    if (this.locks.has(table)) return null;
    this.locks.add(table);
    return {
      table,
      key: 0n,
      signal: new AbortController().signal,
      isHeld: () => this.locks.has(table),
      release: async () => void this.locks.delete(table),
    };
  }

  async ensureWatermarks(tables: EnsureTable[]): Promise<string[]> {
    const created: string[] = [];
    for (const t of tables) {
      if (this.committed.watermarks.has(t.table)) continue;
      this.committed.watermarks.set(t.table, {
        table: t.table,
        watermark: { timestamp: '1970-01-01T00:00:00.000000Z', tieBreak: null },
        icebergTable: t.icebergTable ?? null,
        status: 'initialized',
        lastRowCount: 0,
        lastSuccessfulRun: null,
        lastRunDurationSeconds: null,
        failureCount: 0,
        lastErrorMessage: null,
        committedRunId: null,
        updatedAt: null,
      });
      created.push(t.table);
    }
    return created;
  }

  async readWatermark(table: string): Promise<WatermarkState | null> {
    return readWatermark(this.committed, table);
  }

  private setStatus(table: string, change: Partial<WatermarkState>): boolean {
    const w = this.committed.watermarks.get(table);
    if (w) Object.assign(w, change);
    return w !== undefined;
  }

  async markTableRunning(table: string): Promise<boolean> {
    return this.setStatus(table, { status: 'running' });
  }

  async markTableUpToDate(table: string): Promise<boolean> {
    const w = this.committed.watermarks.get(table);
    return this.setStatus(table, { status: w?.committedRunId ? 'success' : 'initialized', failureCount: 0, lastErrorMessage: null });
  }

  async markTableFailed(table: string, message: string): Promise<boolean> {
    const w = this.committed.watermarks.get(table);
    return this.setStatus(table, { status: 'failed', failureCount: (w?.failureCount ?? 0) + 1, lastErrorMessage: message });
  }

  async startRun(run: StartRun): Promise<OffloadRun> {
    const r: OffloadRun = {
      runId: run.runId!,
      table: run.table,
      icebergTable: run.icebergTable ?? null,
      kind: run.kind ?? 'offload',
      worker: 'memory:1',
      status: 'running',
      windowStart: run.windowStart ?? null,
      windowEnd: run.windowEnd ?? null,
      rows: 0,
      bytes: 0,
      files: 0,
      snapshotId: null,
      metadataLocation: null,
      error: null,
      replacedUtf8: null,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      durationMs: null,
    };
    this.committed.runs.set(r.runId, r);
    return r;
  }

  private finish(runId: string, status: OffloadRun['status'], error: string | null): boolean {
    const r = this.committed.runs.get(runId);
    if (r?.status !== 'running') return false;
    Object.assign(r, { status, error, finishedAt: new Date().toISOString() });
    return true;
  }

  async markRunUpToDate(runId: string): Promise<boolean> {
    return this.finish(runId, 'up_to_date', null);
  }

  async markRunFailed(runId: string, error: string): Promise<boolean> {
    return this.finish(runId, 'failed', error);
  }

  async markRunAborted(runId: string, reason: string): Promise<boolean> {
    return this.finish(runId, 'aborted', reason);
  }

  async findRunningRuns(table: string): Promise<OffloadRun[]> {
    return [...this.committed.runs.values()].filter((r) => r.table === table && r.status === 'running');
  }

  async knownRunIds(table: string, runIds: readonly string[]): Promise<Set<string>> {
    return new Set(runIds.filter((id) => this.committed.runs.get(id)?.table === table));
  }

  async recordWindows(): Promise<void> {
    // The tables of this test have no closed windows (no candle table).
  }

  readonly held = new Map<bigint, HeldRowsRecord>();

  async holdRows(r: Omit<HeldRowsRecord, 'heldAt'>): Promise<void> {
    if (!this.held.has(r.cursor)) this.held.set(r.cursor, { ...r, heldAt: new Date().toISOString() });
  }

  async heldRows(table: string): Promise<HeldRowsRecord[]> {
    return [...this.held.values()].filter((r) => r.table === table).sort((a, b) => (a.cursor < b.cursor ? -1 : 1));
  }

  async releaseHeldRows(_table: string, cursors: readonly bigint[]): Promise<void> {
    for (const c of cursors) this.held.delete(c);
  }

  async transaction<T>(fn: (tx: StateTransaction) => Promise<T>, options: { beforeCommit?: () => void } = {}): Promise<T> {
    const hook = this.beforeTransaction;
    this.beforeTransaction = undefined;
    await hook?.();
    const draft = copy(this.committed);
    const connection = noSql();
    this.open.set(connection, draft);
    try {
      const result = await fn({
        connection,
        readWatermark: async (table) => readWatermark(draft, table),
        advanceWatermark: async (table, watermark, o) => advance(draft, table, watermark, o),
        markRunCommitted: async (runId, result) => markCommitted(draft, runId, result),
      });
      options.beforeCommit?.();
      this.committed = draft;
      return result;
    } finally {
      this.open.delete(connection);
    }
  }
}

function readWatermark(t: Tables, table: string): WatermarkState | null {
  const w = t.watermarks.get(table);
  return w ? { ...w, watermark: { ...w.watermark } } : null;
}

function advance(t: Tables, table: string, watermark: Watermark, o: AdvanceOptions): void {
  const w = t.watermarks.get(table)!;
  if (o.expected && !sameWatermark(w.watermark, o.expected))
    throw new CommitConflict(`${table} (watermark)`, o.expected.timestamp, w.watermark.timestamp);
  Object.assign(w, {
    watermark,
    status: 'success',
    committedRunId: o.runId,
    lastRowCount: o.rowCount,
    lastSuccessfulRun: new Date().toISOString(),
    failureCount: 0,
  });
}

function markCommitted(t: Tables, runId: string, result: CommittedRun): void {
  const r = t.runs.get(runId);
  if (r?.status !== 'running') throw new Error(`run ${runId} is not running`);
  Object.assign(r, {
    status: 'committed',
    snapshotId: String(result.snapshotId),
    metadataLocation: result.metadataLocation,
    rows: result.rows,
    bytes: result.bytes,
    files: result.files,
    windowEnd: result.windowEnd ?? r.windowEnd,
  });
}

class MemoryCatalog implements PointerCatalog {
  readonly name = 'memory';
  constructor(private readonly db: MemoryDatabase) {}

  async tableExists(id: TableIdentifier): Promise<boolean> {
    return this.db.committed.pointers.has(formatIdentifier(id));
  }

  async loadTable(id: TableIdentifier): Promise<CatalogTable | null> {
    const location = this.db.committed.pointers.get(formatIdentifier(id));
    return location === undefined ? null : { identifier: id, metadataLocation: location, previousMetadataLocation: null };
  }

  async ensureNamespace(): Promise<boolean> {
    return false;
  }

  async createTable(id: TableIdentifier, metadataLocation: string): Promise<void> {
    if (await this.tableExists(id)) throw new CatalogError('table-exists', `${formatIdentifier(id)} exists`);
    this.db.committed.pointers.set(formatIdentifier(id), metadataLocation);
  }

  async compareAndSetMetadataLocation(
    tx: Queryable,
    id: TableIdentifier,
    change: { expected: string | null; next: string },
  ): Promise<void> {
    const pointers = this.db.tablesOf(tx).pointers;
    const actual = pointers.get(formatIdentifier(id)) ?? null;
    if (actual !== change.expected) throw new CommitConflict(formatIdentifier(id), change.expected, actual);
    pointers.set(formatIdentifier(id), change.next);
  }
}

// ─── Storage ────────────────────────────────────────────────────────────────────────────────────────────

class MemoryFileIO implements FileIO {
  readonly objects = new Map<string, Uint8Array>();

  async read(uri: string): Promise<Uint8Array> {
    const b = this.objects.get(uri);
    if (!b) throw new FileNotFound(uri);
    return b;
  }

  async readText(uri: string): Promise<string> {
    return Buffer.from(await this.read(uri)).toString('utf8');
  }

  async write(uri: string, source: WriteSource): Promise<void> {
    if (source instanceof Uint8Array) this.objects.set(uri, source);
    else if (source instanceof Readable) this.objects.set(uri, Buffer.concat(await source.toArray()));
    else this.objects.set(uri, await readFile(source.file));
  }

  async createExclusive(uri: string, content: Uint8Array | string): Promise<void> {
    if (this.objects.has(uri)) throw new AlreadyExists(uri);
    this.objects.set(uri, typeof content === 'string' ? Buffer.from(content) : content);
  }

  async exists(uri: string): Promise<boolean> {
    return this.objects.has(uri);
  }

  async size(uri: string): Promise<number> {
    return (await this.read(uri)).length;
  }

  async delete(uri: string): Promise<void> {
    this.objects.delete(uri);
  }

  async deleteMany(uris: Iterable<string>): Promise<void> {
    for (const u of uris) this.objects.delete(u);
  }

  async list(prefix: string): Promise<FileInfo[]> {
    return [...this.objects]
      .filter(([u]) => u.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([uri, b]) => ({ uri, size: b.length, lastModified: new Date() }));
  }

  async *iterate(prefix: string): AsyncIterable<FileInfo> {
    yield* await this.list(prefix);
  }

  async probe(): Promise<void> {}

  close(): void {}

  /** Object URIs under the table's data directory. */
  dataFiles(): string[] {
    return [...this.objects.keys()].filter((u) => u.includes('/data/')).sort();
  }
}

// ─── The bench: one table of trades, one second apart ───────────────────────────────────────────────────

const workDirs: string[] = [];
after(async () => {
  for (const d of workDirs) await rm(d, { recursive: true, force: true });
});

const CFG = validateTablesConfig(
  {
    tables: [
      {
        name: 'trades',
        layer: 'bronze',
        source: 'mem.trades',
        cursor: 'ts',
        tieBreak: 'id',
        lag: '5m',
        target: 'cold.trades',
        partitionBy: ['day(ts)'],
      },
    ],
  },
  'batch-loop.test',
).tables[0];
const IDENT = { namespace: 'cold', name: 'trades' };

async function bench(trades = 10) {
  const rows: Trade[] = Array.from({ length: trades }, (_, i) => ({ ts: at(i), id: BigInt(i + 1), note: `trade "${i}"` }));
  const db = new MemoryDatabase();
  const io = new MemoryFileIO();
  const workDir = await mkdtemp(join(tmpdir(), 'offload-batch-loop-'));
  workDirs.push(workDir);
  // The JDBC catalog's pointer store kept in memory, behind the Catalog interface the pipeline is handed.
  const pointers = new MemoryCatalog(db);
  const deps: OffloadDeps = {
    source: new MemoryRows(rows),
    state: db,
    catalog: new JdbcTableCatalog(pointers, io, 's3://memory/warehouse'),
    io,
    workDir,
  };
  const seen: OffloadEvent[] = [];
  const events = new OffloadEvents();
  events.on((e) => seen.push(e));
  return { db, io, deps, pointers, events, seen, source: deps.source as MemoryRows };
}

const logs = (seen: OffloadEvent[]) => seen.flatMap((e) => (e.kind === 'log' ? [e.message] : []));

describe('the batch loop on in-memory services', () => {
  it('commits a window larger than maxRowsPerBatch in several batches, the watermark advancing batch by batch', async () => {
    const { db, io, deps, pointers, events } = await bench(10);
    const result = await offloadTable(CFG, deps, { events, maxRowsPerBatch: 4 });
    assert.equal(result.status, 'committed');
    if (result.status !== 'committed') return;
    assert.deepEqual(
      result.batches.map((b) => b.rows),
      [4, 4, 2],
      'cut between whole cursor values, at most 4 rows each',
    );
    assert.deepEqual(
      result.batches.map((b) => b.watermark),
      [mark(3, 4), mark(7, 8), mark(9, 10)],
    );
    assert.deepEqual(
      result.batches.map((b) => b.window.lower),
      [{ timestamp: '1970-01-01T00:00:00.000000Z', tieBreak: null }, mark(3, 4), mark(7, 8)],
    );

    const state = await db.readWatermark('trades');
    assert.deepEqual(state?.watermark, mark(9, 10));
    const table = await loadTable(pointers, io, IDENT);
    assert.equal(table.metadata.snapshots.length, 3);
    assert.deepEqual(snapshotWatermark(table.metadata), mark(9, 10), 'the current snapshot carries the watermark in PostgreSQL');
    assert.deepEqual(
      table.metadata.snapshots.map((s) => s.summary[SUMMARY.runId]),
      result.batches.map((b) => b.runId),
    );
    assert.deepEqual(
      [...db.committed.runs.values()].map((r) => r.status),
      ['committed', 'committed', 'committed'],
    );
    assert.equal(io.dataFiles().length, 3, 'one data file per batch (one day partition)');

    const again = await offloadTable(CFG, deps, { maxRowsPerBatch: 4 });
    assert.equal(again.status, 'up-to-date');
  });

  it('a run ends on a table that keeps receiving rows: it takes (W, H] with H fixed when it planned', async () => {
    const { deps, events, seen, source } = await bench(10);
    let arrived = 0;
    // A trade arrives during every extraction, old enough for the lag: a loop re-planning against the
    // clock would take it, and the next one, and never end.
    source.onExtracted = () => {
      arrived++;
      source.rows.push({ ts: at(9 + arrived), id: BigInt(10 + arrived), note: 'live' });
    };
    const result = await offloadTable(CFG, deps, { events, maxRowsPerBatch: 4, maxBatches: 20 });
    assert.equal(result.status, 'committed');
    if (result.status !== 'committed') return;
    assert.deepEqual(
      result.batches.map((b) => b.rows),
      [4, 4, 2],
      'the window planned first, in batches; nothing past H',
    );
    assert.deepEqual(result.watermark, mark(9, 10));
    assert.equal(arrived, 3);
    const planned = seen.flatMap((e) => (e.kind === 'planned' ? [e] : []));
    assert.deepEqual(
      planned.map((p) => p.runRows),
      [10, 6, 2],
      'every batch plans up to the same H: the rows left in (W, H]',
    );
    const finished = seen.filter((e) => e.kind === 'finished');
    assert.deepEqual(
      finished.map((e) => e.kind === 'finished' && [e.rows, e.batches]),
      [[10, 3]],
    );
    const progress = seen.flatMap((e) => (e.kind === 'progress' ? [e] : []));
    assert.ok(
      progress.every((p) => p.totalRows === 10),
      'the total is the run’s from its first plan',
    );
    assert.ok(
      progress.every((p, i) => i === 0 || p.rows >= progress[i - 1].rows),
      'rows never go back across batches',
    );

    // The rows that arrived are the next run's.
    const next = await offloadTable(CFG, deps, { maxRowsPerBatch: 4 });
    assert.equal(next.status === 'committed' && next.rows, 3);
  });

  it('re-plans when the watermark moved before the commit: the run is aborted and its files removed', async () => {
    const { db, io, deps, pointers, events, seen } = await bench(10);
    db.beforeTransaction = async () => {
      // Another worker committed the first two rows meanwhile.
      const w = db.committed.watermarks.get('trades')!;
      Object.assign(w, { watermark: mark(1, 2), committedRunId: '00000000-0000-0000-0000-000000000001' });
    };
    const result = await offloadTable(CFG, deps, { events });
    assert.equal(result.status, 'committed');
    if (result.status !== 'committed') return;
    assert.equal(result.batches.length, 1);
    assert.deepEqual(result.batches[0].window.lower, mark(1, 2), 'planned again from the moved watermark');
    assert.equal(result.batches[0].rows, 8);
    assert.deepEqual(result.watermark, mark(9, 10));
    const uppers = seen.flatMap((e) => (e.kind === 'planned' ? [e.window.upper] : []));
    assert.equal(uppers.length, 2);
    assert.deepEqual(uppers[1], uppers[0], 'the re-plan keeps the H of the run');
    assert.ok(
      logs(seen).some((m) => /the watermark moved during run/.test(m)),
      logs(seen).join('\n'),
    );

    const runs = [...db.committed.runs.values()];
    assert.deepEqual(
      runs.map((r) => r.status),
      ['aborted', 'committed'],
    );
    assert.match(runs[0].error ?? '', /superseded: the watermark moved/);
    const table = await loadTable(pointers, io, IDENT);
    assert.equal(table.metadata.snapshots.length, 1);
    assert.ok(
      io.dataFiles().every((u) => u.includes(runs[1].runId)),
      `only the committed run's files remain: ${io.dataFiles().join(', ')}`,
    );
  });

  it('restages on the new version when only the table moved (another writer), and commits', async () => {
    const { db, io, deps, pointers, events, seen } = await bench(10);
    db.beforeTransaction = async () => {
      // Another engine commits a schema change: the catalog pointer moves, the watermark does not.
      const current = await loadTable(pointers, io, IDENT);
      const staged = await stageSchemaChange(current, io, { addColumns: [{ name: 'venue', type: 'string' }] });
      await commitStaged(db.connection, pointers, staged);
    };
    const result = await offloadTable(CFG, deps, { events });
    assert.equal(result.status, 'committed');
    if (result.status !== 'committed') return;
    assert.equal(result.rows, 10);
    assert.ok(
      logs(seen).some((m) => /commit conflict on cold\.trades \(attempt 1\); restaging/.test(m)),
      logs(seen).join('\n'),
    );
    const table = await loadTable(pointers, io, IDENT);
    assert.ok(
      currentSchema(table.metadata).fields.some((f) => f.name === 'venue'),
      "the other writer's change is kept",
    );
    assert.deepEqual(snapshotWatermark(table.metadata), mark(9, 10));
    assert.deepEqual((await db.readWatermark('trades'))?.watermark, mark(9, 10));
    assert.deepEqual(
      [...db.committed.runs.values()].map((r) => r.status),
      ['committed'],
    );
  });

  it('records a failed run as failed and removes everything it wrote', async () => {
    const { db, io, deps, pointers, events, seen } = await bench(10);
    db.beforeTransaction = async () => {
      throw new Error('connection to PostgreSQL lost');
    };
    await assert.rejects(offloadTable(CFG, deps, { events }), /connection to PostgreSQL lost/);
    assert.ok(seen.some((e) => e.kind === 'failed' && /connection to PostgreSQL lost/.test(e.error)));
    const [run] = [...db.committed.runs.values()];
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /connection to PostgreSQL lost/);
    const state = await db.readWatermark('trades');
    assert.equal(state?.status, 'failed');
    assert.equal(state?.failureCount, 1);
    assert.equal(state?.watermark.timestamp, '1970-01-01T00:00:00.000000Z', 'the watermark did not move');
    // What is left is the table as created: its first metadata file. The run's data files, manifest,
    // manifest list and metadata file are gone.
    assert.deepEqual(
      [...io.objects.keys()].map((u) => u.replace(/-[0-9a-f-]{36}\./, '-<uuid>.')),
      ['s3://memory/warehouse/cold/trades/metadata/00000-<uuid>.metadata.json'],
    );
    assert.equal((await loadTable(pointers, io, IDENT)).metadata.snapshots.length, 0);
  });
  it('rows the source refuses are held back: every other row is committed, the value recorded, the run exits with a warning', async () => {
    const { db, deps, events, seen, source } = await bench(10);
    source.refused.add(at(4));
    const result = await offloadTable(CFG, deps, { events });
    assert.equal(result.status, 'committed');
    if (result.status !== 'committed') return;
    assert.equal(result.rows, 9, 'all but the row at second 4');
    assert.deepEqual(result.watermark, mark(9, 10), 'the watermark passed the held value');
    assert.deepEqual(
      result.held?.map((h) => [h.at, h.rows, h.error]),
      [[isoFromMicros(at(4)), 1, 'ClickHouse error 407: Decimal convert overflow (row at ' + String(at(4)) + ')']],
    );
    assert.deepEqual([...db.held.keys()], [at(4)]);
    assert.ok(
      logs(seen).some((l) =>
        /^HELD BACK 1 row at ts = .* that ClickHouse refuses \(ClickHouse error 407: .*\); every other row goes on/.test(l),
      ),
      logs(seen).join('\n'),
    );
    // The batch that met the rows is aborted, not failed: the table is not failing.
    assert.ok([...db.committed.runs.values()].some((r) => r.status === 'aborted'));
    assert.equal((await db.readWatermark('trades'))?.status === 'failed', false);

    // Still refused: the next run leaves it out again, and keeps it recorded.
    source.rows.push({ ts: at(12), id: 11n, note: 'later' });
    const again = await offloadTable(CFG, deps, {});
    assert.equal(again.status === 'committed' && again.rows, 1);
    assert.equal(again.status === 'committed' && again.held, undefined, 'held by an earlier run, not this one');
    assert.deepEqual([...db.held.keys()], [at(4)]);

    // Readable again (changed at the source): forgotten, with a warning that it lies below the watermark.
    source.refused.clear();
    const seen2: OffloadEvent[] = [];
    const events2 = new OffloadEvents();
    events2.on((e) => seen2.push(e));
    assert.equal((await offloadTable(CFG, deps, { events: events2 })).status, 'up-to-date');
    assert.deepEqual([...db.held.keys()], []);
    assert.ok(
      logs(seen2).some((l) => /read again but lie below the watermark/.test(l)),
      logs(seen2).join('\n'),
    );
  });

  it('held rows above the watermark are taken by the run once they read again', async () => {
    const { db, deps, source } = await bench(5);
    source.refused.add(at(4)); // the newest row: nothing after it, the watermark stays below it
    const first = await offloadTable(CFG, deps, {});
    assert.equal(first.status === 'committed' && first.rows, 4);
    assert.deepEqual((await db.readWatermark('trades'))?.watermark, mark(3, 4));
    source.refused.clear();
    const second = await offloadTable(CFG, deps, {});
    assert.equal(second.status === 'committed' && second.rows, 1, 'the held row, now readable');
    assert.deepEqual([...db.held.keys()], []);
  });

  it('refusedRows "stop": the rows before the refused ones are committed and the run fails there, nothing held', async () => {
    const { db, deps, source } = await bench(10);
    source.refused.add(at(4));
    await assert.rejects(
      offloadTable({ ...CFG, refusedRows: 'stop' }, deps, {}),
      /rows at ts = .* cannot be read\. The 4 rows before them were committed/,
    );
    assert.deepEqual((await db.readWatermark('trades'))?.watermark, mark(3, 4));
    assert.deepEqual([...db.held.keys()], []);
  });
});
