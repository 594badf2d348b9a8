// The table configuration: the shipped file is valid and matches the seed schema; broken files are
// rejected with the file, the exact key path and what was expected.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  durationMs,
  loadTablesConfig,
  parseDuration,
  parseSize,
  parseTablesConfig,
  resolveConfigPath,
  sizeBytes,
  validateTablesConfig,
} from '../../src/config/tables.js';
import { ConfigError, ExitCode } from '../../src/core/errors.js';
import { CANDLE_TABLES, SEED_TABLES, candleSelectSql } from '../../src/dev/schema.js';
import { ROOT } from '../support/stack.js';

const good = {
  name: 'bronze_trades_kraken',
  layer: 'bronze',
  source: 'k2.bronze_trades_kraken',
  cursor: 'exchange_timestamp',
  target: 'cold.bronze_trades_kraken',
};

/** The ConfigError message for a document, or a failure when it is accepted. */
function rejection(doc: unknown, file = 'offload.config.json'): string {
  try {
    validateTablesConfig(doc, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.config);
    return err.message;
  }
  assert.fail('the document was accepted');
}

/** A rejection's one line back into one `file: key: message` per problem. */
function problems(line: string): string[] {
  const several = /^(.+?): \d+ problems: (.*)$/.exec(line);
  if (!several) return [line];
  return several[2]
    .split(/(?:^|; )\(\d+\) /)
    .filter(Boolean)
    .map((p) => `${several[1]}: ${p}`);
}

describe('the shipped offload.config.json', () => {
  const config = loadTablesConfig({ config: join(ROOT, 'offload.config.json') });

  it('is valid and lists the nine seed tables in layer order', () => {
    assert.deepEqual(
      config.tables.map((t) => t.name),
      [...SEED_TABLES],
    );
    assert.deepEqual(
      config.tables.map((t) => t.layer),
      ['bronze', 'bronze', 'silver', 'gold', 'gold', 'gold', 'gold', 'gold', 'gold'],
    );
  });

  it('targets the seed Iceberg tables with the seed partitioning', () => {
    const byName = new Map(config.tables.map((t) => [t.name, t]));
    assert.equal(byName.get('bronze_trades_binance')!.target, 'cold.bronze_trades_binance');
    assert.deepEqual(byName.get('bronze_trades_kraken')!.partitionBy, ['day(exchange_timestamp)']);
    assert.deepEqual(byName.get('silver_trades')!.partitionBy, ['day(timestamp)', 'exchange', 'asset_class']);
    for (const c of CANDLE_TABLES) {
      const t = byName.get(c)!;
      assert.equal(t.target, `cold.gold_${c}`);
      assert.deepEqual(t.partitionBy, ['month(window_start)', 'exchange']);
      assert.equal(t.cursor, 'window_start');
      assert.equal(t.tieBreak, null);
    }
    for (const t of config.tables) {
      assert.equal(t.lagMs, 5 * 60_000);
      assert.equal(t.targetFileSizeBytes, 128 * 1024 * 1024);
    }
  });

  it("never uses Kraken's constant sequence_number as a tie-break", () => {
    for (const t of config.tables) assert.notEqual(t.tieBreak, 'sequence_number', t.name);
    assert.equal(config.tables.find((t) => t.name === 'bronze_trades_kraken')!.tieBreak, 'kafka_offset');
  });

  it('reads candles through the re-aggregating query, only closed windows', () => {
    const windows: Record<string, number> = {
      ohlcv_1m: 60,
      ohlcv_5m: 300,
      ohlcv_15m: 900,
      ohlcv_30m: 1800,
      ohlcv_1h: 3600,
      ohlcv_1d: 86400,
    };
    for (const c of CANDLE_TABLES) {
      const t = config.tables.find((x) => x.name === c)!;
      assert.equal(t.query, candleSelectSql(c), `${c}: the query must be candleSelectSql('${c}')`);
      assert.equal(t.closedWindowMs, windows[c] * 1000);
    }
  });
});

