// The local stack script on a second, throw-away stack (own directory and ports), so the main stack
// the other tests use is never touched: up → up → down → up, status, env file, pid-file-only stops;
// the ports chosen at `up` remembered for shells without the exports; objects and committed tables
// surviving down/up; and `npm run demo` stopping its trade trickle when the TUI quits.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { execa, execaSync } from 'execa';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ROOT, stackEnv, uniqueName } from '../support/stack.js';
import { CLI, ensureBuilt, until } from '../support/cli-stack.js';

/** A port nobody listens on right now (the OS picks it), so a leftover server never fails this test. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'offload-stack-'));
const [chHttp, chTcp, pgPort, s3Port] = [await freePort(), await freePort(), await freePort(), await freePort()];
/** A shell with none of the OFFLOAD_STACK_* exports but the state directory. */
const bare: Record<string, string> = { OFFLOAD_STACK_DIR: dir };
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('OFFLOAD_STACK_')) bare[k] = v;
/** The shell that chose the ports at the first `up`. */
const chosen = {
  ...bare,
  OFFLOAD_STACK_CH_HTTP_PORT: String(chHttp),
  OFFLOAD_STACK_CH_TCP_PORT: String(chTcp),
  OFFLOAD_STACK_PG_PORT: String(pgPort),
  OFFLOAD_STACK_S3_PORT: String(s3Port),
};
const stack = (verb: string, env: Record<string, string> = bare) =>
  execa(`${ROOT}dev/stack.sh`, [verb], { env, extendEnv: false, reject: false, all: true });

after(async () => {
  await stack('down');
  rmSync(dir, { recursive: true, force: true });
});

test('stack: up, up again, down, up — each service answers, status tells, down stops only our processes', async () => {
  const first = await stack('up', chosen);
  assert.equal(first.exitCode, 0, first.all);

  const envFile = readFileSync(join(dir, 'env'), 'utf8');
  for (const name of [
    'CLICKHOUSE_URL',
    'DATABASE_URL',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_REGION',
    'AWS_ENDPOINT_URL_S3',
    'OFFLOAD_WAREHOUSE',
    'OFFLOAD_CONFIG',
  ]) {
    assert.match(envFile, new RegExp(`^export ${name}=`, 'm'), `${name} missing from env file`);
  }
  assert.match(envFile, new RegExp(`127\\.0\\.0\\.1:${chHttp}`));
  const remembered = readFileSync(join(dir, 'ports'), 'utf8');
  for (const [name, port] of [
    ['CH_HTTP_PORT', chHttp],
    ['CH_TCP_PORT', chTcp],
    ['PG_PORT', pgPort],
    ['S3_PORT', s3Port],
  ] as const) {
    assert.match(remembered, new RegExp(`^${name}=${port}$`, 'm'), `${name} remembered`);
  }

  const ping = await fetch(`http://127.0.0.1:${chHttp}/ping`);
  assert.equal((await ping.text()).trim(), 'Ok.');
  const chPid = readFileSync(join(dir, 'clickhouse.pid'), 'utf8').trim();

  // A later shell without the exports: the remembered ports, not the defaults.
  const second = await stack('up');
  assert.equal(second.exitCode, 0, second.all);
  assert.match(second.all ?? '', /already running/);
  assert.doesNotMatch(second.all ?? '', /could not/);
  assert.equal(readFileSync(join(dir, 'clickhouse.pid'), 'utf8').trim(), chPid, 'up twice must not start a second server');
  assert.equal(readFileSync(join(dir, 'env'), 'utf8'), envFile, 'the env file keeps the chosen ports');

  const status = await stack('status');
  assert.equal(status.exitCode, 0, status.all);
  assert.match(status.stdout, new RegExp(`clickhouse\\s+running .*127\\.0\\.0\\.1:${chHttp}\\b`));
  assert.match(status.stdout, new RegExp(`postgres\\s+running .*127\\.0\\.0\\.1:${pgPort}\\b`));
  assert.match(status.stdout, new RegExp(`s3\\s+running .*127\\.0\\.0\\.1:${s3Port}\\b`));

  // An export that contradicts the running stack: one line saying where it runs and what to do.
  const otherPort = await freePort();
  for (const verb of ['status', 'up']) {
    const wrong = await stack(verb, { ...bare, OFFLOAD_STACK_PG_PORT: String(otherPort) });
    assert.equal(wrong.exitCode, 1, `${verb}: ${wrong.all}`);
    assert.equal(wrong.stdout, '');
    assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
    assert.match(wrong.stderr, new RegExp(`ClickHouse on ${chHttp} .*PostgreSQL on ${pgPort}, S3 on ${s3Port}\\b`));
    assert.match(wrong.stderr, new RegExp(`OFFLOAD_STACK_PG_PORT=${otherPort}: \`unset OFFLOAD_STACK_PG_PORT\`.*stack:down`));
  }
  assert.equal(
    existsSync(join(dir, 'ports')) && readFileSync(join(dir, 'ports'), 'utf8'),
    remembered,
    'a refused up remembers nothing new',
  );

  const down = await stack('down');
  assert.equal(down.exitCode, 0, down.all);
  assert.equal(existsSync(join(dir, 'clickhouse.pid')), false);
  const stopped = await stack('status');
  assert.notEqual(stopped.exitCode, 0);
  assert.match(stopped.stdout, /clickhouse\s+stopped/);
  // The main stack on the default ports is untouched.
  const mainUrl = new URL(stackEnv().CLICKHOUSE_URL);
  const main = await fetch(`http://${mainUrl.host}/ping`)
    .then((r) => r.text())
    .catch(() => 'down');
  assert.equal(main.trim(), 'Ok.');

  const again = await stack('up');
  assert.equal(again.exitCode, 0, again.all);
  assert.equal(readFileSync(join(dir, 'env'), 'utf8'), envFile, 'up after down keeps the remembered ports');
  const url = /DATABASE_URL=(\S+)/.exec(readFileSync(join(dir, 'env'), 'utf8'))![1];
  const q = await execa('psql', [url, '-tAc', 'select 41 + 1'], { reject: false });
  assert.equal(q.stdout.trim(), '42', q.stderr);
});

