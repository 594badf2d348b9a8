import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fitColumns, joinCells, type ColumnSpec } from '../../src/ui/columns.js';

const SPECS: ColumnSpec[] = [
  { id: 'name', title: 'NAME', min: 10, preferred: 20, rank: 0 },
  { id: 'a', title: 'A', min: 5, rank: 1 },
  { id: 'b', title: 'B', min: 5, rank: 3 },
  { id: 'c', title: 'C', min: 8, preferred: 12, rank: 2 },
];

describe('fitColumns', () => {
  it('drops the highest ranks first when the width is short, keeping the order of the columns', () => {
    const fitted = fitColumns(SPECS, 25);
    assert.deepEqual(
      fitted.map((c) => [c.id, c.width]),
      [
        ['name', 10],
        ['a', 5],
        ['c', 8],
      ],
    );
  });

  it('widens columns to their preferred width in rank order when there is room', () => {
    const fitted = fitColumns(SPECS, 80);
    assert.deepEqual(
      fitted.map((c) => [c.id, c.width]),
      [
        ['name', 20],
        ['a', 5],
        ['b', 5],
        ['c', 12],
      ],
    );
  });

  it('never returns a line wider than the width', () => {
    for (let w = 30; w <= 120; w++) {
      const fitted = fitColumns(SPECS, w);
      const line = joinCells(fitted, { name: 'x', a: 'y', b: 'z', c: 'w' });
      assert.ok(line.length <= w, `width ${w}: line is ${line.length}`);
    }
  });
});
