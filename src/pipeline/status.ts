// Collects the status report (status-model.ts) that `offload status` prints and the TUI shows: per
// configured table its watermark and run state from PostgreSQL and its row counts in ClickHouse. A service
// that is down shows in its cells and in `services`; collecting never throws for that.
// Iceberg cells say "no table yet" until the engine fills them from the catalog's snapshot metadata. A REST
// catalog is a service of its own (a line in `services`); the JDBC catalog is PostgreSQL.
import type pg from 'pg';
import type { TableConfig, OffloadConfig } from '../config/tables.js';
import type { ClickHouseSource } from '../clickhouse/client.js';
import { literalValues, qualifiedName, type SqlValues } from '../clickhouse/sql.js';
import { cursorTypeOf, upToWatermarkPredicate } from '../clickhouse/window.js';
import { asPostgresUnavailable, describePool } from '../state/pool.js';
import { isTableLocked } from '../state/locks.js';
import * as runs from '../state/runs.js';
import * as watermarks from '../state/watermarks.js';
import { OffloadError } from '../core/errors.js';
import { EPOCH, microsFromIso, type Watermark } from '../core/watermark.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { currentSnapshot } from '../iceberg/metadata.js';
import type { Table } from '../iceberg/table.js';
import { collectLateData, type LateDataMemo } from './late-data.js';
import { sourceColumns, sourceShape } from './source.js';
import { tableIdentifier } from './prepare.js';
import type { CellState, LastRun, ServiceInfo, StatusReport, TableStatus } from './status-model.js';

type IcebergCell = Extract<TableStatus['iceberg'], { ok: true }>['value'];

export interface StatusSources {
  config: OffloadConfig;
  clickhouse: ClickHouseSource;
  pool: pg.Pool;
  /** With both, the Iceberg cells come from the catalog and the current snapshot's summary (never a scan). */
  catalog?: Catalog;
  io?: FileIO;
  /** Reuses late-data results for a while (screens refreshing every few seconds); absent: computed every time. */
  lateMemo?: LateDataMemo;
}

const formatCount = (n: number) => n.toLocaleString('en-US');

function fail<T>(err: unknown): CellState<T> {
  return { ok: false, error: err instanceof Error ? err.message : String(err) };
}

/** What is read for a table: its query as a subquery, or its source table. */
function readFrom(t: TableConfig): string {
  return t.query ? `(${t.query})` : qualifiedName(t.sourceTable!);
}

/** The cursor's type as ClickHouse reports it for what is read (DateTime, DateTime64(3), …). */
async function cursorType(ch: ClickHouseSource, t: TableConfig): Promise<string> {
  const cols = t.query ? await ch.describeQuery(t.query) : await ch.columns(t.sourceTable!);
  const c = cols.find((x) => x.name === t.cursor);
  if (!c) throw new OffloadError(`column "${t.cursor}" is not in ${t.query ? `the query of ${t.name}` : t.source}`);
  return c.type;
}

/**
 * `cursor <= watermark` in the (cursor, tie-break) order, as SQL for this table: the offload's own predicate
 * (clickhouse/window.ts), with its values as literals or, given the server's SqlValues, query parameters.
 */
export function upToWatermarkSql(t: TableConfig, cursorColumnType: string, w: Watermark, values: SqlValues = literalValues()): string {
  const src = {
    from: readFrom(t),
    isQuery: t.query !== null,
    cursor: t.cursor,
    cursorType: cursorTypeOf(cursorColumnType, `${t.name}: cursor column "${t.cursor}"`),
    tieBreak: t.tieBreak,
  };
  return upToWatermarkPredicate(src, { cursor: microsFromIso(w.timestamp), tieBreak: w.tieBreak }, values);
}

/**
 * Total rows (from part metadata for plain tables; for query tables the rows the query returns, which is
 * what an offload copies) and rows up to the watermark.
 */
