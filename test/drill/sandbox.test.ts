// The sandbox's names: a copy of a configured table under a name and target of its own, and the sandbox id
// that tells when it was made (what `offload drill --clean` goes by).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateTablesConfig } from '../../src/config/tables.js';
import { sandboxCreatedAt, sandboxTableConfig } from '../../src/drill/sandbox.js';

describe('drill sandbox', () => {
  it('copies a configured table under its own name and Iceberg namespace, same source and settings', () => {
    const [t] = validateTablesConfig(
      {
        tables: [
          {
            name: 'bronze_trades_binance',
            layer: 'bronze',
            source: 'k2.bronze_trades_binance',
            cursor: 'exchange_timestamp',
            tieBreak: 'kafka_offset',
            lag: '1m',
            target: 'cold.trades',
            partitionBy: ['day(exchange_timestamp)'],
          },
        ],
      },
      'test',
    ).tables;
    const copy = sandboxTableConfig(t, 'abc1230f0f', 'test');
    assert.equal(copy.name, 'drill_abc1230f0f_bronze_trades_binance');
    assert.equal(copy.target, 'drill_abc1230f0f.trades');
    assert.deepEqual(
      [copy.source, copy.cursor, copy.tieBreak, copy.lag, copy.partitionBy],
      [t.source, t.cursor, t.tieBreak, t.lag, t.partitionBy],
    );
  });

  it('reads when a sandbox was made from its id, and refuses what is not one', () => {
    const at = Date.UTC(2026, 1, 11, 12, 0, 0);
    assert.equal(sandboxCreatedAt(`${at.toString(36)}beef`), at);
    assert.equal(sandboxCreatedAt('nothex'), null);
    assert.equal(sandboxCreatedAt(`${(1000).toString(36).padStart(6, '0')}beef`), null, 'before 2017: not an id');
  });
});
