// Counting an Iceberg table's live data files per partition and the small ones (pure; no service).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countDataFiles, SMALL_FILE_SHARE } from '../../src/pipeline/table-files.js';

const MB = 1024 * 1024;
const file = (day: number, sizeMb: number, specId = 0) => ({ specId, partition: { ts_day: day }, fileSizeInBytes: BigInt(sizeMb * MB) });

describe('countDataFiles', () => {
  it('counts files, partitions, the fullest partition and files below 75 % of the target size', () => {
    const target = 128 * MB;
    const c = countDataFiles([file(1, 127), file(1, 10), file(1, 96), file(2, 95), file(2, 1, 1)], target * SMALL_FILE_SHARE);
    assert.deepEqual(c, { dataFiles: 5, dataBytes: (127 + 10 + 96 + 95 + 1) * MB, partitions: 3, maxFilesPerPartition: 3, smallFiles: 3 });
  });

  it('an empty snapshot has nothing', () => {
    assert.deepEqual(countDataFiles([], 1), { dataFiles: 0, dataBytes: 0, partitions: 0, maxFilesPerPartition: 0, smallFiles: 0 });
  });
});