describe('rejected configurations name the file, the key and what was expected', () => {
  it('a missing cursor', () => {
    const { cursor: _omit, ...noCursor } = good;
    assert.equal(rejection({ tables: [good, noCursor] }), 'offload.config.json: tables[1].cursor: required: a column name');
  });

  it('a cursor that is not a string', () => {
    assert.equal(
      rejection({ tables: [{ ...good, cursor: 7 }] }),
      'offload.config.json: tables[0].cursor: expected a column name, got number 7',
    );
  });

  it('an unknown layer', () => {
    assert.equal(
      rejection({ tables: [{ ...good, layer: 'platinum' }] }),
      'offload.config.json: tables[0].layer: expected one of "bronze", "silver", "gold", got "platinum"',
    );
  });

  it('a lag that is not a duration', () => {
    assert.equal(
      problems(rejection({ tables: [good, good, { ...good, name: 'x', target: 'cold.x', lag: '5 minutes' }] })).find((l) =>
        l.includes('lag'),
      ),
      'offload.config.json: tables[2].lag: expected a duration like "5m" ("90s", "5m", "1h", "1d"), got "5 minutes"',
    );
  });

  it('a target file size that is not a size', () => {
    assert.equal(
      rejection({ tables: [{ ...good, targetFileSize: 'big' }] }),
      'offload.config.json: tables[0].targetFileSize: expected a size like "128MB" or "1GB", got "big"',
    );
  });

  it('a duplicate table name (and a duplicate target): several problems in one line', () => {
    assert.equal(
      rejection({ tables: [good, { ...good }] }),
      'offload.config.json: 2 problems: ' +
        '(1) tables[1].name: "bronze_trades_kraken" is already the name of tables[0] (names must be unique); ' +
        '(2) tables[1].target: "cold.bronze_trades_kraken" is already the target of tables[0] (two tables cannot write one Iceberg table)',
    );
  });

  it('a misspelt key, with a suggestion', () => {
    assert.equal(
      rejection({ tables: [{ ...good, curser: 'x' }] }),
      'offload.config.json: tables[0].curser: unknown key (did you mean "cursor"?)',
    );
  });

  it('a gold table without a closed window', () => {
    assert.equal(
      rejection({ tables: [{ ...good, layer: 'gold' }] }),
      'offload.config.json: tables[0].closedWindow: required for gold tables: the aggregate window (e.g. "1m", "1h", "1d"); only closed windows are offloaded',
    );
  });

  it('neither a source nor a query', () => {
    const { source: _omit, ...noSource } = good;
    assert.equal(
      rejection({ tables: [noSource] }),
      'offload.config.json: tables[0]: expected "source" (a ClickHouse table "database.table") or "query" (a SELECT), got neither',
    );
  });

  it('a source without a database, a target without a namespace, a bad partition: one line', () => {
    const msg = rejection({ tables: [{ ...good, source: 'bronze_trades_kraken', target: 'bronze', partitionBy: ['bucket[16](symbol)'] }] });
    assert.deepEqual(problems(msg), [
      'offload.config.json: tables[0].source: expected a ClickHouse table "database.table" (e.g. "k2.bronze_trades_binance"), got "bronze_trades_kraken"',
      'offload.config.json: tables[0].target: expected an Iceberg table "namespace.table" (e.g. "cold.bronze_trades_binance"), got "bronze"',
      'offload.config.json: tables[0].partitionBy[0]: expected a partition expression: "day(col)", "month(col)", "year(col)", "hour(col)", "identity(col)" or a column name; got "bucket[16](symbol)"',
    ]);
  });

  it('two tie-break columns', () => {
    assert.equal(
      rejection({ tables: [{ ...good, tieBreak: ['kafka_partition', 'kafka_offset'] }] }),
      'offload.config.json: tables[0].tieBreak: only one tie-break column is supported (the watermark keeps one tie-break value)',
    );
  });

  it('no tables list, or not an object at all', () => {
    assert.equal(problems(rejection({ table: [] }, 'my.json'))[0], 'my.json: tables: required: a list of tables');
    assert.equal(rejection([1, 2], 'my.json'), 'my.json: expected an object with a "tables" list at the top level, got a list');
  });

  it('invalid JSON, with line and column', () => {
    assert.throws(
      () => parseTablesConfig('{\n  "tables": [\n    {"name": "x",}\n  ]\n}', 'bad.json'),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^bad\.json: not valid JSON \(line 3, column \d+: /);
        return true;
      },
    );
  });

  it('a missing file says how to choose one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'offload-cfg-'));
    assert.throws(
      () => loadTablesConfig({ config: join(dir, 'nope.json') }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /nope\.json: no such file \(choose one with --config or OFFLOAD_CONFIG/);
        return true;
      },
    );
  });
});

