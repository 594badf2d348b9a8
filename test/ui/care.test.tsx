// Test files are outside tsconfig.json, so the JSX transform is named here.
/** @jsxRuntime automatic @jsxImportSource react */
// Verify (`v`) and compact (`c`) from the TUI: the key starts the backend's care of the selected table, each
// partition's result shows as it arrives (panel and log), then the outcome; one at a time; `x` stops a
// compaction; `esc` closes the finished panel. The words come from the pipeline's and verify's results.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PartitionCompactionResult, TableCompaction } from '../../src/pipeline/compact.js';
import type { CarePartition } from '../../src/ui/backend.js';
import { compactOutcome, verifiedPartition, verifyOutcome } from '../../src/ui/care-view.js';
import type { PartitionComparison, TablePartitionCheck } from '../../src/verify/partitions.js';
import { closeApps, openApp } from '../support/ui/app.js';
import { MemoryBackend } from '../support/ui/memory-backend.js';
import { KEY } from '../support/ui/terminal.js';

afterEach(closeApps);

const part = (partition: string, status: string, isProblem = false): CarePartition => ({
  partition,
  status,
  detail: isProblem ? '1,200 rows both sides, checksums differ' : '1,200 rows, checksums equal',
  isProblem,
});

describe('verify and compact keys', () => {
  it('v verifies the selected table: progress and each partition live, then the outcome; esc closes the panel', async () => {
    const app = await openApp(new MemoryBackend(), { columns: 120, rows: 34 });
    await app.press('v');
    const care = app.backend.cares[0];
    assert.equal(care.kind, 'verify');
    assert.equal(care.table, 'bronze_trades_binance');
    await app.until((f) => f.includes('Verify bronze_trades_binance') && f.includes('planning'));
    care.progress({ done: 1, total: 3, partition: part('exchange_timestamp_day=2026-02-09', 'match') });
    await app.until((f) => f.includes('1/3 partitions') && f.includes('✓ exchange_timestamp_day=2026-02-09  match — 1,200 rows'));
    care.progress({ done: 2, total: 3, partition: part('exchange_timestamp_day=2026-02-10', 'differ', true) });
    await app.until((f) => f.includes('2/3 partitions') && f.includes('✗ exchange_timestamp_day=2026-02-10  differ'));
    const logged = () => app.session.store.getState().log.map((l) => l.message);
    assert.ok(
      logged().includes('verify exchange_timestamp_day=2026-02-10: differ — 1,200 rows both sides, checksums differ'),
      'in the log',
    );
    // A second one waits for the first.
    await app.press('c');
    assert.equal(app.backend.cares.length, 1);
    await app.until((f) => f.includes('wait for the verify of bronze_trades_binance to finish first'));
    care.progress({ done: 3, total: 3, partition: part('exchange_timestamp_day=2026-02-11', 'match') });
    care.finish({
      status: 'differ',
      summary: '1 of 3 partitions DIFFER (offload repair --table bronze_trades_binance --partition P)',
      isProblem: true,
      partitions: [],
    });
    await app.until((f) => f.includes('1 of 3 partitions DIFFER') && f.includes('esc: close'));
    await app.press(KEY.escape);
    await app.until((f) => !f.includes('Verify bronze_trades_binance'));
    assert.ok(
      logged().some((m) => m.startsWith('verify: 1 of 3 partitions DIFFER')),
      'the outcome stays in the log',
    );
  });

  it('c compacts the table open in details; x stops it between partitions; quitting waits for it', async () => {
    const app = await openApp(new MemoryBackend(), { columns: 120, rows: 34 });
    await app.press(KEY.enter);
    await app.until((f) => f.includes('PARTITION') || f.includes('snapshots'));
    await app.press('c');
    const care = app.backend.cares[0];
    assert.equal(care.kind, 'compact');
    care.progress({ done: 0, total: 2 });
    care.progress({
      done: 1,
      total: 2,
      partition: {
        partition: 'exchange_timestamp_day=2026-02-10',
        status: 'compacted',
        detail: '48 → 1 files, 144 rows',
        isProblem: false,
      },
    });
    await app.until((f) => f.includes('Compact bronze_trades_binance') && f.includes('1/2 partitions') && f.includes('48 → 1 files'));
    assert.equal(app.session.hasOffloads(), true, 'quit asks to wait or stop while it runs');
    await app.press('x');
    assert.equal(care.signal.aborted, true);
    care.finish({ status: 'stopped', summary: '1 partitions compacted (48 → 1 files), then stopped', isProblem: false, partitions: [] });
    await app.until((f) => f.includes('then stopped'));
    assert.equal(app.session.hasOffloads(), false);
  });

  it('a failure shows as one line', async () => {
    const app = await openApp(new MemoryBackend(), { columns: 120, rows: 34 });
    await app.press('v');
    app.backend.cares[0].fail(new Error('ClickHouse unreachable\nat stack'));
    await app.until((f) => f.includes('failed: ClickHouse unreachable'));
  });
});

