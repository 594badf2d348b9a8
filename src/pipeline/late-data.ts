// Late data (docs/architecture.md "The exactly-once protocol": a run takes (W, H] once; a row that arrives
// at or below the watermark after it moved is never taken by a later run). Status makes it visible, cheaply:
//   - late rows: ClickHouse's rows up to the watermark minus Iceberg's (the snapshot summary's total), and,
//     only when they differ, the partitions where they differ (ClickHouse counts per partition, grouped
//     by hour and partition columns, against the manifests' record counts: metadata, never a data scan);
//   - for candle (gold) tables, closed windows whose values changed after they were offloaded: each run
//     records its windows' rows and a fingerprint of their values (offload_windows) just before it reads
//     them, and status computes both again for the windows of the last LOOKBACK below the watermark.
// Both point to `offload repair --table T --partition P`, which re-reads a partition up to the watermark.
import type pg from 'pg';
import type { TableConfig } from '../config/tables.js';
import type { ClickHouseSource } from '../clickhouse/client.js';
import { quoteIdentifier, type SqlValues } from '../clickhouse/sql.js';
import {
  cursorCondition,
  cursorMicrosSql,
  readWindowFingerprints,
  upToWatermarkPredicate,
  windowSettings,
  type Lower,
} from '../clickhouse/window.js';
import { isoFromMicros, microsFromIso, type Micros, type Watermark } from '../core/watermark.js';
import { currentSchema, defaultSpec } from '../iceberg/metadata.js';
import { partitionKey, readPartitionStats } from '../iceberg/reader.js';
import { partitionOf, partitionPath, type PartitionValue } from '../iceberg/partition.js';
import type { FileIO } from '../iceberg/io.js';
import type { Table } from '../iceberg/table.js';
import type { StateStore } from '../state/store.js';
import * as windows from '../state/windows.js';
import type { RowSource, SourceShape } from './source.js';

/** How far below the watermark candle windows are fingerprinted and checked: late trades come within days. */
export const LATE_LOOKBACK_MICROS: Micros = 7n * 86_400_000_000n;

const HOUR: Micros = 3_600_000_000n;

/** Offload side: what a candle table's batch reads of its windows (the last LOOKBACK of it), recorded before it reads them. */
export async function recordBatchWindows(
  cfg: TableConfig,
  source: RowSource,
  state: StateStore,
  shape: SourceShape,
  batch: { runId: string; lower: Lower | null; upper: Micros },
): Promise<void> {
  if (cfg.closedWindowMs === null) return;
  const from = batch.upper - LATE_LOOKBACK_MICROS;
  const lower = batch.lower !== null && batch.lower.cursor >= from ? batch.lower : { cursor: from, tieBreak: null };
  await state.recordWindows(cfg.name, batch.runId, await source.windowFingerprints(shape, lower, batch.upper));
}

export interface LatePartition {
  /** As `offload repair --partition` takes it, e.g. `exchange_timestamp_day=2026-02-11`. */
  path: string;
  clickhouseRows: number;
  icebergRows: number;
}

export interface LateData {
  /** Rows at or below the watermark in ClickHouse that Iceberg does not hold (negative: Iceberg holds more). */
  rows: number;
  /** Where ClickHouse and Iceberg differ, when `rows` is not 0 and the partitions can be computed. */
  partitions: LatePartition[];
  /** Candle tables: closed windows (ISO) of the last LOOKBACK whose values changed after they were offloaded. */
  changedWindows: string[];
  /** The partitions holding the changed windows. */
  changedPartitions: string[];
}

export interface LateDataInput {
  clickhouse: ClickHouseSource;
  pool: pg.Pool;
  io: FileIO;
  cfg: TableConfig;
  shape: SourceShape;
  table: Table;
  watermark: Watermark;
  rowsUpToWatermark: number;
  icebergRows: number;
}

