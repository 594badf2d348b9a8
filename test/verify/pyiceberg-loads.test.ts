// pyiceberg-loads without a reader or without a table: skipped, and why.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateTablesConfig } from '../../src/config/tables.js';
import { checkPyIcebergLoads } from '../../src/verify/pyiceberg-loads.js';
import type { PyIcebergReader } from '../../src/verify/pyiceberg-reader.js';

const [table] = validateTablesConfig(
  { tables: [{ name: 't', layer: 'bronze', source: 'k2.t', cursor: 'ts', target: 'cold.t', partitionBy: [] }] },
  'test',
).tables;

describe('pyiceberg-loads', () => {
  it('is skipped, saying why, without the Python venv or without a table', async () => {
    const noVenv = await checkPyIcebergLoads(null, table, null, null);
    assert.deepEqual([noVenv.status, noVenv.detail], ['skipped', 'the Python venv with pyiceberg is not installed (dev/python-env.sh)']);
    // A reader that must not be asked: there is no table to load.
    const unused = { read: () => assert.fail('read without a table') } as unknown as PyIcebergReader;
    const noTable = await checkPyIcebergLoads(unused, table, null, null);
    assert.deepEqual([noTable.status, noTable.detail], ['skipped', 'the table does not exist yet']);
  });
});
