// Starts test/support/chdb_server.py: a ClickHouse-HTTP-compatible server backed by the current
// ClickHouse engine through chdb (in the project's Python venv). Production runs ClickHouse 24.x/25.x,
// the local stack runs 18.16; this server lets tests exercise the production dialect (DateTime64, Map,
// Bool, Decimal128, query parameters, Parquet/Arrow output) with @clickhouse/client over real HTTP.
//
//   const ch = await startChdbServer();
//   const client = createClient({ url: ch.url, log: { level: ClickHouseLogLevel.OFF } });
//   ...
//   await ch.stop();
//
// Each call starts its own server with its own empty data directory (removed on stop). The server
// also exits by itself when this process ends (it watches its stdin).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CHDB_SERVER_SCRIPT = fileURLToPath(new URL('./chdb_server.py', import.meta.url));

export interface ChdbServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and removes its data. */
  stop(): Promise<void>;
}

export interface ChdbServerOptions {
  /** Python venv holding chdb. Default: $OFFLOAD_VENV, else <repo>/.venv. */
  venv?: string;
  /** Engine connections for requests without a session_id (default 4). */
  pool?: number;
  /** Log requests and errors to this process's stderr. */
  verbose?: boolean;
  /** How long to wait for the server to come up (default 60 s). */
  startTimeoutMs?: number;
}

export class ChdbUnavailableError extends Error {
  override name = 'ChdbUnavailableError';
}

function defaultVenv(): string {
  return process.env.OFFLOAD_VENV ?? fileURLToPath(new URL('../../.venv', import.meta.url));
}

/** Why the chdb server cannot start here (no venv python), or undefined when it can be tried. */
export function chdbServerUnavailableReason(venv = defaultVenv()): string | undefined {
  const python = `${venv}/bin/python`;
  if (!existsSync(python)) {
    return `chdb test server: no Python venv at ${venv} (${python} is missing); create it with dev/python-env.sh or set OFFLOAD_VENV`;
  }
  if (!existsSync(CHDB_SERVER_SCRIPT)) return `chdb test server: ${CHDB_SERVER_SCRIPT} is missing`;
  return undefined;
}

/**
 * Spawns the server on a free port and resolves once it listens.
 * Throws ChdbUnavailableError when the venv is missing, or an Error carrying the server's stderr
 * when it fails to start (e.g. chdb not installed in the venv).
 */
export async function startChdbServer(options: ChdbServerOptions = {}): Promise<ChdbServer> {
  const venv = options.venv ?? defaultVenv();
  const reason = chdbServerUnavailableReason(venv);
  if (reason) throw new ChdbUnavailableError(reason);

  const args = [CHDB_SERVER_SCRIPT, '--port', '0', '--exit-on-stdin-eof', '--pool', String(options.pool ?? 4)];
  if (options.verbose) args.push('--verbose');
  const child = spawn(`${venv}/bin/python`, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });

  let stderrTail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (options.verbose) process.stderr.write(s);
    stderrTail = (stderrTail + s).slice(-8000);
  });

  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      fail(new Error(`chdb test server did not start within ${options.startTimeoutMs ?? 60_000} ms\n${stderrTail}`));
    }, options.startTimeoutMs ?? 60_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.once('error', (err) => fail(new Error(`chdb test server: cannot run ${venv}/bin/python: ${err.message}`)));
    child.once('exit', (code, signal) => {
      fail(new Error(`chdb test server exited before listening (code ${code}, signal ${signal})\n${stderrTail.trim()}`));
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      out += s;
      const m = /^LISTENING (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(Number(m[1]));
      }
    });
  });

  // A forgotten stop() must not keep the test runner alive; the server exits when stdin closes.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr] as unknown as Array<{ unref?: () => void }>) s?.unref?.();

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () => (stopping ??= stopChild(child, exited)),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.ref(); // keep this process alive until the server is gone
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
    child.stdin?.destroy();
  }
}
