// The built `offload` CLI as a child process against the local stack, in a fresh PostgreSQL database and
// a fresh ClickHouse database: init → seed → status --json, and the failures a person must understand.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { StatusReport } from '../src/pipeline/status-model.js';
import { CLI, ensureBuilt } from './support/cli-stack.js';
import { freshClickHouseDatabase, freshPostgresDatabase, ROOT, SHIPPED_TABLES, shippedConfig, stackEnv } from './support/stack.js';

let ch: Awaited<ReturnType<typeof freshClickHouseDatabase>>;
let pg: Awaited<ReturnType<typeof freshPostgresDatabase>>;
let configFile: string;
let env: Record<string, string>;

function offload(args: string[], extraEnv: Record<string, string> = {}) {
  return execa('node', [CLI, ...args], {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    reject: false,
    timeout: 120_000,
  });
}

before(async () => {
  await ensureBuilt();
  ch = await freshClickHouseDatabase('cli');
  pg = await freshPostgresDatabase('cli');
  env = { ...stackEnv(), DATABASE_URL: pg.url };
  delete env.OFFLOAD_DEBUG;
  // The shipped configuration, pointed at this test's ClickHouse database.
  const dir = mkdtempSync(join(tmpdir(), 'offload-cli-'));
  configFile = join(dir, 'offload.config.json');
  writeFileSync(configFile, shippedConfig(ch.name));
  env.OFFLOAD_CONFIG = configFile;
});

after(async () => {
  await ch?.drop();
  await pg?.drop();
});

