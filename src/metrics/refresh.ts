// The per-tick part of the metrics: the status report (watermarks, ClickHouse row counts, busy tables,
// last runs) and each table's files, read once and handed to the collector. Scrapes in between read the
// values kept here; nothing expensive ever runs per scrape.
import { LateDataMemo } from '../pipeline/late-data.js';
import { collectStatus, type StatusSources } from '../pipeline/status.js';
import { TableFilesReader } from '../pipeline/table-files.js';
import type { MetricsCollector } from './collect.js';

export interface RefreshSummary {
  /** Services that did not answer, with what they said. */
  servicesDown: Array<{ service: string; error: string }>;
  /** Tables whose files could not be read. */
  filesUnknown: Array<{ table: string; error: string }>;
  durationMs: number;
}

export class MetricsRefresher {
  private readonly files: TableFilesReader;
  /** Late data (candle fingerprints) checked once a minute, not at every scrape refresh. */
  private readonly lateMemo: LateDataMemo;

  constructor(
    private readonly sources: Required<Omit<StatusSources, 'lateMemo'>>,
    private readonly collector: MetricsCollector,
    private readonly now: () => number = Date.now,
  ) {
    this.lateMemo = new LateDataMemo();
    this.files = new TableFilesReader({ catalog: sources.catalog, io: sources.io });
  }

  /** Reads status and files and updates the metrics. Never rejects: what failed is in the summary. */
  async refresh(): Promise<RefreshSummary> {
    const startedAt = this.now();
    let servicesDown: RefreshSummary['servicesDown'];
    try {
      const report = await collectStatus({ ...this.sources, lateMemo: this.lateMemo });
      this.collector.onStatus(report, startedAt);
      servicesDown = report.services.filter((s) => !s.ok).map((s) => ({ service: s.name, error: s.error ?? 'unreachable' }));
    } catch (err) {
      // Collecting reports a service that is down in its cells; anything else is unexpected, and reported too.
      servicesDown = [{ service: 'status', error: err instanceof Error ? err.message : String(err) }];
    }
    const filesUnknown: RefreshSummary['filesUnknown'] = [];
    for (const cfg of this.sources.config.tables) {
      try {
        this.collector.onFiles(await this.files.read(cfg, { now: startedAt }));
      } catch (err) {
        this.collector.onFilesUnknown(cfg.name);
        filesUnknown.push({ table: cfg.name, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return { servicesDown, filesUnknown, durationMs: this.now() - startedAt };
  }
}
