// Locating rows the source refuses: the window is halved until the rows that fail sit at one cursor value,
// each half probed once; a probe that fails otherwise stops the search with what is known.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { capabilitiesOf, ClickHouseQueryError, isRowValueError } from '../../src/clickhouse/client.js';
import type { Lower } from '../../src/clickhouse/window.js';
import { validateTablesConfig } from '../../src/config/tables.js';
import type { Micros } from '../../src/core/watermark.js';
import { locateRefusedRows, refusedRowsError } from '../../src/pipeline/refused-rows.js';
import { sourceShape, type RowSource, type RowsHint, type SourceShape } from '../../src/pipeline/source.js';

const S = 1_000_000n;
const cfg = validateTablesConfig(
  {
    tables: [
      { name: 'ohlcv_1m', layer: 'gold', source: 'k2.ohlcv_1m', cursor: 'window_start', closedWindow: '1m', target: 'cold.ohlcv_1m' },
    ],
  },
  'test',
).tables[0];
const shape = sourceShape(cfg, [{ name: 'window_start', type: 'DateTime' }], capabilitiesOf('18.16.1'));

/** A source whose rows at `poison` (seconds) overflow; counts its probes. */
function sourceWith(poison: bigint, failOtherwiseAfter = Number.POSITIVE_INFINITY) {
  const probes: Array<[Micros | null, Micros]> = [];
  const source = {
    async probe(_shape: SourceShape, lower: Lower | null, upper: Micros): Promise<Error | null> {
      probes.push([lower?.cursor ?? null, upper]);
      if (probes.length > failOtherwiseAfter) return new Error('socket hang up');
      const at = poison * S;
      return (lower === null || at > lower.cursor) && at <= upper
        ? new ClickHouseQueryError(407, 'ClickHouse error 407: extracting rows: Decimal convert overflow')
        : null;
    },
    rowsHint(_shape: SourceShape, lower: Lower | null, upper: Micros): RowsHint {
      return { kind: 'condition', sql: `(${lower?.cursor ?? '-'}, ${upper}]` };
    },
  } as unknown as RowSource;
  return { source, probes };
}

describe('locating refused rows', () => {
  it('narrows a day-long window to the one second that fails, in about log2(seconds) probes', async () => {
    const { source, probes } = sourceWith(1_000_000_123n);
    const found = await locateRefusedRows(source, shape, { cursor: 1_000_000_000n * S, tieBreak: null }, 1_000_086_400n * S, {
      isRowValueError,
    });
    assert.deepEqual(found, { lower: { cursor: 1_000_000_122n * S, tieBreak: null }, upper: 1_000_000_123n * S });
    assert.ok(probes.length <= 17, `${probes.length} probes`);
  });

  it('from the first row (no lower bound) too', async () => {
    const { source } = sourceWith(42n);
    const found = await locateRefusedRows(source, shape, null, 1_000n * S, { isRowValueError });
    assert.deepEqual(found, { lower: { cursor: 41n * S, tieBreak: null }, upper: 42n * S });
  });

  it('keeps the narrowest range found when a probe fails for another reason, or the probes run out', async () => {
    const { source } = sourceWith(700n, 2);
    const found = await locateRefusedRows(source, shape, { cursor: 0n, tieBreak: null }, 1_024n * S, { isRowValueError });
    assert.deepEqual(found, { lower: { cursor: 512n * S, tieBreak: null }, upper: 768n * S });
    const capped = await locateRefusedRows(sourceWith(700n).source, shape, { cursor: 0n, tieBreak: null }, 1_024n * S, {
      isRowValueError,
      maxProbes: 1,
    });
    assert.deepEqual(capped, { lower: { cursor: 512n * S, tieBreak: null }, upper: 1_024n * S });
  });

  it('says in one line: the window, the error without the step, where the rows are and how to see them', async () => {
    const { source } = sourceWith(1_751_364_300n); // 2025-07-01 10:05:00
    const err = await refusedRowsError(
      cfg,
      source,
      shape,
      {
        from: { timestamp: '2025-07-01T10:00:00.000000Z', tieBreak: null },
        lower: { cursor: 1_751_364_000n * S, tieBreak: null },
        upper: 1_751_364_420n * S,
      },
      new ClickHouseQueryError(407, 'ClickHouse error 407: extracting rows: Decimal convert overflow'),
      { isRowValueError },
    );
    assert.equal(err.exitCode, 1);
    assert.equal(
      err.message,
      'window (2025-07-01 10:00:00, 2025-07-01 10:07:00]: ClickHouse error 407: Decimal convert overflow — rows at window_start = 2025-07-01 10:05:00 cannot be read. ' +
        'Nothing was committed. Change or delete them at the source (for a query table: in the tables it reads), then run again; ' +
        `see them: the table's query with WHERE (${1_751_364_299n * S}, ${1_751_364_300n * S}]`,
    );
    assert.doesNotMatch(err.message, /\n/);
  });
});
