// watermark-matches-snapshot: the PostgreSQL watermark is the current snapshot's `offload.watermark`, and the
// run that moved it is the snapshot's `offload.run-id` (on a compaction or repair snapshot, which moves no
// watermark: the run it names in `offload.watermark-run-id`). Pure: it reads the state loaded for the table.
import { currentSnapshot } from '../iceberg/metadata.js';
import { decodeWatermark, EPOCH, formatWatermark, sameWatermark } from '../core/watermark.js';
import { SUMMARY, watermarkRunOf } from '../pipeline/stage.js';
import { check, failedCheck, type InvariantCheck } from './check.js';
import type { TableState } from './state.js';

export function checkWatermarkMatchesSnapshot(state: TableState): InvariantCheck {
  try {
    if (state.metadataError) throw state.metadataError;
    const { mark, watermark, metadata } = state;
    const snapshot = metadata ? currentSnapshot(metadata) : undefined;
    const pgText = formatWatermark(watermark);
    if (!snapshot) {
      const isEpoch = sameWatermark(watermark, EPOCH);
      return check(
        'watermark-matches-snapshot',
        isEpoch,
        { watermark: pgText, snapshotWatermark: null, snapshotId: null },
        isEpoch
          ? 'no snapshot yet and the watermark is still at the start'
          : `the watermark moved to ${pgText} but the table has no snapshot`,
      );
    }
    const summaryText = snapshot.summary[SUMMARY.watermark] ?? null;
    const summaryWatermark = decodeWatermark(summaryText ?? undefined);
    const runId = watermarkRunOf(snapshot);
    const sameRun = mark?.committedRunId === null || mark?.committedRunId === undefined || runId === null || mark.committedRunId === runId;
    const held = summaryWatermark !== null && sameWatermark(summaryWatermark, watermark) && sameRun;
    return check(
      'watermark-matches-snapshot',
      held,
      {
        watermark: pgText,
        snapshotWatermark: summaryWatermark ? formatWatermark(summaryWatermark) : summaryText,
        snapshotId: snapshot['snapshot-id'].toString(),
      },
      held
        ? `PostgreSQL and snapshot ${snapshot['snapshot-id']} agree on ${pgText} (run ${runId ?? '?'})`
        : !sameRun
          ? `the watermark was moved by run ${mark?.committedRunId} but the current snapshot was made by run ${runId}`
          : `PostgreSQL says ${pgText}, snapshot ${snapshot['snapshot-id']} says ${summaryText ?? '(no offload.watermark)'}`,
    );
  } catch (err) {
    return failedCheck('watermark-matches-snapshot', err);
  }
}