async function clickhouseCounts(
  ch: ClickHouseSource,
  t: TableConfig,
  w: Watermark | null,
): Promise<{ totalRows: number; rowsUpToWatermark: number; pendingRows: number }> {
  const count = async (where?: string, params?: Record<string, string>) => {
    const rows = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${readFrom(t)}${where ? ` WHERE ${where}` : ''}`, { params });
    return Number(rows[0]?.n ?? 0);
  };
  const totalRows = t.query ? await count() : await ch.totalRows(t.sourceTable!);
  if (w === null)
    throw new OffloadError(`${formatCount(totalRows)} rows; how many are offloaded is unknown while PostgreSQL cannot be reached`);
  const isAtEpoch = Date.parse(w.timestamp) <= 0 && w.tieBreak === null;
  const values = await ch.values();
  const rowsUpToWatermark =
    totalRows === 0 || isAtEpoch ? 0 : await count(upToWatermarkSql(t, await cursorType(ch, t), w, values), values.params);
  return { totalRows, rowsUpToWatermark, pendingRows: Math.max(0, totalRows - rowsUpToWatermark) };
}

function lastRunOf(run: runs.OffloadRun | undefined): LastRun | null {
  if (!run) return null;
  return {
    runId: run.runId,
    status: run.status,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.durationMs,
    rows: run.rows,
    error: run.error,
  };
}

/** The report for every configured table. Never rejects because a service is down: cells carry that. */
/** The table's Iceberg cell: its current snapshot's summary (`total-records`), read from the metadata file alone. */
async function icebergCell(catalog: Catalog, t: TableConfig): Promise<{ cell: TableStatus['iceberg']; table?: Table }> {
  try {
    const table = await catalog.loadTable(tableIdentifier(t));
    if (!table) return { cell: { ok: true, value: { exists: false, rows: 0, snapshotId: null, snapshotAt: null } } };
    const snap = currentSnapshot(table.metadata);
    const total = snap?.summary['total-records'];
    if (snap && (total === undefined || !/^\d+$/.test(total)))
      throw new OffloadError(`snapshot ${snap['snapshot-id']} of ${t.target} has no total-records in its summary`);
    return {
      cell: {
        ok: true,
        value: {
          exists: true,
          rows: snap ? Number(total) : 0,
          snapshotId: snap ? String(snap['snapshot-id']) : null,
          snapshotAt: snap ? new Date(snap['timestamp-ms']).toISOString() : null,
        },
      },
      table,
    };
  } catch (err) {
    return { cell: fail(err) };
  }
}

/** The table's late rows and changed windows, once something was offloaded; null when there is nothing to compare. */
async function lateCell(
  sources: StatusSources,
  t: TableConfig,
  table: Table | undefined,
  watermark: TableStatus['watermark'],
  ch: TableStatus['clickhouse'],
  iceberg: TableStatus['iceberg'],
): Promise<TableStatus['late']> {
  const io = sources.io;
  if (!table || !io || !watermark.ok || !ch.ok || !iceberg.ok || iceberg.value.snapshotId === null) return null;
  try {
    const caps = await sources.clickhouse.capabilities();
    const compute = async () =>
      collectLateData({
        clickhouse: sources.clickhouse,
        pool: sources.pool,
        io,
        cfg: t,
        shape: sourceShape(t, await sourceColumns(sources.clickhouse, t), caps),
        table,
        watermark: watermark.value,
        rowsUpToWatermark: ch.value.rowsUpToWatermark,
        icebergRows: iceberg.value.rows,
      });
    const key = `${iceberg.value.snapshotId} ${ch.value.rowsUpToWatermark}`;
    return { ok: true, value: sources.lateMemo ? await sources.lateMemo.get(t.name, key, compute) : await compute() };
  } catch (err) {
    return fail(err);
  }
}

export async function collectStatus(sources: StatusSources): Promise<StatusReport> {
  const { config, clickhouse, pool, catalog, io } = sources;
  const names = config.tables.map((t) => t.name);

  const chService: ServiceInfo = { name: 'ClickHouse', url: clickhouse.url, ok: true };
  try {
    chService.version = await clickhouse.version();
  } catch (err) {
    chService.ok = false;
    chService.error = (err as Error).message;
  }

  const pgService: ServiceInfo = { name: 'PostgreSQL', url: describePool(pool), ok: true };
  let marks: Map<string, watermarks.WatermarkState> | undefined;
  let lastRuns = new Map<string, runs.OffloadRun>();
  let pgTablesError: string | undefined;
  try {
    const v = await pool.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
    pgService.version = v.rows[0]?.v;
    try {
      marks = new Map((await watermarks.list(pool)).map((m) => [m.table, m]));
      lastRuns = await runs.latestByTable(pool, names);
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') pgTablesError = 'no state tables yet (run `offload init`)';
      else throw err;
    }
  } catch (err) {
    pgService.ok = false;
    pgService.error = (asPostgresUnavailable(err, pool) ?? (err as Error)).message;
  }

  // A REST catalog is asked once whether it answers (GET …/namespaces): its own line, its cells follow it.
  let catalogService: ServiceInfo | undefined;
  if (catalog && io && catalog.kind === 'rest') {
    catalogService = { name: 'Iceberg', url: catalog.description, ok: true };
    try {
      await catalog.listNamespaces();
    } catch (err) {
      catalogService.ok = false;
      catalogService.error = (err as Error).message;
    }
  }

  const tables = await Promise.all(
    config.tables.map(async (t): Promise<TableStatus> => {
      const mark = marks?.get(t.name);
      const watermark: TableStatus['watermark'] = !pgService.ok
        ? fail(new Error(`PostgreSQL unreachable`))
        : pgTablesError
          ? fail(new Error(pgTablesError))
          : mark
            ? { ok: true, value: { ...mark.watermark, status: mark.status } }
            : fail(new Error('no watermark yet (run `offload init`)'));

      let ch: TableStatus['clickhouse'];
      if (!chService.ok) ch = fail(new Error('ClickHouse unreachable'));
      else {
        try {
          // No watermark row (PostgreSQL answered): nothing of the table was offloaded yet.
          const known = watermark.ok ? watermark.value : pgService.ok ? EPOCH : null;
          ch = { ok: true, value: await clickhouseCounts(clickhouse, t, known) };
        } catch (err) {
          ch = fail(err);
        }
      }

      let isBusy = false;
      if (pgService.ok) {
        try {
          isBusy = await isTableLocked(pool, t.name);
        } catch {
          /* shown as not busy; the PostgreSQL service line says what is wrong */
        }
      }

      const read =
        catalog && io
          ? catalogService && !catalogService.ok
            ? { cell: fail<IcebergCell>(new Error(`the Iceberg REST catalog is unreachable`)) }
            : catalog.kind === 'jdbc' && !pgService.ok
              ? { cell: fail<IcebergCell>(new Error('PostgreSQL (the catalog) unreachable')) }
              : await icebergCell(catalog, t)
          : { cell: { ok: true as const, value: { exists: false, rows: 0, snapshotId: null, snapshotAt: null } } };
      const iceberg: TableStatus['iceberg'] = read.cell;
      return {
        name: t.name,
        layer: t.layer,
        source: t.source ?? `query of ${t.name}`,
        target: t.target,
        lagSec: t.lagMs / 1000,
        watermark,
        clickhouse: ch,
        iceberg,
        delta: ch.ok && iceberg.ok ? ch.value.rowsUpToWatermark - iceberg.value.rows : null,
        late: await lateCell(sources, t, 'table' in read ? read.table : undefined, watermark, ch, iceberg),
        lastRun: lastRunOf(lastRuns.get(t.name)),
        isBusy,
      };
    }),
  );

  const services = catalogService ? [chService, pgService, catalogService] : [chService, pgService];
  return { generatedAt: new Date().toISOString(), services, tables };
}
