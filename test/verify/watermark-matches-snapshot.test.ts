// watermark-matches-snapshot on its own: a pure verdict from the watermark row and the current snapshot.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EPOCH, formatWatermark, type Watermark } from '../../src/core/watermark.js';
import type { TableMetadata } from '../../src/iceberg/types.js';
import type { WatermarkState } from '../../src/state/watermarks.js';
import type { TableState } from '../../src/verify/state.js';
import { checkWatermarkMatchesSnapshot } from '../../src/verify/watermark-matches-snapshot.js';

const W: Watermark = { timestamp: '2026-02-11T12:02:00.123000Z', tieBreak: '17' };

/** Only what the check reads of a table's metadata: the current snapshot and its summary. */
function metadataWith(summary: Record<string, string> | null): TableMetadata {
  const snapshots = summary
    ? [{ 'snapshot-id': 7n, 'sequence-number': 1n, 'timestamp-ms': 0, 'manifest-list': 'm', summary, 'schema-id': 0 }]
    : [];
  return { refs: {}, 'current-snapshot-id': summary ? 7n : null, snapshots } as unknown as TableMetadata;
}

function state(
  watermark: Watermark,
  metadata: TableMetadata | null,
  committedRunId: string | null = 'run-1',
  metadataError: unknown = null,
): TableState {
  const mark = { table: 't', watermark, committedRunId } as WatermarkState;
  return { mark, watermark, metadata, metadataLocation: metadata ? 's3://w/t/metadata/00001.metadata.json' : null, metadataError };
}

const summary = (w: Watermark, runId = 'run-1') => ({
  operation: 'append',
  'offload.watermark': JSON.stringify(w),
  'offload.run-id': runId,
});

describe('watermark-matches-snapshot', () => {
  it('holds when PostgreSQL and the snapshot agree, timestamps compared as instants', () => {
    const c = checkWatermarkMatchesSnapshot(state(W, metadataWith(summary({ ...W, timestamp: '2026-02-11T12:02:00.123Z' }))));
    assert.equal(c.status, 'held');
    assert.deepEqual(c.numbers, {
      watermark: '2026-02-11T12:02:00.123000Z #17',
      snapshotWatermark: '2026-02-11T12:02:00.123Z #17',
      snapshotId: '7',
    });
    assert.equal(c.detail, 'PostgreSQL and snapshot 7 agree on 2026-02-11T12:02:00.123000Z #17 (run run-1)');
  });

  it('breaks on another watermark, another tie-break, or another run', () => {
    const later = checkWatermarkMatchesSnapshot(state(W, metadataWith(summary({ ...W, timestamp: '2026-02-11T12:02:00.124000Z' }))));
    assert.equal(later.status, 'broken');
    assert.match(later.detail, /^PostgreSQL says 2026-02-11T12:02:00.123000Z #17, snapshot 7 says \{/);
    assert.equal(checkWatermarkMatchesSnapshot(state(W, metadataWith(summary({ ...W, tieBreak: '18' })))).status, 'broken');
    const otherRun = checkWatermarkMatchesSnapshot(state(W, metadataWith(summary(W, 'run-2'))));
    assert.equal(otherRun.status, 'broken');
    assert.equal(otherRun.detail, 'the watermark was moved by run run-1 but the current snapshot was made by run run-2');
  });

  it('breaks on a snapshot without offload.watermark', () => {
    const c = checkWatermarkMatchesSnapshot(state(W, metadataWith({ operation: 'append' })));
    assert.equal(c.status, 'broken');
    assert.equal(c.numbers.snapshotWatermark, null);
    assert.match(c.detail, /says \(no offload\.watermark\)$/);
  });

  it('without a snapshot, holds only while the watermark is at the start', () => {
    assert.equal(checkWatermarkMatchesSnapshot(state(EPOCH, null, null)).status, 'held');
    assert.equal(
      checkWatermarkMatchesSnapshot(state({ timestamp: '1970-01-01T00:00:00Z', tieBreak: null }, metadataWith(null), null)).status,
      'held',
    );
    const moved = checkWatermarkMatchesSnapshot(state(W, null));
    assert.equal(moved.status, 'broken');
    assert.equal(moved.detail, 'the watermark moved to 2026-02-11T12:02:00.123000Z #17 but the table has no snapshot');
  });

  it('is broken, with the reason, when the table could not be loaded', () => {
    const c = checkWatermarkMatchesSnapshot(state(W, null, 'run-1', new Error('metadata.json: not found\nmore')));
    assert.deepEqual([c.status, c.detail], ['broken', 'could not be checked: metadata.json: not found']);
  });

  it('writes a watermark as its timestamp and tie-break', () => {
    assert.equal(formatWatermark(W), '2026-02-11T12:02:00.123000Z #17');
    assert.equal(formatWatermark(EPOCH), EPOCH.timestamp);
  });
});
