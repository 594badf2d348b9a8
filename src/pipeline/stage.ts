// Step 7, stage: the run's new table version, written beside the current one and committed nowhere yet —
// the manifest adding the run's data files (fault point `after-manifests`), then the manifest list and, for
// the JDBC catalog, the next metadata.json, create-only (`after-metadata-file`; a REST catalog writes its own
// metadata file when it applies the commit, so none is staged). Its snapshot summary carries the run id and
// the watermark the table reaches with it, which is how recovery tells a committed run from one that never
// was — and, with a REST catalog, what PostgreSQL is reconciled from. Nothing is left to write before the
// commit (`before-commit`).
import { decodeWatermark, encodeWatermark, type Watermark } from '../core/watermark.js';
import { discardUnreferenced, type FileIO } from '../iceberg/io.js';
import { currentSnapshot, newSnapshotId } from '../iceberg/metadata.js';
import { type AnyStagedCommit, buildOnBase, newCommitUuid, writeAddedManifest, type Table } from '../iceberg/snapshot-producer.js';
import type { DataFile, Snapshot, TableMetadata } from '../iceberg/types.js';
import { faultPoint } from './faults.js';

/** Snapshot summary properties an offload commit carries (besides Iceberg's own). */
export const SUMMARY = {
  runId: 'offload.run-id',
  /** The table's watermark once this snapshot is current: `{"timestamp":"…Z","tieBreak":"…"|null}`. */
  watermark: 'offload.watermark',
  /** The watermark the run started from (the exclusive lower edge of its window). */
  windowStart: 'offload.window-start',
  /** The configured table name (offload_watermarks.table_name). */
  table: 'offload.table',
} as const;

/** The watermark the table's current snapshot carries (null: no snapshot, or one not written by an offload). */
export function snapshotWatermark(metadata: TableMetadata): Watermark | null {
  const s = currentSnapshot(metadata);
  return s ? decodeWatermark(s.summary[SUMMARY.watermark]) : null;
}

/**
 * The newest snapshot of main's history that an offload of `tableName` committed (one carrying
 * `offload.watermark`): the current snapshot, or an ancestor when others committed on top of it (a
 * compaction, another engine). Undefined when there is none, or it was expired.
 */
export function newestOffloadSnapshot(metadata: TableMetadata, tableName: string): Snapshot | undefined {
  const byId = new Map(metadata.snapshots.map((s) => [s['snapshot-id'], s]));
  for (let s = currentSnapshot(metadata); s; s = s['parent-snapshot-id'] == null ? undefined : byId.get(s['parent-snapshot-id'])) {
    const table = s.summary[SUMMARY.table];
    if (s.summary[SUMMARY.watermark] !== undefined && (table === undefined || table === tableName)) return s;
  }
  return undefined;
}

/** The snapshot (current first, then older ones) that an offload run committed, if any. */
export function snapshotOfRun(metadata: TableMetadata, runId: string): Snapshot | undefined {
  const current = currentSnapshot(metadata);
  if (current?.summary[SUMMARY.runId] === runId) return current;
  return metadata.snapshots.find((s) => s.summary[SUMMARY.runId] === runId);
}

export interface StageRunOptions {
  tableName: string;
  runId: string;
  watermark: Watermark;
  windowStart: Watermark;
  /** Write the next metadata file: true for the JDBC catalog; false for a REST catalog, which writes its own. */
  metadataFile: boolean;
}

/** Writes the new version (manifest, manifest list, metadata file when asked) for an append of `dataFiles`; commits nothing. */
export async function stageRun(table: Table, io: FileIO, dataFiles: readonly DataFile[], o: StageRunOptions): Promise<AnyStagedCommit> {
  const snapshotId = newSnapshotId(table.metadata.snapshots.map((s) => s['snapshot-id']));
  const commitUuid = newCommitUuid();
  const { manifest, specId } = await writeAddedManifest(table, io, dataFiles, snapshotId, commitUuid);
  faultPoint('after-manifests', o.tableName);
  let staged: AnyStagedCommit;
  try {
    staged = await buildOnBase(
      table,
      io,
      {
        kind: 'append',
        snapshotId,
        commitUuid,
        specId,
        dataFiles: [...dataFiles],
        addedManifest: manifest,
        summaryProperties: {
          [SUMMARY.runId]: o.runId,
          [SUMMARY.watermark]: encodeWatermark(o.watermark),
          [SUMMARY.windowStart]: encodeWatermark(o.windowStart),
          [SUMMARY.table]: o.tableName,
        },
      },
      1,
      { metadataFile: o.metadataFile },
    );
  } catch (err) {
    await discardUnreferenced(io, manifest.manifestPath);
    throw err;
  }
  faultPoint('after-metadata-file', o.tableName);
  faultPoint('before-commit', o.tableName);
  return staged;
}
