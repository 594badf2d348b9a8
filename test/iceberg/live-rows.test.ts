// Live rows once delete files apply: from a snapshot summary (what `status` shows) and from a snapshot's
// files (what the overview shows, dangling position deletes included).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DELETE_FILE_PATH_FIELD_ID,
  liveRowsFromSummary,
  liveRowsOf,
  positionDeleteTarget,
  type LiveDataFile,
  type LiveDeleteFile,
} from '../../src/iceberg/reader.js';

const base = {
  fileFormat: 'PARQUET',
  partition: {},
  fileSizeInBytes: 1n,
  columnSizes: new Map(),
  valueCounts: new Map(),
  nullValueCounts: new Map(),
  lowerBounds: new Map<number, Uint8Array>(),
  upperBounds: new Map<number, Uint8Array>(),
  specId: 0,
  addedSnapshotId: 1n,
};
const data = (path: string, rows: bigint, seq = 1n): LiveDataFile => ({
  ...base,
  content: 0,
  fileFormat: 'PARQUET',
  filePath: path,
  recordCount: rows,
  sequenceNumber: seq,
});
const deletes = (path: string, content: 1 | 2, rows: bigint, target?: string): LiveDeleteFile => {
  const f: LiveDeleteFile = {
    ...base,
    content,
    filePath: path,
    recordCount: rows,
    sequenceNumber: 2n,
    lowerBounds: new Map(),
    upperBounds: new Map(),
  };
  if (target) {
    const bytes = Uint8Array.from(Buffer.from(target));
    f.lowerBounds.set(DELETE_FILE_PATH_FIELD_ID, bytes);
    f.upperBounds.set(DELETE_FILE_PATH_FIELD_ID, bytes);
  }
  return f;
};

describe('liveRowsFromSummary', () => {
  it('subtracts position deletes; exact without equality deletes', () => {
    assert.deepEqual(
      liveRowsFromSummary({
        operation: 'overwrite',
        'total-records': '5819',
        'total-delete-files': '1',
        'total-position-deletes': '2',
        'total-equality-deletes': '0',
      }),
      {
        rows: 5817n,
        exact: true,
        records: 5819n,
        deleteFiles: 1n,
        positionDeletes: 2n,
        equalityDeletes: 0n,
      },
    );
  });
  it('is approximate with equality deletes, or when the delete totals are missing; null without total-records', () => {
    assert.equal(
      liveRowsFromSummary({
        operation: 'delete',
        'total-records': '10',
        'total-delete-files': '1',
        'total-position-deletes': '0',
        'total-equality-deletes': '3',
      })!.exact,
      false,
    );
    assert.deepEqual(liveRowsFromSummary({ operation: 'append', 'total-records': '10' }), {
      rows: 10n,
      exact: false,
      records: 10n,
      deleteFiles: 0n,
      positionDeletes: 0n,
      equalityDeletes: 0n,
    });
    assert.equal(liveRowsFromSummary({ operation: 'append', 'total-records': '10', 'total-delete-files': '0' })!.exact, true);
    assert.equal(liveRowsFromSummary({ operation: 'append' }), null);
  });
});

describe('liveRowsOf', () => {
  it('counts live rows from the files and marks dangling position deletes inexact', () => {
    const live = liveRowsOf({
      dataFiles: [data('s3://b/a.parquet', 10n)],
      deleteFiles: [deletes('s3://b/d1.parquet', 1, 2n, 's3://b/a.parquet')],
    });
    assert.deepEqual([live.rows, live.exact], [8n, true]);
    const dangling = liveRowsOf({
      dataFiles: [data('s3://b/a.parquet', 10n)],
      deleteFiles: [deletes('s3://b/d2.parquet', 1, 2n, 's3://b/gone.parquet')],
    });
    assert.deepEqual([dangling.rows, dangling.exact], [8n, false]);
    const newer = liveRowsOf({
      dataFiles: [data('s3://b/a.parquet', 10n, 3n)],
      deleteFiles: [deletes('s3://b/d3.parquet', 1, 2n, 's3://b/a.parquet')],
    });
    assert.equal(newer.exact, false, 'a delete older than the data file applies to none of its rows');
    assert.equal(liveRowsOf({ dataFiles: [data('a', 10n)], deleteFiles: [deletes('e', 2, 1n)] }).exact, false);
  });
  it('tells the one data file a position delete file points into, when its entry says so', () => {
    assert.equal(positionDeleteTarget(deletes('d', 1, 1n, 's3://b/a.parquet')), 's3://b/a.parquet');
    assert.equal(positionDeleteTarget({ ...deletes('d', 1, 1n), referencedDataFile: 's3://b/r.parquet' }), 's3://b/r.parquet');
    assert.equal(positionDeleteTarget(deletes('d', 1, 1n)), null, 'no bounds: it may point anywhere');
    assert.equal(positionDeleteTarget(deletes('e', 2, 1n)), null);
  });
});
