// Stage and commit (DESIGN.md steps 5 and 6). Staging writes the manifest adding the run's data files,
// then the manifest list and the next metadata.json (create-only), and touches no catalog. The commit is
// ONE PostgreSQL transaction: the catalog's compare-and-set of the metadata pointer, the watermark moving
// from exactly the value the run was planned from, and the run record becoming committed. Data and
// watermark become visible together or not at all; the fault point `inside-commit` sits just before COMMIT.
import type pg from 'pg';
import { withTransaction } from '../state/pool.js';
import * as runs from '../state/runs.js';
import * as watermarks from '../state/watermarks.js';
import type { JdbcCatalog } from '../iceberg/catalog.js';
import { decodeWatermark, encodeWatermark, type Watermark } from '../core/watermark.js';
import type { FileIO } from '../iceberg/io.js';
import { currentSnapshot, newSnapshotId } from '../iceberg/metadata.js';
import { buildOnBase, newCommitUuid, writeAddedManifest, type StagedCommit, type Table } from '../iceberg/snapshot-producer.js';
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
}

/** Writes the new version (manifest, manifest list, metadata file) for an append of `dataFiles`; commits nothing. */
export async function stageRun(table: Table, io: FileIO, dataFiles: readonly DataFile[], o: StageRunOptions): Promise<StagedCommit> {
  const snapshotId = newSnapshotId(table.metadata.snapshots.map((s) => s['snapshot-id']));
  const commitUuid = newCommitUuid();
  const { manifest, specId } = await writeAddedManifest(table, io, dataFiles, snapshotId, commitUuid);
  faultPoint('after-manifests', o.tableName);
  try {
    const staged = await buildOnBase(
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
    );
    faultPoint('after-metadata-file', o.tableName);
    return staged;
  } catch (err) {
    await io.delete(manifest.manifestPath).catch(() => undefined);
    throw err;
  }
}

export interface CommitRunOptions {
  tableName: string;
  runId: string;
  /** The watermark the run was planned from: the commit fails (CommitConflict) if it moved meanwhile. */
  expected: Watermark;
  watermark: Watermark;
  rows: number;
  bytes: number;
  files: number;
  durationSeconds: number;
  /** Called just before COMMIT is sent (after it, the outcome may be unknown to us). */
  onCommitSent?: () => void;
}

/**
 * The commit transaction: compare-and-set of the catalog pointer (CommitConflict when the table moved),
 * the watermark from `expected` to `watermark` (CommitConflict when it moved), the run committed.
 */
export async function commitRun(pool: pg.Pool, catalog: JdbcCatalog, staged: StagedCommit, o: CommitRunOptions): Promise<void> {
  await withTransaction(
    pool,
    async (tx) => {
      await catalog.compareAndSetMetadataLocation(tx, staged.ident, { expected: staged.base, next: staged.next });
      await watermarks.advance(tx, o.tableName, o.watermark, { rowCount: o.rows, runId: o.runId, durationSeconds: o.durationSeconds, expected: o.expected });
      await runs.markCommitted(tx, o.runId, {
        snapshotId: staged.snapshotId ?? 0n,
        metadataLocation: staged.next,
        rows: o.rows,
        bytes: o.bytes,
        files: o.files,
        windowEnd: o.watermark,
      });
    },
    {
      beforeCommit: () => {
        faultPoint('inside-commit', o.tableName);
        o.onCommitSent?.();
      },
    },
  );
}