/** Late rows and changed windows of one offloaded table (see the top of this file). */
export async function collectLateData(input: LateDataInput): Promise<LateData> {
  const { cfg, shape, watermark } = input;
  const values = await input.clickhouse.values();
  const mark: Lower = { cursor: microsFromIso(watermark.timestamp), tieBreak: watermark.tieBreak };
  const rows = input.rowsUpToWatermark - input.icebergRows;
  const partitions = rows === 0 ? [] : await differingPartitions(input, upToWatermarkPredicate(shape.window, mark, values), values);
  if (cfg.closedWindowMs === null) return { rows, partitions, changedWindows: [], changedPartitions: [] };

  const from = mark.cursor - LATE_LOOKBACK_MICROS;
  const recorded = await windows.committedIn(input.pool, cfg.name, from + 1n, mark.cursor);
  if (recorded.length === 0) return { rows, partitions, changedWindows: [], changedPartitions: [] };
  const now = await readWindowFingerprints(
    input.clickhouse,
    shape.window,
    shape.columns.map((c) => c.name),
    { cursor: from, tieBreak: null },
    mark.cursor,
  );
  const current = new Map(now.map((w) => [w.cursor, w]));
  const changed = recorded
    .filter((w) => {
      const c = current.get(w.cursor);
      return !c || c.rows !== w.rows || c.fingerprint !== w.fingerprint;
    })
    .map((w) => w.cursor);
  if (changed.length === 0) return { rows, partitions, changedWindows: [], changedPartitions: [] };
  const atChanged = `(${changed.map((c) => cursorCondition(shape.window, '=', c, values)).join(' OR ')})`;
  const byPath = await partitionCounts(input, atChanged, values);
  return {
    rows,
    partitions,
    changedWindows: changed.map((c) => isoFromMicros(c)),
    changedPartitions: byPath ? [...byPath.keys()].sort() : [],
  };
}

