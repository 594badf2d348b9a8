// --log-format json on every command, through the built CLI on a fresh corner of the local stack: every
// line on stdout and stderr is one JSON object (a record with time, level, event and message, or a --json
// result document), failures included; nothing else leaks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dayAlignedBatches, freshCliStack, type CliStack } from '../support/cli-stack.js';

const TABLE = 'bronze_trades_binance';
let stack: CliStack;

interface LogRecord {
  time: string;
  level: 'info' | 'warn' | 'error';
  event: string;
  table?: string;
  runId?: string;
  message: string;
  [key: string]: unknown;
}

/** Every line of `text` parsed as a JSON object; fails naming the first line that is not. */
function lines(text: unknown, what: string): Array<Record<string, unknown>> {
  return String(text ?? '')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch {
        assert.fail(`${what}: not a JSON line: ${l}`);
      }
      assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${what}: not a JSON object: ${l}`);
      return v as Record<string, unknown>;
    });
}

/** Lines that must all be log records. */
function records(text: unknown, what: string): LogRecord[] {
  const out = lines(text, what) as LogRecord[];
  for (const r of out) {
    assert.ok(!Number.isNaN(Date.parse(r.time)) && /Z$/.test(r.time), `${what}: time ${JSON.stringify(r)}`);
    assert.ok(['info', 'warn', 'error'].includes(r.level), `${what}: level ${JSON.stringify(r)}`);
    assert.equal(typeof r.event, 'string', `${what}: event ${JSON.stringify(r)}`);
    assert.equal(typeof r.message, 'string', `${what}: message ${JSON.stringify(r)}`);
  }
  return out;
}

async function json(args: string[], env: Record<string, string> = {}) {
  const r = await stack.offload([...args, '--log-format', 'json'], env);
  const what = `offload ${args.join(' ')}`;
  return { exitCode: r.exitCode, what, stdout: String(r.stdout), stderr: String(r.stderr) };
}

before(async () => {
  stack = await freshCliStack('logfmt');
});

after(async () => {
  await stack?.drop();
});

describe('--log-format json', () => {
  it('init, seed, run, status, runs and gc print records only; tables and runs carry their fields', async () => {
    const init = await json(['init']);
    assert.equal(init.exitCode, 0, init.stderr);
    assert.ok(records(init.stdout, init.what).some((r) => /watermarks/.test(r.message)));
    records(init.stderr, init.what);

    const { start, end } = dayAlignedBatches(3)(10 * 3_600_000);
    const seed = await json([
      'seed',
      '--rows',
      '3000',
      '--start',
      start.toISOString(),
      '--end',
      end.toISOString(),
      '--database',
      stack.clickhouseDatabase,
    ]);
    assert.equal(seed.exitCode, 0, seed.stderr);
    assert.match(records(seed.stdout, seed.what)[0].message, /seeded 3,000 trades/);
    records(seed.stderr, seed.what);

    const run = await json(['run', '--table', TABLE]);
    assert.equal(run.exitCode, 0, run.stderr);
    const runOut = records(run.stdout, run.what);
    const committed = runOut.find((r) => r.event === 'committed');
    assert.ok(committed && committed.table === TABLE && typeof committed.runId === 'string' && committed.level === 'info', run.stdout);
    assert.ok(
      runOut.some((r) => r.event === 'planned' && r.table === TABLE),
      run.stdout,
    );
    records(run.stderr, run.what);

    // --json keeps its result document (one line); the events go to stderr as records.
    const runJson = await json(['run', '--table', TABLE, '--json']);
    assert.equal(runJson.exitCode, 0, runJson.stderr);
    const docs = lines(runJson.stdout, runJson.what);
    assert.equal(docs.length, 1);
    assert.equal((docs[0] as { results: Array<{ status: string }> }).results[0].status, 'up-to-date');
    assert.ok(
      records(runJson.stderr, runJson.what).some((r) => r.event === 'up-to-date' && r.table === TABLE),
      runJson.stderr,
    );

    const status = await json(['status']);
    assert.equal(status.exitCode, 0, status.stderr);
    const rows = records(status.stdout, status.what).filter((r) => r.event === 'row');
    assert.equal(rows.length, 9, status.stdout);
    const row = rows.find((r) => r.table === TABLE)!;
    assert.equal((row.columns as Record<string, string>).iceberg, (row.columns as Record<string, string>).up_to_wm);
    records(status.stderr, status.what);

    const runs = await json(['runs', '--table', TABLE]);
    assert.equal(runs.exitCode, 0, runs.stderr);
    const runRows = records(runs.stdout, runs.what);
    assert.ok(
      runRows.some((r) => r.runId === committed.runId && (r.columns as Record<string, string>).status === 'committed'),
      runs.stdout,
    );
    records(runs.stderr, runs.what);

    const gc = await json(['gc', '--dry-run', '--table', TABLE]);
    assert.equal(gc.exitCode, 0, gc.stderr);
    assert.deepEqual(
      records(gc.stdout, gc.what).map((r) => r.table),
      [TABLE],
    );
    records(gc.stderr, gc.what);
  });

  it('drill prints its steps as records with their event kinds', async () => {
    const drill = await json(['drill', '--table', TABLE, '--fault', 'after-plan', '--no-pyiceberg']);
    assert.equal(drill.exitCode, 0, `${drill.stdout}\n${drill.stderr}`);
    const out = records(drill.stdout, drill.what);
    assert.ok(
      out.some((r) => r.event === 'step-started' && r.table === TABLE),
      drill.stdout,
    );
    assert.ok(
      out.some((r) => r.event === 'check'),
      drill.stdout,
    );
    assert.ok(
      out.some((r) => /drill passed/.test(r.message)),
      drill.stdout,
    );
    records(drill.stderr, drill.what);
  });

  it('failures are one error record with the exit code: usage, configuration, unreachable service; help is records too', async () => {
    const usage = await json(['run']);
    assert.equal(usage.exitCode, 2);
    assert.equal(usage.stdout, '');
    const [u] = records(usage.stderr, usage.what);
    assert.deepEqual([u.level, u.event, u.exitCode], ['error', 'error', 2]);
    assert.match(u.message, /choose what to offload/);

    const unknown = await json(['status', '--no-such-flag']);
    assert.equal(unknown.exitCode, 2);
    const [k] = records(unknown.stderr, unknown.what);
    assert.deepEqual([k.level, k.event], ['error', 'usage-error']);

    const config = await json(['status', '--config', '/nonexistent/offload.config.json']);
    assert.equal(config.exitCode, 3);
    const c = records(config.stderr, config.what);
    assert.equal(c.length, 1, config.stderr);
    assert.deepEqual([c[0].level, c[0].event, c[0].exitCode], ['error', 'error', 3]);

    // PostgreSQL at a closed port: the report still prints, the service line is an error record (exit 4).
    const down = await json(['status'], { DATABASE_URL: 'postgres://offload:secret-pw@127.0.0.1:1/offload' });
    assert.equal(down.exitCode, 4, down.stderr);
    records(down.stdout, down.what);
    const d = records(down.stderr, down.what);
    assert.ok(
      d.some((r) => r.level === 'error' && r.event === 'service-unreachable' && r.service === 'PostgreSQL'),
      down.stderr,
    );
    assert.ok(!down.stderr.includes('secret-pw') && !down.stdout.includes('secret-pw'), 'secrets never printed');

    const help = await json(['run', '--help']);
    assert.equal(help.exitCode, 0);
    assert.ok(records(help.stdout, help.what).some((r) => /--metrics-port/.test(r.message)));
  });
});