describe('offload CLI on the local stack', () => {
  it('init applies migrations, seeds nine watermarks and the ClickHouse schema; twice is harmless', async () => {
    const first = await offload(['init', '--clickhouse-schema', '--clickhouse-database', ch.name]);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.match(first.stdout, /PostgreSQL {2}postgres:\/\/offload:\*\*\*@127\.0\.0\.1:\d+\/\S+: schema version \d+ \(applied 001_/);
    assert.match(first.stdout, /watermarks {2}9 tables configured in .*; 9 created at 1970-01-01/);
    assert.match(
      first.stdout,
      new RegExp(`ClickHouse  http://default@127\\.0\\.0\\.1:\\d+: seed schema in database ${ch.name} \\(30 statements`),
    );
    const second = await offload(['init', '--clickhouse-schema', '--clickhouse-database', ch.name, '--json']);
    assert.equal(second.exitCode, 0, second.stderr);
    const result = JSON.parse(second.stdout);
    assert.deepEqual(result.postgres.applied, []);
    assert.deepEqual(result.watermarks.created, []);
    assert.equal(result.watermarks.configured.length, 9);
  });

  it('seed inserts the rows asked for', async () => {
    const r = await offload(['seed', '--rows', '30000', '--seed', 'cli', '--database', ch.name, '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.rows, { total: 30_000, binance: 18_000, kraken: 12_000 });
    assert.ok(out.rowsPerSec > 0);
  });

  it('status --json lists the three services and the nine tables with ClickHouse rows and watermarks at 1970-01-01', async () => {
    const r = await offload(['status', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout) as StatusReport;
    assert.deepEqual(
      report.services.map((s) => [s.name, s.ok]),
      [
        ['ClickHouse', true],
        ['PostgreSQL', true],
        ['S3', true],
      ],
    );
    assert.equal(report.services[2].location, env.OFFLOAD_WAREHOUSE, 'S3: the warehouse it was probed on');
    assert.equal(report.services[2].url, env.AWS_ENDPOINT_URL_S3);
    assert.deepEqual(
      report.tables.map((t) => t.name),
      SHIPPED_TABLES,
    );
    const byName = new Map(report.tables.map((t) => [t.name, t]));
    for (const t of report.tables) {
      assert.ok(t.watermark.ok, `${t.name}: ${JSON.stringify(t.watermark)}`);
      assert.equal(t.watermark.value.timestamp, '1970-01-01T00:00:00.000000Z');
      assert.equal(t.watermark.value.status, 'initialized');
      assert.ok(t.clickhouse.ok, `${t.name}: ${JSON.stringify(t.clickhouse)}`);
      assert.ok(t.clickhouse.value.totalRows > 0, `${t.name} has no rows`);
      assert.equal(t.clickhouse.value.rowsUpToWatermark, 0);
      assert.equal(t.clickhouse.value.pendingRows, t.clickhouse.value.totalRows);
      assert.deepEqual(t.iceberg, { ok: true, value: { exists: false, rows: 0, snapshotId: null, snapshotAt: null, watermark: null } });
      assert.equal(t.lagSec, 300);
      assert.equal(t.isBusy, false);
    }
    const total = (name: string) => {
      const c = byName.get(name)!.clickhouse;
      return c.ok ? c.value.totalRows : -1;
    };
    assert.equal(total('bronze_trades_binance'), 18_000);
    assert.equal(total('bronze_trades_kraken'), 12_000);
    assert.equal(total('silver_trades'), 30_000);
    assert.ok(total('ohlcv_1m') > total('ohlcv_1h') && total('ohlcv_1h') > total('ohlcv_1d'), 'candles: more minutes than hours than days');
    assert.equal(byName.get('ohlcv_1d')!.layer, 'gold');
    assert.equal(byName.get('ohlcv_1d')!.target, 'cold.gold_ohlcv_1d');
  });

  it('status prints an aligned table for people', async () => {
    const r = await offload(['status']);
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('TABLE'))!;
    assert.ok(header, r.stdout);
    const rows = lines.filter((l) => /^(bronze|silver|ohlcv)_/.test(l));
    assert.equal(rows.length, 9);
    for (const row of rows) {
      assert.match(row, /^\S+ +(bronze|silver|gold) +never +pending /, "nothing offloaded yet: the TUI's words");
      assert.match(row, /no table yet +0 +— +never$/, 'Δ 0, LATE — before any offload, LAST RUN never');
      assert.equal(row.indexOf('pending'), header.indexOf('STATE'), 'columns line up');
      assert.equal(
        row.indexOf('no table yet') + 'no table yet'.length,
        header.indexOf('ICEBERG') + 'ICEBERG'.length,
        'Iceberg right-aligned',
      );
    }
    assert.match(r.stdout, /^✓ S3 +http:\/\/127\.0\.0\.1:\d+ +s3:\/\/\S+ +ok$/m);
  });

  it('a ClickHouse that cannot be reached: one message naming it, the URL redacted, exit code 4', async () => {
    const r = await offload(['status'], { CLICKHOUSE_URL: 'http://u:secret@127.0.0.1:1' });
    assert.equal(r.exitCode, 4);
    assert.equal(
      r.stderr,
      'offload: cannot reach ClickHouse at http://u:***@127.0.0.1:1 (connection refused); is the server running, and is CLICKHOUSE_URL right?',
    );
    assert.ok(!r.stderr.includes('secret') && !r.stdout.includes('secret'), 'the password never appears');
    assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    const seed = await offload(['seed', '--rows', '10'], { CLICKHOUSE_URL: 'http://u:secret@127.0.0.1:1' });
    assert.equal(seed.exitCode, 4);
    assert.equal(
      seed.stderr,
      'offload: cannot reach ClickHouse at http://u:***@127.0.0.1:1 (connection refused); is the server running, and is CLICKHOUSE_URL right?',
    );
  });

  it('a PostgreSQL that cannot be reached: exit code 4, password redacted', async () => {
    const r = await offload(['init'], { DATABASE_URL: 'postgres://offload:hunter22@127.0.0.1:1/offload' });
    assert.equal(r.exitCode, 4);
    assert.match(r.stderr, /^offload: cannot reach PostgreSQL at postgres:\/\/offload:\*\*\*@127\.0\.0\.1:1\/offload/);
    assert.ok(!r.stderr.includes('hunter22'));
  });

  it('a bad configuration file: the file, the key, what was expected; exit code 3', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'offload-cli-bad-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ tables: [{ name: 'x', layer: 'bronze', source: 'k2.x', target: 'cold.x' }] }));
    const r = await offload(['status', '--config', bad]);
    assert.equal(r.exitCode, 3);
    assert.equal(r.stderr, `offload: ${bad}: tables[0].cursor: required: a column name`);
  });

  it('--help lists the exit codes; a bad command line exits with 2', async () => {
    const help = await offload(['--help']);
    assert.equal(help.exitCode, 0);
    assert.match(help.stdout, /Exit codes:\n\s+0\s+success[\s\S]*4\s+a service \(ClickHouse, PostgreSQL, S3\) cannot be reached/);
    for (const command of ['init', 'seed', 'status']) {
      const r = await offload([command, '--help']);
      assert.equal(r.exitCode, 0, command);
      assert.match(r.stdout, new RegExp(`^Usage: offload ${command} \\[options\\]`));
    }
    const unknown = await offload(['statsu']);
    assert.equal(unknown.exitCode, 2);
    assert.match(unknown.stderr, /^offload: unknown command 'statsu'/);
    const badRows = await offload(['seed', '--rows', 'many']);
    assert.equal(badRows.exitCode, 2);
    const nothing = await offload(['seed']);
    assert.equal(nothing.exitCode, 2);
    assert.match(nothing.stderr, /give --rows N, --follow, or both/);
  });
});
