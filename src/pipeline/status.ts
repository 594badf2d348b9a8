// Collects the status report (status-model.ts) that `offload status` prints and the TUI shows: every
// service probed with one cheap request (ClickHouse, PostgreSQL, and S3 for the warehouse), and per
// configured table its current Iceberg snapshot, the ClickHouse rows up to the watermark that snapshot
// carries, and its run state from PostgreSQL. A service that is down or refuses us shows in `services`
// and in the cells that need it; collecting never throws for that.
// A REST catalog is a service of its own (a line in `services`); the JDBC catalog is PostgreSQL.
import type pg from 'pg';
import type { TableConfig, OffloadConfig } from '../config/tables.js';
import type { ClickHouseSource } from '../clickhouse/client.js';
import { literalValues, qualifiedName, type SqlValues } from '../clickhouse/sql.js';
import { cursorTypeOf, upToWatermarkPredicate } from '../clickhouse/window.js';
import { describePool, serverVersion } from '../state/pool.js';
import { isTableLocked } from '../state/locks.js';
import * as heldRows from '../state/held-rows.js';
import * as runs from '../state/runs.js';
import * as watermarks from '../state/watermarks.js';
import { ConfigError, ExitCode, exitCodeOf, OffloadError, ServiceRefused, ServiceUnavailable } from '../core/errors.js';
import { EPOCH, microsFromIso, type Watermark } from '../core/watermark.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { currentSnapshot } from '../iceberg/metadata.js';
import { liveRowsFromSummary } from '../iceberg/reader.js';
import type { Table } from '../iceberg/table.js';
import { heldRowView, withHeld, type HeldRowsView } from './held-rows.js';
import { collectLateData, type LateDataMemo } from './late-data.js';
import { sourceColumns, sourceShape } from './source.js';
import { tableIdentifier } from './prepare.js';
import { snapshotWatermark } from './stage.js';
import type { CellState, LastRun, ServiceInfo, StatusReport, TableStatus } from './status-model.js';

export interface StatusSources {
  config: OffloadConfig;
  clickhouse: ClickHouseSource;
  pool: pg.Pool;
  /** With both, the Iceberg cells come from the catalog and the current snapshot's summary (never a scan). */
  catalog?: Catalog;
  io?: FileIO;
  /** The warehouse (OFFLOAD_WAREHOUSE) and its S3 endpoint as shown; with `io`, S3 is probed like the others. */
  warehouse?: { location: string; endpoint: string } | null;
  /** Reuses late-data results for a while (screens refreshing every few seconds); absent: computed every time. */
  lateMemo?: LateDataMemo;
}

function fail<T>(err: unknown): CellState<T> {
  return { ok: false, error: err instanceof Error ? err.message : String(err), exitCode: exitCodeOf(err) };
}

/** A cell that needs a service that is down: the service line says why; the cell carries its exit code. */
function needs<T>(s: ServiceInfo, what: string = s.name): CellState<T> {
  const why = s.exitCode === ExitCode.config ? 'refused these settings' : 'cannot be reached';
  return { ok: false, error: `${what} ${why}`, exitCode: s.exitCode, service: s.name };
}

/** A probe's answer as the services line shows it. */
async function probe(
  name: ServiceInfo['name'],
  url: string,
  check: () => Promise<string | undefined>,
  location?: string,
): Promise<ServiceInfo> {
  const info: ServiceInfo = { name, url, ...(location ? { location } : {}), ok: true };
  try {
    const version = await check();
    if (version) info.version = version;
  } catch (err) {
    info.ok = false;
    info.error = err instanceof Error ? err.message : String(err);
    info.exitCode = exitCodeOf(err);
    if (err instanceof ServiceUnavailable || err instanceof ServiceRefused) info.reason = err.reason;
  }
  return info;
}

/** What is read for a table: its query as a subquery, or its source table. */
function readFrom(t: TableConfig): string {
  return t.query ? `(${t.query})` : qualifiedName(t.sourceTable!);
}

/** The cursor's type as ClickHouse reports it for what is read (DateTime, DateTime64(3), …). */
async function cursorType(ch: ClickHouseSource, t: TableConfig): Promise<string> {
  const cols = t.query ? await ch.describeQuery(t.query) : await ch.columns(t.sourceTable!);
  const c = cols.find((x) => x.name === t.cursor);
  if (!c) throw new ConfigError(`cursor column "${t.cursor}" is not in ${t.query ? `the query of ${t.name}` : t.source}`);
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
 * what an offload copies) and rows up to the watermark `w`.
 */
