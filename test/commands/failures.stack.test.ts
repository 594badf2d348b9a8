// The failure table of the CLI, on the real local stack: for each way a service or the settings can be
// wrong — PostgreSQL down, a wrong PostgreSQL password, a wrong ClickHouse password, ClickHouse down, S3
// down, a wrong S3 secret key, no AWS credentials, no environment at all, a bad configuration file — each
// of `run --table`, `run --all`, `run --every`, `runs`, `status`, `gc` and `drill` exits with the documented
// code and says so in exactly one line on stderr (and, with --json, a document on stdout). A command that
// does not need the service concerned is not disturbed by it. "Down" is a closed port; the wrong PostgreSQL
// password belongs to a role made for this test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import type { StatusReport } from '../../src/pipeline/status-model.js';
import { CLI, freshCliStack, type CliStack } from '../support/cli-stack.js';
import { ROOT, stackEnv, uniqueName } from '../support/stack.js';

const WRONG = 'Wrong-Pw-9f3';

let stack: CliStack;
let role: string;

before(async () => {
  stack = await freshCliStack('failures');
  const now = Date.now();
  await stack.seed(2_000, new Date(now - 2 * 86_400_000), new Date(now - 3_600_000), 'failures');
  const run = await stack.offload(['run', '--table', 'bronze_trades_binance']);
  assert.equal(run.exitCode, 0, String(run.stderr));
  role = uniqueName('failures_role').toLowerCase();
  const admin = new pg.Client({ connectionString: stackEnv().DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'Right-Pw-4c1'`);
  await admin.end();
});

after(async () => {
  if (role) {
    const admin = new pg.Client({ connectionString: stackEnv().DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  }
  await stack?.drop();
});

type Service = 'ClickHouse' | 'PostgreSQL' | 'S3';
const ALL: Service[] = ['ClickHouse', 'PostgreSQL', 'S3'];
/** Each command, and the services it needs: a failure of another one leaves it undisturbed. */
const COMMANDS = {
  'run --table': { args: ['run', '--table', 'bronze_trades_binance'], needs: ALL },
  'run --all': { args: ['run', '--all'], needs: ALL },
  'run --every': { args: ['run', '--all', '--every', '1h'], needs: ALL },
  runs: { args: ['runs'], needs: ['PostgreSQL'] },
  status: { args: ['status'], needs: ALL },
  gc: { args: ['gc'], needs: ['PostgreSQL', 'S3'] },
  drill: { args: ['drill', '--table', 'bronze_trades_binance', '--fault', 'after-plan', '--no-pyiceberg'], needs: ALL },
} satisfies Record<string, { args: string[]; needs: Service[] }>;
type Command = keyof typeof COMMANDS;

interface Scenario {
  name: string;
  /** The environment the CLI runs with (replacing the stack's, never merged with the test's). */
  env: () => Record<string, string>;
  /** The line every command that fails prints (without `offload: `). */
  line: () => RegExp;
  /** The service at fault: the commands that need it exit `code`, the others 0. */
  service?: Service;
  code: 3 | 4;
  /** Commands that do not fail although no service is at fault. */
  unaffected?: Command[];
}

const exitOf = (s: Scenario, c: Command) =>
  (s.service ? (COMMANDS[c].needs as Service[]).includes(s.service) : !s.unaffected?.includes(c)) ? s.code : 0;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const withUrl = (url: string, change: (u: URL) => void) => {
  const u = new URL(url);
  change(u);
  return u.toString();
};
const pgDisplay = (url: string) =>
  withUrl(url, (u) => {
    u.password = u.password ? '***' : '';
  }).replace(/\/$/, '');
const wrongLogin = (url: string) =>
  withUrl(url, (u) => {
    u.username = role;
    u.password = WRONG;
  });

const SCENARIOS: Scenario[] = [
  {
    name: 'PostgreSQL down',
    env: () => ({ ...stack.env, DATABASE_URL: withUrl(stack.pgUrl, (u) => (u.port = '1')) }),
    line: () =>
      new RegExp(
        `^cannot reach PostgreSQL at ${escapeRegExp(pgDisplay(withUrl(stack.pgUrl, (u) => (u.port = '1'))))} \\(connection refused\\); is the server running, and is DATABASE_URL right\\?$`,
      ),
    service: 'PostgreSQL',
    code: 4,
  },
  {
    name: 'a wrong PostgreSQL password',
    env: () => ({ ...stack.env, DATABASE_URL: wrongLogin(stack.pgUrl) }),
    line: () =>
      new RegExp(
        `^PostgreSQL at ${escapeRegExp(pgDisplay(wrongLogin(stack.pgUrl)))}: login refused \\(password authentication failed for user "${role}"\\); check the user and password in DATABASE_URL$`,
      ),
    service: 'PostgreSQL',
    code: 3,
  },
  {
    name: 'a wrong ClickHouse password',
    env: () => ({ ...stack.env, CLICKHOUSE_URL: withUrl(stack.env.CLICKHOUSE_URL, (u) => (u.password = WRONG)) }),
    line: () =>
      /^ClickHouse at http:\/\/default:\*\*\*@127\.0\.0\.1:\d+: login refused \(.+\); check the user and password in CLICKHOUSE_URL \(or CLICKHOUSE_USER \/ CLICKHOUSE_PASSWORD\)$/,
    service: 'ClickHouse',
    code: 3,
  },
  {
    name: 'ClickHouse down',
    env: () => ({ ...stack.env, CLICKHOUSE_URL: 'http://127.0.0.1:1' }),
    line: () =>
      /^cannot reach ClickHouse at http:\/\/default@127\.0\.0\.1:1 \(connection refused\); is the server running, and is CLICKHOUSE_URL right\?$/,
    service: 'ClickHouse',
    code: 4,
  },
  {
    name: 'S3 down',
    env: () => ({ ...stack.env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' }),
    line: () =>
      /^cannot reach S3 at http:\/\/127\.0\.0\.1:1 \(connection refused\); is the server running, and is AWS_ENDPOINT_URL_S3 right\?$/,
    service: 'S3',
    code: 4,
  },
  {
    name: 'a wrong S3 secret key',
    env: () => ({ ...stack.env, AWS_SECRET_ACCESS_KEY: WRONG }),
    line: () =>
      new RegExp(
        `^S3 at ${escapeRegExp(stack.env.AWS_ENDPOINT_URL_S3)}: access refused \\(HTTP 403 .+\\) to probe s3://\\S+; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the key's permissions on the bucket$`,
      ),
    service: 'S3',
    code: 3,
  },
  {
    name: 'no AWS credentials',
    env: () => {
      const env = { ...stack.env, HOME: mkdtempSync(join(tmpdir(), 'offload-no-aws-')), AWS_EC2_METADATA_DISABLED: 'true' };
      delete (env as Record<string, string | undefined>).AWS_ACCESS_KEY_ID;
      delete (env as Record<string, string | undefined>).AWS_SECRET_ACCESS_KEY;
      return env;
    },
    line: () =>
      new RegExp(
        `^S3 at ${escapeRegExp(stack.env.AWS_ENDPOINT_URL_S3)}: no AWS credentials found \\(not in the environment, ~/\\.aws or an instance profile\\); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \\(or AWS_PROFILE\\)$`,
      ),
    service: 'S3',
    code: 3,
  },
  {
    name: 'no environment at all',
    env: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: mkdtempSync(join(tmpdir(), 'offload-no-env-')) }),
    line: () =>
      /^no connection settings in the environment: set CLICKHOUSE_URL, DATABASE_URL, OFFLOAD_WAREHOUSE and the AWS_\* variables \(README "Configuration"; `source \.stack\/env` sets them for the local stack\)$/,
    code: 3,
  },
  {
    name: 'a bad configuration file',
    env: () => {
      const file = join(mkdtempSync(join(tmpdir(), 'offload-bad-config-')), 'bad.json');
      writeFileSync(file, JSON.stringify({ tables: [{ name: 'x', source: 'k2.x' }] }));
      return { ...stack.env, OFFLOAD_CONFIG: file };
    },
    line: () =>
      /^\/\S+\/bad\.json: 3 problems: \(1\) tables\[0\]\.layer: required: one of "bronze", "silver", "gold"; \(2\) tables\[0\]\.cursor: required: a column name; \(3\) tables\[0\]\.target: required: an Iceberg table "namespace\.table"$/,
    code: 3,
    // The run history needs no configuration (only `runs --table` reads it, to check the name).
    unaffected: ['runs'],
  },
];