/** Partitions whose ClickHouse rows under `where` differ from their Iceberg record counts. */
async function differingPartitions(input: LateDataInput, where: string, values: SqlValues): Promise<LatePartition[]> {
  const clickhouse = await partitionCounts(input, where, values);
  if (!clickhouse) return [];
  const iceberg = new Map<string, number>();
  for (const p of await readPartitionStats(input.io, input.table.metadata))
    iceberg.set(p.path, (iceberg.get(p.path) ?? 0) + Number(p.recordCount));
  const paths = new Set([...clickhouse.keys(), ...iceberg.keys()]);
  return [...paths]
    .map((path) => ({ path, clickhouseRows: clickhouse.get(path) ?? 0, icebergRows: iceberg.get(path) ?? 0 }))
    .filter((p) => p.clickhouseRows !== p.icebergRows)
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * ClickHouse's rows under `where` per Iceberg partition path of the table's current spec. Rows are grouped
 * by the hour of the cursor and the partition's other columns, which must be text (identity): any other
 * partition source → null (the table-level count still shows).
 */
async function partitionCounts(input: LateDataInput, where: string, values: SqlValues): Promise<Map<string, number> | null> {
  const { shape, table } = input;
  const schema = currentSchema(table.metadata);
  const spec = defaultSpec(table.metadata);
  const selects: string[] = [];
  const columns: Array<{ name: string; isCursor: boolean }> = [];
  for (const f of spec.fields) {
    const source = schema.fields.find((x) => x.id === f['source-id']);
    if (!source) return null;
    if (columns.some((c) => c.name === source.name)) continue;
    const isCursor = source.name === shape.window.cursor;
    if (!isCursor && (f.transform !== 'identity' || source.type !== 'string')) return null;
    columns.push({ name: source.name, isCursor });
    selects.push(
      isCursor
        ? `toString(intDiv(${cursorMicrosSql(shape.window)}, ${HOUR}) * ${HOUR}) AS c${columns.length - 1}`
        : `toString(${quoteIdentifier(source.name)}) AS c${columns.length - 1}`,
    );
  }
  const groups = selects.map((_, i) => `c${i}`);
  const rows = await input.clickhouse.query<Record<string, string>>(
    `SELECT ${[...selects, 'toString(count()) AS n'].join(', ')} FROM ${shape.window.from} WHERE ${where}${groups.length ? ` GROUP BY ${groups.join(', ')}` : ''}`,
    { settings: windowSettings(shape.window), params: values.params },
  );
  const out = new Map<string, number>();
  const seen = new Map<string, string>();
  for (const r of rows) {
    const row: Record<string, PartitionValue> = {};
    columns.forEach((c, i) => {
      row[c.name] = c.isCursor ? BigInt(r[`c${i}`]) : r[`c${i}`];
    });
    const partition = partitionOf(spec, schema, row);
    const key = partitionKey(spec['spec-id'], partition);
    const path = seen.get(key) ?? partitionPath(spec, schema, partition);
    seen.set(key, path);
    out.set(path, (out.get(path) ?? 0) + Number(r.n));
  }
  return out;
}

/** The repair of one partition, as the operator types it. */
export function repairCommand(table: string, partition: string): string {
  return `offload repair --table ${table} --partition ${partition}`;
}

const MAX_REPAIRS_SHOWN = 5;

/** What an operator reads about a table's late data (status, TUI): one line per finding, then the repairs. */
export function lateDataLines(table: string, late: LateData, heldRows = 0): string[] {
  const lines: string[] = [];
  const count = (n: number, one: string, many: string) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
  const repairs = new Set<string>();
  const lateRows = late.rows - heldRows;
  if (lateRows > 0) {
    const where = late.partitions.map((p) => `${p.path}: ${(p.clickhouseRows - p.icebergRows).toLocaleString('en-US')}`).join(', ');
    lines.push(
      `${table}: ${count(lateRows, 'row', 'rows')} arrived at or below the watermark after it was committed${where ? ` (${where})` : ''}`,
    );
  } else if (late.rows < 0 && heldRows === 0) {
    lines.push(
      `${table}: Iceberg holds ${count(-late.rows, 'row', 'rows')} more than ClickHouse up to the watermark (deleted at the source?)`,
    );
  }
  // A repair makes the partition what ClickHouse holds up to the watermark: right for rows added or deleted.
  // (Not for held rows alone: their repair waits until ClickHouse reads them, and their lines say so.)
  if (lateRows !== 0 || heldRows === 0) for (const p of late.partitions) repairs.add(p.path);
  if (late.changedWindows.length > 0) {
    const shown = late.changedWindows.slice(0, 3).map((w) => w.replace('T', ' ').replace(/\.0+Z$|Z$/, ''));
    const more = late.changedWindows.length > shown.length ? `, … ${late.changedWindows.length - shown.length} more` : '';
    lines.push(
      `${table}: ${count(late.changedWindows.length, 'closed window', 'closed windows')} changed after it was offloaded (${shown.join(', ')}${more})`,
    );
    for (const p of late.changedPartitions) repairs.add(p);
  }
  const list = [...repairs];
  for (const p of list.slice(0, MAX_REPAIRS_SHOWN)) lines.push(`  repair: ${repairCommand(table, p)}`);
  if (list.length > MAX_REPAIRS_SHOWN) lines.push(`  … and ${list.length - MAX_REPAIRS_SHOWN} more partitions`);
  if (lines.length > 0 && list.length === 0) lines.push(`  repair: ${repairCommand(table, 'P')} (P: the partition holding them)`);
  return lines;
}

/**
 * The last late-data result per table, reused for `maxAgeMs` while the table's watermark and snapshot are
 * the same: screens that refresh every few seconds (the TUI, the metrics) check candles once a minute.
 */
export class LateDataMemo {
  private readonly last = new Map<string, { key: string; at: number; value: LateData }>();
  constructor(private readonly maxAgeMs = 60_000) {}

  async get(table: string, key: string, compute: () => Promise<LateData>): Promise<LateData> {
    const hit = this.last.get(table);
    if (hit && hit.key === key && Date.now() - hit.at < this.maxAgeMs) return hit.value;
    const value = await compute();
    this.last.set(table, { key, at: Date.now(), value });
    return value;
  }
}
