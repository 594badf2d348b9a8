// Which service each transient fault is injected in front of, and what the proxy does there.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TRANSIENT_FAULTS } from '../../../src/drill/catalogue.js';
import { proxyFaultOf } from '../../../src/drill/steps/transient.js';

describe('transient faults', () => {
  it('puts each transient fault in front of the right service', () => {
    assert.deepEqual(
      TRANSIENT_FAULTS.map((f) => `${f}→${proxyFaultOf(f).service}/${proxyFaultOf(f).fault.kind}`),
      [
        's3-500→S3/http-error',
        's3-503→S3/http-error',
        's3-timeout→S3/http-stall',
        'pg-drop→PostgreSQL/drop-on-message',
        'ch-reset→ClickHouse/reset-after-bytes',
      ],
    );
    const drop = proxyFaultOf('pg-drop').fault;
    assert.ok(drop.kind === 'drop-on-message' && drop.when === 'after-reply', 'the ambiguous commit: COMMIT reaches the server');
    assert.equal(Buffer.from(drop.kind === 'drop-on-message' ? drop.match : []).toString('latin1'), 'Q\0\0\0\x0bCOMMIT\0');
  });
});
