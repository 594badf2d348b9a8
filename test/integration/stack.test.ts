// The local stack script on a second, throw-away stack (own directory and ports), so the main stack
// the other tests use is never touched: up → up → down → up, status, env file, pid-file-only stops.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { execa } from 'execa';
import { ROOT, stackEnv } from '../support/stack.js';

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
const env = {
  ...process.env,
  OFFLOAD_STACK_DIR: dir,
  OFFLOAD_STACK_CH_HTTP_PORT: String(chHttp),
  OFFLOAD_STACK_CH_TCP_PORT: String(chTcp),
  OFFLOAD_STACK_PG_PORT: String(pgPort),
  OFFLOAD_STACK_S3_PORT: String(s3Port),
  // Not its REST catalog: its port would be the main stack's (CI runs with OFFLOAD_STACK_REST=1).
  OFFLOAD_STACK_REST: '0',
};
const stack = (verb: string) => execa(`${ROOT}dev/stack.sh`, [verb], { env, reject: false, all: true });

after(async () => {
  await stack('down');
  rmSync(dir, { recursive: true, force: true });
});

test('stack: up, up again, down, up — each service answers, status tells, down stops only our processes', async () => {
  const first = await stack('up');
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

  const ping = await fetch(`http://127.0.0.1:${chHttp}/ping`);
  assert.equal((await ping.text()).trim(), 'Ok.');
  const chPid = readFileSync(join(dir, 'clickhouse.pid'), 'utf8').trim();

  const second = await stack('up');
  assert.equal(second.exitCode, 0, second.all);
  assert.match(second.all ?? '', /already running/);
  assert.equal(readFileSync(join(dir, 'clickhouse.pid'), 'utf8').trim(), chPid, 'up twice must not start a second server');

  const status = await stack('status');
  assert.equal(status.exitCode, 0);
  assert.match(status.stdout, /clickhouse\s+running/);
  assert.match(status.stdout, /postgres\s+running/);
  assert.match(status.stdout, /s3 \(moto\)\s+running/);

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
  const url = /DATABASE_URL=(\S+)/.exec(readFileSync(join(dir, 'env'), 'utf8'))![1];
  const q = await execa('psql', [url, '-tAc', 'select 41 + 1'], { reject: false });
  assert.equal(q.stdout.trim(), '42', q.stderr);
});
