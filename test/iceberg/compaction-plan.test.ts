// Which files compaction picks: small files of a partition bin-packed into groups of about the target
// size, the policy's thresholds, and what delete files do to a partition's plan.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { binPack, planCompaction } from '../../src/iceberg/compaction-plan.js';
import type { LiveDataFile, LiveDeleteFile, SnapshotFiles } from '../../src/iceberg/reader.js';

const MB = 1n << 20n;

function dataFile(path: string, mb: bigint, partition: Record<string, string> = { day: 'a' }, specId = 0): LiveDataFile {
  return {
    content: 0,
    filePath: path,
    fileFormat: 'PARQUET',
    partition,
    recordCount: mb * 1000n,
    fileSizeInBytes: mb * MB,
    columnSizes: new Map(),
    valueCounts: new Map(),
    nullValueCounts: new Map(),
    lowerBounds: new Map(),
    upperBounds: new Map(),
    specId,
    addedSnapshotId: 1n,
    sequenceNumber: 1n,
  };
}

function deleteFile(path: string, content: 1 | 2, partition: Record<string, string> = { day: 'a' }, specId = 0): LiveDeleteFile {
  return { ...dataFile(path, 1n, partition, specId), content, fileFormat: 'PARQUET', recordCount: 3n, sequenceNumber: 2n };
}

const files = (dataFiles: LiveDataFile[], deleteFiles: LiveDeleteFile[] = []): SnapshotFiles => ({ dataFiles, deleteFiles });
const paths = (g: { files: LiveDataFile[] }) => g.files.map((f) => f.filePath);

describe('binPack', () => {
  it('fills groups first-fit, largest files first, never past the capacity', () => {
    const groups = binPack([dataFile('a', 60n), dataFile('b', 50n), dataFile('c', 40n), dataFile('d', 30n), dataFile('e', 20n)], 100n * MB);
    assert.deepEqual(groups.map(paths), [
      ['a', 'c'],
      ['b', 'd', 'e'],
    ]);
    assert.deepEqual(
      groups.map((g) => g.bytes),
      [100n * MB, 100n * MB],
    );
    assert.deepEqual(
      groups.map((g) => g.records),
      [100_000n, 100_000n],
    );
  });

  it('puts a file at or over the capacity in a group of its own', () => {
    assert.deepEqual(binPack([dataFile('big', 150n), dataFile('s', 10n)], 100n * MB).map(paths), [['big'], ['s']]);
  });
});

describe('planCompaction', () => {
  const policy = { targetFileSizeBytes: Number(128n * MB) };

  it('picks partitions with at least minFiles small files and leaves large files alone', () => {
    const small = (day: string, n: number) => Array.from({ length: n }, (_, i) => dataFile(`${day}-${i}`, 2n, { day }));
    const plan = planCompaction(files([...small('a', 5), dataFile('a-big', 120n, { day: 'a' }), ...small('b', 4)]), 0, policy);
    assert.deepEqual(
      plan.partitions.map((p) => [p.partition.day, p.fileCount, p.smallFileCount, p.groups.map(paths)]),
      [['a', 6, 5, [['a-0', 'a-1', 'a-2', 'a-3', 'a-4']]]],
    );
    assert.deepEqual(plan.skipped, []);
  });

  it('small means below smallFileRatio of the target (default 75 %)', () => {
    const sized = [dataFile('x', 95n), dataFile('y', 97n), dataFile('z', 1n)];
    const plan = planCompaction(files(sized), 0, { ...policy, minFiles: 2 });
    // 75 % of 128 MB is 96 MB: x (95) and z (1) are small, y (97) is not.
    assert.deepEqual(
      plan.partitions.map((p) => [p.smallFileCount, p.groups.map(paths)]),
      [[2, [['x', 'z']]]],
    );
    assert.deepEqual(planCompaction(files(sized), 0, { ...policy, minFiles: 2, smallFileRatio: 0.5 }).partitions, []);
  });

  it('groups of one file are not rewritten (nothing to gain)', () => {
    const plan = planCompaction(files([dataFile('p', 90n), dataFile('q', 80n)]), 0, { ...policy, minFiles: 2 });
    assert.deepEqual(plan.partitions, []);
  });

  it('a partition with position deletes is rewritten whole and its delete files go with it', () => {
    const plan = planCompaction(files([dataFile('s1', 1n), dataFile('s2', 1n), dataFile('big', 200n)], [deleteFile('del', 1)]), 0, {
      ...policy,
      minFiles: 2,
    });
    assert.deepEqual(
      plan.partitions.map((p) => [p.groups.map(paths), p.deleteFiles.map((f) => f.filePath)]),
      [[[['big'], ['s1', 's2']], ['del']]],
    );
  });

  it('deleteFileThreshold rewrites a partition for its deletes alone', () => {
    const input = files([dataFile('only', 200n)], [deleteFile('d1', 1), deleteFile('d2', 1)]);
    assert.deepEqual(planCompaction(input, 0, policy).partitions, []);
    assert.deepEqual(
      planCompaction(input, 0, { ...policy, deleteFileThreshold: 2 }).partitions.map((p) => [p.groups.map(paths), p.deleteFiles.length]),
      [[[['only']], 2]],
    );
  });

  it('skips, with the reason, partitions equality deletes reach, other specs, and everything while another spec has deletes', () => {
    const small = (day: string, specId = 0) => Array.from({ length: 5 }, (_, i) => dataFile(`${specId}-${day}-${i}`, 1n, { day }, specId));
    const eq = planCompaction(files([...small('a'), ...small('b')], [deleteFile('eq', 2, { day: 'a' })]), 0, policy);
    assert.deepEqual(
      eq.partitions.map((p) => p.partition.day),
      ['b'],
    );
    assert.match(eq.skipped.map((s) => `${s.partition.day}: ${s.reason}`).join(), /^a: equality deletes/);
    const old = planCompaction(files([...small('a', 1), ...small('b')]), 0, policy);
    assert.deepEqual(
      [old.partitions.map((p) => p.partition.day), old.skipped.map((s) => s.reason)],
      [['b'], ["written with partition spec 1, not the table's current spec 0"]],
    );
    const foreign = planCompaction(files(small('b'), [deleteFile('pos', 1, {}, 1)]), 0, policy);
    assert.deepEqual([foreign.partitions, foreign.skipped.map((s) => /another partition spec/.test(s.reason))], [[], [true]]);
  });

  it('refuses a policy that makes no sense', () => {
    assert.throws(() => planCompaction(files([]), 0, { targetFileSizeBytes: 0 }), /target file size/);
    assert.throws(() => planCompaction(files([]), 0, { ...policy, smallFileRatio: 1.5 }), /small file ratio/);
    assert.throws(() => planCompaction(files([]), 0, { ...policy, minFiles: 1 }), /min files/);
  });
});
