// The TUI's backend on the real tool: status from the pipeline's status collector, offloads through
// the pipeline, details from the pipeline's readers, connections from the pipeline's openServices. It
// writes no SQL and reads no file itself, and reaches no database, catalog or storage but through these.
import { secretsOf, type Env } from '../config/env.js';
import { scrubSecrets } from '../config/redact.js';
import { findTable, loadTablesConfig, type OffloadConfig, type TableConfig } from '../config/tables.js';
import { compactTable } from '../pipeline/compact.js';
import { OffloadEvents, type OffloadEvent } from '../pipeline/events.js';
import { listRuns, readOverview, type OffloadRun, type TableOverview } from '../pipeline/history.js';
import { runLayers } from '../pipeline/layers.js';
import { offloadTable } from '../pipeline/offload.js';
import { openServices, type Services } from '../pipeline/services.js';
import { LateDataMemo } from '../pipeline/late-data.js';
import { collectStatus, type StatusSources } from '../pipeline/status.js';
import { OffloadStopped } from '../pipeline/stop.js';
import { TableFilesReader } from '../pipeline/table-files.js';
import type { CellState, StatusReport } from '../pipeline/status-model.js';
import { verifyPartitions } from '../verify/partitions.js';
import type {
  CareKind,
  CareOutcome,
  CareProgress,
  ConfigEntry,
  DrillChoice,
  DrillFault,
  OffloadBackend,
  PartitionRow,
  RunOptions,
  RunRecord,
  RunScope,
  SnapshotRow,
  TableDetails,
} from './backend.js';
import { drillChoices, isCrashFault, isTransientFault, RANDOM_KILLS_IN_TUI } from '../drill/catalogue.js';
import type { DrillEvent } from '../drill/events.js';
import { runFaultDrill } from '../drill/fault-drill.js';
import { runRandomDrill } from '../drill/random-drill.js';
import { writeReport, type DrillReport } from '../drill/report.js';
import { compactedPartition, compactOutcome, verifiedPartition, verifyOutcome } from './care-view.js';

export interface PipelineBackendOptions {
  config?: string;
  env: Env;
}

/** The table's configuration as the details screen lists it. */
export function configEntries(t: TableConfig, configFile: string): ConfigEntry[] {
  const entries: Array<[string, string | null]> = [
    ['name', t.name],
    ['layer', t.layer],
    ['source', t.source],
    ['query', t.query],
    ['cursor', t.cursor],
    ['tie-break', t.tieBreak ?? '(none)'],
    ['lag', t.lag],
    ['closed window', t.closedWindow],
    ['target', t.target],
    ['partition by', t.partitionBy.length > 0 ? t.partitionBy.join(', ') : '(unpartitioned)'],
    ['target file size', t.targetFileSize],
    ['comment', t.comment],
    ['config file', `${configFile} (tables[${t.index}])`],
  ];
  return entries.flatMap(([key, value]) => (value === null ? [] : [{ key, value: value.replace(/\s+/g, ' ') }]));
}

/** How many runs of a table the details screen lists. */
const RUNS_SHOWN = 100;