test('stack: objects and committed tables survive down and up; the S3 server enforces conditional writes', async () => {
  await ensureBuilt();
  const env = stackEnv(join(dir, 'env'));
  const offload = (...args: string[]) =>
    execa('node', [CLI, ...args], { cwd: ROOT, env, extendEnv: false, reject: false, timeout: 300_000 });
  const s3 = () =>
    new S3Client({
      endpoint: env.AWS_ENDPOINT_URL_S3,
      region: env.AWS_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    });
  const bucket = /^s3:\/\/([^/]+)/.exec(env.OFFLOAD_WAREHOUSE)![1];

  // The metadata commit depends on this: a second create of the same key is refused with 412.
  const before = s3();
  const key = `kept/${uniqueName('o')}.txt`;
  await before.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'first', IfNoneMatch: '*' }));
  await assert.rejects(
    before.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'second', IfNoneMatch: '*' })),
    (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 412,
  );
  before.destroy();

  const init = await offload('init', '--clickhouse-schema');
  assert.equal(init.exitCode, 0, init.stderr);
  const seed = await offload('seed', '--rows', '3000', '--end', new Date(Date.now() - 3_600_000).toISOString(), '--seed', 'stack');
  assert.equal(seed.exitCode, 0, seed.stderr);
  const run = await offload('run', '--table', 'bronze_trades_kraken');
  assert.equal(run.exitCode, 0, run.stderr);
  const icebergOf = async () => {
    const r = await offload('status', '--json');
    const report = JSON.parse(String(r.stdout)) as {
      tables: Array<{ name: string; iceberg: { ok: boolean; value?: { rows: number; snapshotId: string } } }>;
    };
    return report.tables.find((t) => t.name === 'bronze_trades_kraken')!.iceberg;
  };
  const committed = await icebergOf();
  assert.ok(committed.ok && committed.value!.rows > 0, JSON.stringify(committed));

  assert.equal((await stack('down')).exitCode, 0);
  const up = await stack('up');
  assert.equal(up.exitCode, 0, up.all);

  const after = s3();
  const body = await (await after.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
  after.destroy();
  assert.equal(body, 'first', 'the object is still there, with its first content');
  assert.deepEqual(await icebergOf(), committed, 'offload status shows the same Iceberg rows and snapshot');
  // The table's metadata, manifests and files are all readable: the next run plans on top of them.
  const next = await offload('run', '--table', 'bronze_trades_kraken', '--json');
  assert.equal(next.exitCode, 0, next.stderr);
});

/** The pids of `seed --follow` processes of this test's stack (its directory in their environment). */
function trickles(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!(cmdline.includes('seed') && cmdline.includes('--follow'))) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`OFFLOAD_STACK_DIR=${dir}`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

function hasTmux(): boolean {
  try {
    return execaSync('tmux', ['-V']).exitCode === 0;
  } catch {
    return false;
  }
}

test('npm run demo: quitting the TUI stops the trade trickle', { skip: hasTmux() ? false : 'tmux is not installed' }, async () => {
  await ensureBuilt();
  const socket = uniqueName('offload-demo');
  // The tmux server's environment is the demo's: this shell's OFFLOAD_STACK_* exports stay out of it.
  const tmux = (...args: string[]) => execa('tmux', ['-L', socket, ...args], { env: bare, extendEnv: false, reject: false });
  const screen = async () => (await tmux('capture-pane', '-p', '-t', 'demo')).stdout;
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const launcher = join(dir, 'demo-launch.sh');
  const env = { ...bare, DEMO_ROWS: '2000', DEMO_RATE: '5', CI: 'true' };
  const exports = Object.entries(env)
    .filter(([k]) => /^[A-Z_][A-Z0-9_]*$/.test(k))
    .map(([k, v]) => `export ${k}=${quote(v)}`)
    .join('\n');
  // The shell stays after the demo, so its exit code can be read from the screen.
  writeFileSync(launcher, `${exports}\ncd ${quote(ROOT)}\nnpm run demo\necho "demo exited with $?"\nexec sleep 3600\n`);
  const open = await tmux('new-session', '-d', '-s', 'demo', '-x', '120', '-y', '30', `bash ${launcher}`);
  assert.equal(open.exitCode, 0, open.stderr);
  try {
    const opened = await until(
      async () => {
        const s = await screen();
        return /bronze_trades_binance|demo exited with/.test(s) && s;
      },
      'the demo TUI',
      180_000,
      250,
    );
    assert.match(opened, /bronze_trades_binance/, `the demo opens the TUI; the screen was:\n${opened}`);
    const running = trickles();
    assert.equal(running.length, 1, 'one trickle runs while the TUI is open');
    const pidFile = join(dir, 'demo-follow.pid');
    const remembered = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;

    await tmux('send-keys', '-t', 'demo', 'q');
    await until(async () => /demo exited with 0/.test(await screen()), 'the demo to end', 30_000, 250);
    await until(() => trickles().length === 0, 'the trickle to stop', 15_000);
    // The pid file names node itself, so a demo killed before its cleanup has its trickle stopped by the next.
    assert.equal(remembered, running[0], 'the pid file named the trickle');
    assert.equal(existsSync(pidFile), false, 'the pid file is gone with the trickle');
  } finally {
    await tmux('kill-server');
  }
});