async function clickhouseCounts(
  ch: ClickHouseSource,
  t: TableConfig,
  w: Watermark,
): Promise<{ totalRows: number; rowsUpToWatermark: number; pendingRows: number }> {
  const count = async (where?: string, params?: Record<string, string>) => {
    const rows = await ch.query<{ n: string }>(`SELECT count() AS n FROM ${readFrom(t)}${where ? ` WHERE ${where}` : ''}`, { params });
    return Number(rows[0]?.n ?? 0);
  };
  const totalRows = t.query ? await count() : await ch.totalRows(t.sourceTable!);
  // Asked even when nothing is to count: a cursor column the source lacks is a configuration error to show.
  const type = await cursorType(ch, t);
  const isAtEpoch = Date.parse(w.timestamp) <= 0 && w.tieBreak === null;
  const values = await ch.values();
  const rowsUpToWatermark = totalRows === 0 || isAtEpoch ? 0 : await count(upToWatermarkSql(t, type, w, values), values.params);
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

const NO_TABLE = { exists: false, rows: 0, snapshotId: null, snapshotAt: null, watermark: null };

/**
 * The table's Iceberg cell: its current snapshot's live rows from the summary (`total-records −
 * total-position-deletes`) and its `offload.watermark`, read from the metadata file alone.
 */
async function icebergCell(catalog: Catalog, t: TableConfig): Promise<{ cell: TableStatus['iceberg']; table?: Table }> {
  try {
    const table = await catalog.loadTable(tableIdentifier(t));
    if (!table) return { cell: { ok: true, value: NO_TABLE } };
    const snap = currentSnapshot(table.metadata);
    const live = snap ? liveRowsFromSummary(snap.summary) : null;
    if (snap && !live) throw new OffloadError(`snapshot ${snap['snapshot-id']} of ${t.target} has no total-records in its summary`);
    return {
      cell: {
        ok: true,
        value: {
          exists: true,
          rows: live ? Number(live.rows) : 0,
          ...(live && !live.exact ? { rowsApproximate: true } : {}),
          snapshotId: snap ? String(snap['snapshot-id']) : null,
          snapshotAt: snap ? new Date(snap['timestamp-ms']).toISOString() : null,
          watermark: snapshotWatermark(table.metadata),
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
  held: readonly HeldRowsView[],
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
        // Held rows fail any read of their values (the candles' fingerprints): left out, as the runs leave them out.
        shape: withHeld(
          sourceShape(t, await sourceColumns(sources.clickhouse, t), caps),
          held.map((h) => microsFromIso(h.at)),
        ),
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

/** The state store's view: every watermark row and each table's last run, or why they cannot be read. */
async function readState(
  pool: pg.Pool,
  names: string[],
  pgService: ServiceInfo,
): Promise<{
  marks: Map<string, watermarks.WatermarkState>;
  lastRuns: Map<string, runs.OffloadRun>;
  held: Map<string, HeldRowsView[]>;
  failure?: CellState<never>;
}> {
  const empty = { marks: new Map(), lastRuns: new Map(), held: new Map() };
  if (!pgService.ok) return { ...empty, failure: needs(pgService) };
  try {
    const marks = new Map((await watermarks.list(pool)).map((m) => [m.table, m]));
    const held = new Map<string, HeldRowsView[]>();
    for (const r of await heldRows.ofTables(pool, names)) {
      const list = held.get(r.table) ?? [];
      list.push(heldRowView(r));
      held.set(r.table, list);
    }
    return { marks, lastRuns: await runs.latestByTable(pool, names), held };
  } catch (err) {
    return { ...empty, failure: fail(err) }; // e.g. `offload init` never ran here (state/pool.ts classifies it)
  }
}

/** The report for every configured table. Never rejects because a service is down: cells carry that. */
export async function collectStatus(sources: StatusSources): Promise<StatusReport> {
  const { config, clickhouse, pool, catalog, io, warehouse } = sources;
  const names = config.tables.map((t) => t.name);
  const isS3 = io !== undefined && warehouse != null && /^s3a?:\/\//.test(warehouse.location);
  const [chService, pgService, s3Service] = await Promise.all([
    probe('ClickHouse', clickhouse.url, () => clickhouse.probe()),
    probe('PostgreSQL', describePool(pool), () => serverVersion(pool)),
    isS3
      ? probe(
          'S3',
          warehouse.endpoint,
          async () => {
            await io.probe(warehouse.location);
            return undefined; // S3 has no version to show
          },
          warehouse.location,
        )
      : undefined,
  ]);
  const state = await readState(pool, names, pgService);

  // A REST catalog is asked once whether it answers (GET …/namespaces): its own line, its cells follow it.
  const catalogService =
    catalog && io && catalog.kind === 'rest'
      ? await probe('Iceberg', catalog.description, async () => {
          await catalog.listNamespaces();
          return undefined; // no version to show
        })
      : undefined;

  const tables = await Promise.all(
    config.tables.map(async (t): Promise<TableStatus> => {
      const mark = state.marks.get(t.name);
      // The snapshot first, then the ClickHouse count up to the watermark it carries: a commit landing
      // between the two reads changes neither (docs/architecture.md, step 8: data and watermark move together).
      let read: { cell: TableStatus['iceberg']; table?: Table };
      if (!catalog || !io) read = { cell: { ok: true, value: NO_TABLE } };
      else if (catalogService && !catalogService.ok) read = { cell: needs(catalogService) };
      else if (catalog.kind === 'jdbc' && state.failure)
        read = { cell: state.failure }; // the JDBC catalog lives in the state database
      else if (s3Service && !s3Service.ok) read = { cell: needs(s3Service) };
      else read = await icebergCell(catalog, t);
      const iceberg = read.cell;

      // No watermark row while PostgreSQL answered: the table was never offloaded (its first run creates the row).
      const countedTo: Watermark | null = (iceberg.ok ? iceberg.value.watermark : null) ?? mark?.watermark ?? (pgService.ok ? EPOCH : null);
      const watermark: TableStatus['watermark'] =
        state.failure ?? (countedTo ? { ok: true, value: { ...countedTo, status: mark?.status ?? 'new' } } : needs(pgService));

      let ch: TableStatus['clickhouse'];
      if (!chService.ok) ch = needs(chService);
      else if (countedTo === null) ch = needs(pgService, 'rows up to the watermark unknown: PostgreSQL');
      else {
        try {
          ch = { ok: true, value: await clickhouseCounts(clickhouse, t, countedTo) };
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
        late: await lateCell(sources, t, read.table, watermark, ch, iceberg, state.held.get(t.name) ?? []),
        held: state.held.get(t.name) ?? [],
        cursor: t.cursor,
        lastRun: lastRunOf(state.lastRuns.get(t.name)),
        isBusy,
      };
    }),
  );

  const services = [chService, pgService, ...(s3Service ? [s3Service] : []), ...(catalogService ? [catalogService] : [])];
  return { generatedAt: new Date().toISOString(), services, tables };
}