/** The built CLI with exactly `env` (the shipped configuration is found in the project directory without one). */
function cli(args: string[], env: Record<string, string>) {
  return execa('node', [CLI, ...args], { cwd: ROOT, env, extendEnv: false, reject: false, timeout: 120_000 });
}

describe('every failure: one line on stderr, the documented exit code, a JSON document under --json', () => {
  for (const s of SCENARIOS) {
    const codes = (Object.keys(COMMANDS) as Command[]).map((c) => `${c} ${exitOf(s, c)}`).join(', ');
    it(`${s.name}: ${codes}`, async () => {
      const env = s.env();
      const commands = Object.keys(COMMANDS) as Command[];
      // Each command twice, for people and with --json: the commands at once (separate processes), each
      // command's two runs one after the other (two gc at once would find each other holding the table).
      const perCommand = await Promise.all(
        commands.map(async (c) => [
          { c, r: await cli(COMMANDS[c].args, env) },
          { c, r: await cli([...COMMANDS[c].args, '--json'], env) },
        ]),
      );
      const results = perCommand.flat();
      for (const { c, r } of results) {
        const isJson = r.command.includes('--json');
        const what = `${s.name}: offload ${COMMANDS[c].args.join(' ')}${isJson ? ' --json' : ''}`;
        const code = exitOf(s, c);
        const stdout = String(r.stdout);
        const stderr = String(r.stderr);
        assert.equal(r.exitCode, code, `${what}: exit code\n${stderr}`);
        assert.ok(!stdout.includes(WRONG) && !stderr.includes(WRONG), `${what}: a password was printed`);
        if (code === 0) {
          assert.equal(stderr, '', `${what}: not disturbed by a service it does not use`);
          continue;
        }
        const lines = stderr.split('\n');
        assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${stderr}`);
        assert.match(lines[0], /^offload: /, what);
        assert.match(lines[0].slice('offload: '.length), s.line(), what);
        if (c === 'status' && s.service) {
          // The report is still printed, the service that failed marked, and the rest filled in.
          if (isJson) {
            const report = JSON.parse(stdout) as StatusReport;
            const bad = report.services.find((x) => x.name === s.service);
            assert.ok(bad && !bad.ok, `${what}: ${JSON.stringify(report.services)}`);
            assert.equal(bad.exitCode, code, what);
            assert.equal(bad.error, lines[0].slice('offload: '.length), what);
            assert.deepEqual(
              report.services.filter((x) => x.ok).map((x) => x.name),
              ['ClickHouse', 'PostgreSQL', 'S3'].filter((n) => n !== s.service),
              `${what}: the others answered`,
            );
            assert.equal(report.tables.length, 9, what);
          } else {
            assert.match(stdout, new RegExp(`^✗ ${s.service} .* (UNREACHABLE|REFUSED): `, 'm'), what);
            assert.match(stdout, /^TABLE +LAYER +WATERMARK/m, `${what}: the tables are still listed`);
            assert.equal(stdout.match(/^(bronze|silver|ohlcv)_\S+ /gm)?.length, 9, what);
          }
          continue;
        }
        if (isJson) {
          const doc = JSON.parse(stdout) as Record<string, unknown>;
          assert.deepEqual(
            doc,
            {
              error: lines[0].slice('offload: '.length),
              exitCode: code,
              kind: code === 3 ? 'config' : 'unavailable',
              ...(s.service ? { service: s.service } : {}),
            },
            what,
          );
        } else {
          assert.equal(stdout, '', `${what}: nothing done, nothing printed`);
        }
      }
    });
  }

  it('a configuration that names what the source lacks: 3 with the table named, and the rest still reported', async () => {
    const doc = stack.configDoc();
    const missing = {
      name: 'bronze_missing',
      layer: 'bronze',
      source: `${stack.clickhouseDatabase}.no_such_table`,
      cursor: 'exchange_timestamp',
      target: 'cold.bronze_missing',
    };
    const config = stack.writeConfig('missing.json', { ...doc, tables: [missing, ...doc.tables] });
    const status = await stack.offload(['status', '--config', config]);
    assert.equal(status.exitCode, 3, String(status.stderr));
    assert.equal(status.stderr, `offload: bronze_missing: ClickHouse: table ${stack.clickhouseDatabase}.no_such_table does not exist`);
    assert.match(
      String(status.stdout),
      /^bronze_trades_binance +bronze +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d #\d+ +\S+/m,
      'the rest is reported',
    );
    const run = await stack.offload(['run', '--table', 'bronze_missing', '--config', config, '--json']);
    assert.equal(run.exitCode, 3);
    assert.equal(run.stderr, `bronze_missing: FAILED — ClickHouse: table ${stack.clickhouseDatabase}.no_such_table does not exist`);
    assert.deepEqual(JSON.parse(String(run.stdout)).results[0], {
      table: 'bronze_missing',
      layer: 'bronze',
      status: 'failed',
      error: `ClickHouse: table ${stack.clickhouseDatabase}.no_such_table does not exist`,
      exitCode: 3,
    });
    const all = await stack.offload(['run', '--all', '--config', config]);
    assert.equal(all.exitCode, 3);
    assert.match(
      String(all.stdout),
      new RegExp(
        `^silver_trades: skipped — not run: the bronze layer failed \\(bronze_missing: ClickHouse: table ${stack.clickhouseDatabase}\\.no_such_table does not exist\\), and later layers are made from it$`,
        'm',
      ),
      'a skipped table says why the layer before failed',
    );
  });

  it('an unknown table: 3, one line, and JSON under --json; runs too', async () => {
    const run = await stack.offload(['run', '--table', 'nope', '--json']);
    assert.equal(run.exitCode, 3);
    const line = String(run.stderr);
    assert.match(line, /^offload: \S+offload\.config\.json: no table "nope" \(configured: bronze_trades_binance, .*ohlcv_1d\)$/);
    assert.deepEqual(JSON.parse(String(run.stdout)), { error: line.slice('offload: '.length), exitCode: 3, kind: 'config' });
    const runs = await stack.offload(['runs', '--table', 'nope']);
    assert.equal(runs.exitCode, 3);
    assert.equal(runs.stderr, line);
    const known = await stack.offload(['runs', '--table', 'ohlcv_1d']);
    assert.equal(known.exitCode, 0, 'a configured table never run is not an error');
    assert.match(String(known.stdout), /no runs of ohlcv_1d yet/);
  });

  it('a database `offload init` never prepared: 3, saying to run it (runs, status, run, gc)', async () => {
    const admin = new pg.Client({ connectionString: stackEnv().DATABASE_URL });
    const name = uniqueName('failures_bare').toLowerCase();
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    try {
      const env = { DATABASE_URL: withUrl(stack.pgUrl, (u) => (u.pathname = `/${name}`)) };
      const expected = `offload: PostgreSQL at ${pgDisplay(env.DATABASE_URL)} has no offload tables (offload_watermarks, offload_runs, iceberg_tables) yet: run \`offload init\` first`;
      const runs = await stack.offload(['runs'], env);
      assert.equal(runs.exitCode, 3);
      assert.equal(runs.stderr, expected);
      const status = await stack.offload(['status'], env);
      assert.equal(status.exitCode, 3);
      assert.equal(status.stderr, `offload: every table: ${expected.slice('offload: '.length)}`);
      const run = await stack.offload(['run', '--table', 'ohlcv_1d'], env);
      assert.equal(run.exitCode, 3);
      assert.equal(run.stderr, `ohlcv_1d: FAILED — ${expected.slice('offload: '.length)}`);
      const gc = await stack.offload(['gc'], env);
      assert.equal(gc.exitCode, 3);
      assert.equal(gc.stderr, expected);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });
});