describe('details: partitions', () => {
  it('show files per partition, how many are small (and their share), and delete files', async () => {
    const app = await openApp(new MemoryBackend(), { columns: 120, rows: 34 });
    await app.press(KEY.enter);
    await app.until((f) => f.includes('snapshots'));
    await app.press('3');
    const f = await app.until((x) => x.includes('DELETE FILES'));
    assert.match(f, /PARTITION\s+RECORDS\s+FILES\s+SMALL\s+DELETE FILES/);
    assert.match(f, /exchange_timestamp_day=2026-02-11\s+1,500\s+2\s+2 100%\s+—/);
  });
});

describe('care results in words', () => {
  const numbers = (rows: number, checksum: number) => ({ rows: BigInt(rows), checksum: BigInt(checksum) });
  const comparison = (path: string, ch: number, ice: number, status: PartitionComparison['status']): PartitionComparison =>
    ({ path, key: '[]', partition: {}, clickhouse: numbers(ch, 1), iceberg: numbers(ice, 2), status }) as PartitionComparison;

  it('says which side has what, and how a differing table is repaired', () => {
    assert.deepEqual(verifiedPartition(comparison('d=1', 1200, 1200, 'match')), {
      partition: 'd=1',
      status: 'match',
      detail: '1,200 rows, checksums equal',
      isProblem: false,
    });
    assert.equal(verifiedPartition(comparison('d=2', 1200, 1200, 'differ')).detail, '1,200 rows both sides, checksums differ');
    assert.equal(verifiedPartition(comparison('d=3', 1200, 1199, 'differ')).detail, 'ClickHouse 1,200 rows, Iceberg 1,199');
    const r = {
      table: 't',
      target: 'cold.t',
      status: 'differ',
      snapshotId: '1',
      elapsedMs: 5,
      checksums: { partitions: [comparison('d=1', 1, 1, 'match'), comparison('d=2', 1, 1, 'differ')], clickhouseRows: 2 },
    } as unknown as TablePartitionCheck;
    const o = verifyOutcome(r);
    assert.equal(o.summary, '1 of 2 partitions DIFFER (offload repair --table t --partition P)');
    assert.equal(o.isProblem, true);
  });

  it('counts files before and after the compacted partitions, and failures', () => {
    const p = (path: string, status: PartitionCompactionResult['status'], before: number, after: number) =>
      ({
        path,
        status,
        filesBefore: before,
        filesAfter: after,
        rows: 10,
        reason: status === 'failed' ? 'rows differ' : undefined,
      }) as PartitionCompactionResult;
    const r = {
      table: 't',
      target: 'cold.t',
      status: 'compacted',
      durationMs: 1,
      partitions: [p('d=1', 'compacted', 48, 1), p('d=2', 'compacted', 4, 1), p('d=3', 'failed', 5, 5)],
    } as TableCompaction;
    const o = compactOutcome(r);
    assert.equal(o.summary, '2 partitions compacted (52 → 2 files), 1 FAILED');
    assert.equal(o.isProblem, true);
    assert.equal(o.partitions[2].detail, 'rows differ');
    assert.equal(compactOutcome({ ...r, status: 'nothing-to-compact', partitions: [] }).summary, 'nothing to compact');
  });
});