describe('YAML configuration', () => {
  it('is read like JSON, by extension', () => {
    const dir = mkdtempSync(join(tmpdir(), 'offload-cfg-'));
    const file = join(dir, 'offload.config.yaml');
    writeFileSync(
      file,
      [
        'tables:',
        '  - name: ohlcv_1h',
        '    layer: gold',
        '    source: k2.ohlcv_1h',
        '    cursor: window_start',
        '    closedWindow: 1h',
        '    lag: 90s',
        '    target: cold.gold_ohlcv_1h',
        '    partitionBy: ["month(window_start)", exchange]',
        '    targetFileSize: 64MB',
      ].join('\n'),
    );
    const config = loadTablesConfig({ config: file, cwd: dir });
    assert.equal(config.file, 'offload.config.yaml');
    const [t] = config.tables;
    assert.equal(t.closedWindowMs, 3_600_000);
    assert.equal(t.lagMs, 90_000);
    assert.equal(t.targetFileSizeBytes, 64 * 1024 * 1024);
    assert.deepEqual(t.partitionBy, ['month(window_start)', 'exchange']);
  });

  it('reports YAML syntax errors and key paths with the file name', () => {
    assert.throws(() => parseTablesConfig('tables:\n  - name: [unclosed\n', 'c.yml'), /^ConfigError: c\.yml: not valid YAML/);
    assert.throws(
      () => parseTablesConfig('tables:\n  - name: x\n    layer: gold\n', 'c.yml'),
      (err: Error) => {
        assert.ok(problems(err.message).includes('c.yml: tables[0].cursor: required: a column name'), err.message);
        return true;
      },
    );
  });

  it('is found by default when there is no offload.config.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'offload-cfg-'));
    writeFileSync(join(dir, 'offload.config.yml'), 'tables: []\n');
    assert.equal(resolveConfigPath({ cwd: dir, env: {} }), join(dir, 'offload.config.yml'));
  });
});

describe('config path, durations and sizes', () => {
  it('takes --config over OFFLOAD_CONFIG over ./offload.config.json', () => {
    assert.equal(resolveConfigPath({ config: 'a.json', env: { OFFLOAD_CONFIG: '/x/b.json' }, cwd: '/w' }), '/w/a.json');
    assert.equal(resolveConfigPath({ env: { OFFLOAD_CONFIG: '/x/b.json' }, cwd: '/w' }), '/x/b.json');
    assert.equal(resolveConfigPath({ env: {}, cwd: '/nonexistent-dir' }), '/nonexistent-dir/offload.config.json');
  });

  it('parses durations', () => {
    assert.equal(durationMs('5m'), 300_000);
    assert.equal(durationMs('90s'), 90_000);
    assert.equal(durationMs('1h30m'), 5_400_000);
    assert.equal(durationMs('1d'), 86_400_000);
    assert.equal(durationMs('250ms'), 250);
    assert.equal(durationMs('0s'), 0);
    assert.equal(durationMs('1.5h'), 5_400_000);
    for (const bad of ['5', '5 m', 'm', '-5m', '5min', '']) assert.equal(durationMs(bad), null, bad);
    assert.throws(
      () => parseDuration('soon', 'tables[0].lag'),
      /^ConfigError: tables\[0\]\.lag: "soon" is not a duration \(expected e\.g\. "90s"/,
    );
  });

  it('parses sizes in binary multiples', () => {
    assert.equal(sizeBytes('128MB'), 134_217_728);
    assert.equal(sizeBytes('512KiB'), 524_288);
    assert.equal(sizeBytes('1GB'), 1_073_741_824);
    assert.equal(sizeBytes('1048576'), 1_048_576);
    assert.equal(sizeBytes('64 mb'), 67_108_864);
    for (const bad of ['', 'MB', '1TBx', '-1MB']) assert.equal(sizeBytes(bad), null, bad);
    assert.throws(() => parseSize('huge', 'tables[2].targetFileSize'), /^ConfigError: tables\[2\]\.targetFileSize: "huge" is not a size/);
  });
});

describe('the compaction policy of a table', () => {
  const table = (compaction: unknown, extra: Record<string, unknown> = {}) =>
    validateTablesConfig({ tables: [{ ...good, ...extra, compaction }] }, 'test-config').tables[0].compaction;

  it('is off unless the table opts in; true takes the defaults, minAge the lag', () => {
    assert.equal(validateTablesConfig({ tables: [good] }, 'test-config').tables[0].compaction, null);
    assert.deepEqual(table(true, { lag: '10m' }), { minAge: '10m', minAgeMs: 600_000 });
    assert.deepEqual(table({ minFiles: 3, smallFileRatio: 0.5, minAge: '2h' }), {
      minFiles: 3,
      smallFileRatio: 0.5,
      minAge: '2h',
      minAgeMs: 7_200_000,
    });
  });

  it('refuses what cannot be a policy, naming the key', () => {
    assert.throws(() => table({ minFiles: 1 }), /tables\[0\]\.compaction\.minFiles.*whole number ≥ 2/);
    assert.throws(() => table({ smallFileRatio: 1.5 }), /tables\[0\]\.compaction\.smallFileRatio.*at most 1/);
    assert.throws(() => table({ minAge: 'soon' }), /tables\[0\]\.compaction\.minAge/);
    assert.throws(() => table({ every: '1h' }), /tables\[0\]\.compaction/);
    assert.throws(() => table('yes'), /tables\[0\]\.compaction.*true, or an object/);
  });
});