async function settle<T>(load: () => Promise<T>): Promise<CellState<T>> {
  try {
    return { ok: true, value: await load() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

function count(summary: Record<string, string>, key: string): number | null {
  const v = summary[key];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
}

/** Snapshots newest first, as the details screen lists them. */
export function snapshotRows(overview: TableOverview): SnapshotRow[] {
  return overview.snapshots
    .slice()
    .reverse()
    .map((s) => ({
      snapshotId: s.snapshotId.toString(),
      committedAt: new Date(s.timestampMs).toISOString(),
      operation: s.operation,
      addedRecords: count(s.summary, 'added-records') ?? 0,
      addedFiles: count(s.summary, 'added-data-files') ?? 0,
      totalRecords: count(s.summary, 'total-records'),
      watermark: s.summary['offload.watermark'] ?? null,
      runId: s.summary['offload.run-id'] ?? null,
    }));
}

export function partitionRows(overview: TableOverview): PartitionRow[] {
  return overview.partitions.map((p) => ({
    partition: p.path || '(unpartitioned)',
    records: Number(p.recordCount),
    files: p.fileCount,
    smallFiles: p.smallFileCount,
    deleteFiles: p.deleteFileCount,
  }));
}

export function runRecord(r: OffloadRun): RunRecord {
  return {
    runId: r.runId,
    status: r.status,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    durationMs: r.durationMs,
    rows: r.rows,
    error: r.error,
    windowStart: r.windowStart,
    windowEnd: r.windowEnd,
    files: r.files,
    bytes: r.bytes,
    snapshotId: r.snapshotId,
  };
}

export class PipelineBackend implements OffloadBackend {
  readonly config: OffloadConfig;
  /** Connections for the screen: small status queries on a few connections, short timeouts. */
  private readonly services: Services;
  private readonly status: StatusSources;
  private readonly secrets: string[];
  private readonly env: Env;
  /** Connections for offloads, opened on the first one: long extractions, a lock held per table. */
  private offloadServices?: Services;
  /** Each table's files and orphans for the details screen (manifests read again only when the table changed). */
  private files?: TableFilesReader;

  constructor(options: PipelineBackendOptions) {
    const env = options.env;
    this.env = env;
    this.config = loadTablesConfig({ config: options.config, env });
    this.services = openServices(env, 'tui');
    // Opened now, so a connection setting that is wrong or missing is reported before the screen opens.
    this.status = { ...this.services.statusSources(this.config), lateMemo: new LateDataMemo() };
    this.secrets = secretsOf(env);
  }

  async loadStatus(): Promise<StatusReport> {
    return collectStatus(this.status);
  }

  async loadDetails(table: string): Promise<TableDetails> {
    const t = findTable(this.config, table);
    const [history, overview] = await Promise.all([
      settle(async () => (await listRuns(this.services, { table, limit: RUNS_SHOWN })).map(runRecord)),
      settle(async () => readOverview(this.services, t)),
    ]);
    this.files ??= new TableFilesReader({ catalog: this.services.catalog, io: this.services.io });
    const reader = this.files;
    const files = await settle(async () => reader.read(t));
    const scrub = <T>(c: CellState<T>): CellState<T> => (c.ok ? c : { ok: false, error: scrubSecrets(c.error, this.secrets) });
    const fromTable = <T>(pick: (o: TableOverview) => T[]): CellState<T[]> =>
      scrub(overview.ok ? { ok: true, value: overview.value ? pick(overview.value) : [] } : overview);
    return {
      table,
      config: configEntries(t, this.config.file),
      snapshots: fromTable(snapshotRows),
      runs: scrub(history),
      partitions: fromTable(partitionRows),
      files: scrub(files),
    };
  }

  /**
   * Offloads in this process, through the pipeline (one table, or every table in layers). A stop
   * (`signal`) is the pipeline's own: checked before each batch and before the commit transaction, so
   * a commit under way completes and nothing is left half-done.
   */
  async run(scope: RunScope, onEvent: (event: OffloadEvent) => void, signal: AbortSignal, options: RunOptions = {}): Promise<void> {
    const events = new OffloadEvents();
    events.on((e) => onEvent(this.scrub(e)));
    this.offloadServices ??= openServices(this.env, 'tui offloads');
    const deps = this.offloadServices.offloadDeps();
    if (scope.kind === 'all') {
      await runLayers(this.config.tables, deps, { events, signal, tableSignal: options.tableSignal });
      return;
    }
    try {
      await offloadTable(findTable(this.config, scope.table), deps, { events, signal });
    } catch (err) {
      // Stopped on request: already reported as an event; not a failure.
      if (!(err instanceof OffloadStopped)) throw err;
    }
  }

  /**
   * `v` and `c`: offload verify / offload compact of one table, in this process, each partition reported as it
   * is done. Compaction follows the table's policy (minFiles, smallFileRatio) with no age limit, like the command.
   */
  async care(kind: CareKind, table: string, onProgress: (p: CareProgress) => void, signal: AbortSignal): Promise<CareOutcome> {
    const t = findTable(this.config, table);
    this.offloadServices ??= openServices(this.env, 'tui offloads');
    const services = this.offloadServices;
    const scrub = (o: CareOutcome): CareOutcome => ({
      ...o,
      summary: scrubSecrets(o.summary, this.secrets),
      partitions: o.partitions.map((p) => ({ ...p, detail: scrubSecrets(p.detail, this.secrets) })),
    });
    if (kind === 'verify') {
      const r = await verifyPartitions(services, t, {
        onPartition: (p, done, total) => {
          if (!signal.aborted) onProgress({ done, total, partition: verifiedPartition(p) });
        },
      });
      return scrub(verifyOutcome(r));
    }
    const r = await compactTable(t, services.offloadDeps(), {
      signal,
      onProgress: (p) => {
        if (p.kind === 'planned') onProgress({ done: 0, total: p.partitions.length });
        else if (p.kind === 'partition-finished')
          onProgress({ done: p.index + 1, total: p.total, partition: compactedPartition(p.result) });
      },
    });
    return scrub(compactOutcome(r));
  }

  drillMenu(): { tables: string[]; faults: DrillFault[] } {
    return { tables: this.config.tables.map((t) => t.name), faults: drillChoices(this.services.catalogSettings.kind) };
  }

  /** A drill from the drill screen (src/drill/): on a sandbox copy of the table, never the table itself. */
  async drill(choice: DrillChoice, onEvent: (event: DrillEvent) => void, signal: AbortSignal): Promise<DrillReport> {
    const options = { config: this.config, env: this.env, onEvent, signal };
    const { table, fault } = choice;
    if (fault.kind === 'random') {
      return runRandomDrill(
        { kills: RANDOM_KILLS_IN_TUI, seed: String(Date.now()), tables: [table], tradesPerSec: 50, isTradesOptional: true, lagMs: 5000 },
        options,
      );
    }
    return runFaultDrill(
      {
        tables: [table],
        crash: fault.kind === 'crash' && isCrashFault(fault.id) ? [fault.id] : [],
        transient: fault.kind === 'transient' && isTransientFault(fault.id) ? [fault.id] : [],
        concurrent: fault.kind === 'concurrent' ? 'mid-extract' : null,
      },
      options,
    );
  }

  /** Saves under ./drill-reports/ (JSON and Markdown); returns the Markdown file. */
  async saveDrillReport(report: DrillReport): Promise<string> {
    return (await writeReport(report, 'drill-reports')).markdown;
  }

  /** Server messages can echo a connection string: nothing the screen shows carries a secret. */
  scrub(event: OffloadEvent): OffloadEvent {
    if (event.kind === 'failed') return { ...event, error: scrubSecrets(event.error, this.secrets) };
    if (event.kind === 'log') return { ...event, message: scrubSecrets(event.message, this.secrets) };
    return event;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.services.close(), this.offloadServices?.close()]);
  }
}

export function createPipelineBackend(options: PipelineBackendOptions): OffloadBackend {
  return new PipelineBackend(options);
}
