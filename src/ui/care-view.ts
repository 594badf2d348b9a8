// What the TUI shows of a verification or a compaction (`v`, `c`): each partition's result in words as it
// arrives, and the table's outcome in one line — from the results verify/ and pipeline/ return.
import type { PartitionCompactionResult, TableCompaction } from '../pipeline/compact.js';
import type { PartitionComparison, TablePartitionCheck } from '../verify/partitions.js';
import type { CareOutcome, CarePartition } from './backend.js';
import { progressBar } from './components/ProgressBar.js';
import { firstLine, formatCount, formatDuration } from './format.js';
import type { CareView } from './store.js';

const count = (n: number | bigint | string): string => formatCount(Number(n), 15);
const label = (path: string): string => path || '(unpartitioned)';

export function verifiedPartition(p: PartitionComparison): CarePartition {
  const ch = p.clickhouse ? count(p.clickhouse.rows) : '0';
  const ice = p.iceberg ? count(p.iceberg.rows) : '0';
  const detail =
    p.status === 'unverifiable'
      ? (p.reason ?? 'equality deletes may apply')
      : p.status === 'match'
        ? `${ch} rows, checksums equal`
        : ch === ice
          ? `${ch} rows both sides, checksums differ`
          : `ClickHouse ${ch} rows, Iceberg ${ice}`;
  return { partition: label(p.path), status: p.status, detail, isProblem: p.status === 'differ' };
}

export function verifyOutcome(r: TablePartitionCheck): CareOutcome {
  const partitions = (r.checksums?.partitions ?? []).map(verifiedPartition);
  const differ = partitions.filter((p) => p.status === 'differ').length;
  const summary =
    r.status === 'no-table'
      ? `${r.target} does not exist, but ClickHouse has rows up to the watermark`
      : !r.checksums
        ? 'no Iceberg table and no ClickHouse row up to the watermark'
        : differ > 0
          ? `${differ} of ${partitions.length} partitions DIFFER (offload repair --table ${r.table} --partition P)`
          : r.status === 'unverifiable'
            ? `${partitions.length} partitions; some cannot be verified (equality deletes)`
            : `all ${partitions.length} partitions match (${count(r.checksums.clickhouseRows)} rows)`;
  return { status: r.status, summary, isProblem: r.status === 'differ' || r.status === 'no-table', partitions };
}

export function compactedPartition(p: PartitionCompactionResult): CarePartition {
  const files = `${p.filesBefore} → ${p.filesAfter} files, ${count(p.rows)} rows`;
  return {
    partition: label(p.path),
    status: p.status,
    detail: p.status === 'compacted' ? files : (p.reason ?? files),
    isProblem: p.status === 'failed',
  };
}

export function compactOutcome(r: TableCompaction): CareOutcome {
  const partitions = r.partitions.map(compactedPartition);
  const done = r.partitions.filter((p) => p.status === 'compacted');
  const failed = r.partitions.filter((p) => p.status === 'failed').length;
  const before = done.reduce((s, p) => s + p.filesBefore, 0);
  const after = done.reduce((s, p) => s + p.filesAfter, 0);
  const summary =
    r.status === 'busy'
      ? 'busy: another worker holds the table; nothing done'
      : r.status === 'no-table'
        ? 'no Iceberg table yet; nothing to compact'
        : done.length === 0 && failed === 0
          ? 'nothing to compact'
          : `${done.length} partitions compacted (${before} → ${after} files)${failed > 0 ? `, ${failed} FAILED` : ''}${r.status === 'stopped' ? ', then stopped' : ''}`;
  return { status: r.status, summary, isProblem: failed > 0, partitions };
}

/** The care panel above the log pane: progress while it runs, then the outcome; the latest partitions under it. */
export function carePanel(c: CareView, now: number, shownPartitions = 4): { title: string; lines: string[]; tone: 'accent' | 'warn' } {
  const title = `${c.kind === 'verify' ? 'Verify' : 'Compact'} ${c.table}`;
  const elapsed = formatDuration((c.finishedAt ?? now) - c.startedAt);
  const ratio = c.total > 0 ? c.done / c.total : null;
  const head =
    c.status === 'running'
      ? `${progressBar(ratio, 20, Math.floor((now - c.startedAt) / 250))} ${c.total > 0 ? `${c.done}/${c.total} partitions` : 'planning'} · ${elapsed}`
      : c.status === 'failed'
        ? `failed: ${firstLine(c.error ?? 'no message')}`
        : `${c.outcome?.summary ?? 'done'} · ${elapsed}`;
  const latest = c.partitions.slice(-shownPartitions).map((p) => `${p.isProblem ? '✗' : '✓'} ${p.partition}  ${p.status} — ${p.detail}`);
  const hint =
    c.status === 'running'
      ? c.kind === 'compact'
        ? 'x: stop after the partition under way · results also in the log'
        : 'results also in the log'
      : 'esc: close (every partition is in the log)';
  const isProblem = c.status === 'failed' || (c.outcome?.isProblem ?? false);
  return { title, lines: [head, ...latest, hint], tone: isProblem ? 'warn' : 'accent' };
}
