// What a drill can do: every fault point the engine names, the transient faults, what each simulates, and
// the drill screen's choices.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CRASH_FAULTS,
  FAULT_SIMULATES,
  TRANSIENT_FAULTS,
  defaultDrillTables,
  drillChoices,
  isCrashFault,
  isTransientFault,
} from '../../src/drill/catalogue.js';
import { validateTablesConfig } from '../../src/config/tables.js';
import { FAULT_POINTS } from '../../src/pipeline/faults.js';

describe('drill catalogue', () => {
  it('drills every fault point the engine names, in protocol order, each described', () => {
    assert.deepEqual([...CRASH_FAULTS], [...FAULT_POINTS]);
    for (const f of [...CRASH_FAULTS, ...TRANSIENT_FAULTS]) assert.ok(FAULT_SIMULATES[f].length > 20, f);
  });

  it('offers every fault, two workers and random on the drill screen', () => {
    const choices = drillChoices();
    assert.equal(choices.length, CRASH_FAULTS.length + TRANSIENT_FAULTS.length + 2);
    assert.deepEqual(
      choices.slice(-2).map((c) => c.kind),
      ['concurrent', 'random'],
    );
  });

  it('tells crash faults from transient ones', () => {
    assert.ok(isCrashFault('inside-commit') && !isCrashFault('pg-drop'));
    assert.ok(isTransientFault('pg-drop') && !isTransientFault('inside-commit'));
  });

  it('drills the first table of each layer by default', () => {
    const table = (name: string, layer: string) => ({
      name,
      layer,
      source: `k2.${name}`,
      cursor: 'ts',
      target: `cold.${name}`,
      partitionBy: [],
      ...(layer === 'gold' ? { closedWindow: '1m' } : {}),
    });
    const config = validateTablesConfig(
      { tables: [table('g1', 'gold'), table('b1', 'bronze'), table('b2', 'bronze'), table('s1', 'silver')] },
      'test',
    );
    assert.deepEqual(defaultDrillTables(config), ['b1', 's1', 'g1']);
  });
});
