// Bounded concurrency: order kept, the limit held.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mapLimit } from '../../src/core/concurrency.js';

describe('mapLimit', () => {
  it('keeps the input order with at most `limit` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      most = Math.max(most, ++inFlight);
      for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); // n turns of the event loop
      inFlight--;
      return n * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(most, 2);
    assert.deepEqual(await mapLimit([1, 2], 0, async (n) => n), [1, 2], 'a limit below one still runs');
  });
});
