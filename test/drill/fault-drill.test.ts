// A fault drill's plan: which steps it makes, in which order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planFaultSteps } from '../../src/drill/fault-drill.js';

describe('fault drill plan', () => {
  it('makes one step per fault and table, tables in order, then the two-worker step', () => {
    const steps = planFaultSteps({
      tables: ['a', 'b'],
      crash: ['after-plan', 'inside-commit'],
      transient: ['pg-drop'],
      concurrent: 'mid-extract',
    });
    assert.deepEqual(
      steps.map((s) => `${s.index}:${s.table}:${s.kind}:${s.fault}`),
      [
        '1:a:crash:after-plan',
        '2:a:crash:inside-commit',
        '3:a:transient:pg-drop',
        '4:a:concurrent:mid-extract',
        '5:b:crash:after-plan',
        '6:b:crash:inside-commit',
        '7:b:transient:pg-drop',
        '8:b:concurrent:mid-extract',
      ],
    );
  });

  it('makes no two-worker step unless asked', () => {
    assert.deepEqual(
      planFaultSteps({ tables: ['a'], crash: ['after-commit'], transient: [], concurrent: null }).map((s) => s.kind),
      ['crash'],
    );
  });
});
