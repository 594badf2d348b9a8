// Test files are outside tsconfig.json, so the JSX transform is named here.
/** @jsxRuntime automatic @jsxImportSource react */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sampleDetails } from '../../support/ui/fixtures.js';
import { listingFor, readableWatermark } from '../../../src/ui/screens/DetailsScreen.js';

describe('details: snapshot watermarks', () => {
  it("reads the pipeline's JSON watermark, and ISO text from other writers, fitted to the column", () => {
    const json = JSON.stringify({ timestamp: '2026-11-25T22:59:07.000000Z', tieBreak: '419999' });
    assert.equal(readableWatermark(json), '2026-11-25 22:59:07 #419999');
    assert.equal(readableWatermark(json, 24), '11-25 22:59:07 #419999');
    assert.equal(readableWatermark(JSON.stringify({ timestamp: '2026-11-25T22:00:00Z', tieBreak: null })), '2026-11-25 22:00:00');
    assert.equal(readableWatermark('2026-02-11T12:00:00.000000Z#1001'), '2026-02-11 12:00:00 #1001');
    assert.equal(readableWatermark('not a watermark'), 'not a watermark');
  });

  it('lists every snapshot with its cells in the fitted columns at 80 columns', () => {
    const listing = listingFor(sampleDetails('t'), 'snapshots', 80, Date.parse('2026-02-11T12:10:00Z'), {});
    assert.deepEqual(
      listing.columns.map((c) => c.title),
      ['SNAPSHOT ID', 'COMMITTED', 'OPERATION', 'ADDED ROWS', 'OFFLOAD.WATERMARK'],
    );
    assert.ok(listing.columns.reduce((w, c) => w + c.width + 1, -1) <= 80);
    assert.deepEqual(listing.rows[0].cells, ['7301234567890123456', '02-11 12:01:00', 'append', '1,200', '02-11 12:00:00 #1001']);
  });
});
