// A real Prometheus (Debian's `prometheus` package, installed by dev/prometheus-env.sh) started by a test on
// a free loopback port with its own temporary data directory, scraping the targets it is given every second
// and evaluating the given rules every second. Plus the HTTP API calls the tests read it through.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { until } from './cli-stack.js';

/** A TCP port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Fails with the install command when the binaries are missing (dev/test.sh installs them). */
export async function requirePrometheus(): Promise<void> {
  for (const bin of ['prometheus', 'promtool']) {
    const r = await execa('sh', ['-c', `command -v ${bin}`], { reject: false });
    if (r.exitCode !== 0)
      throw new Error(
        `${bin} is not installed: run dev/prometheus-env.sh (as root) or apt-get install -y --no-install-recommends prometheus`,
      );
  }
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface Prometheus {
  url: string;
  /** An instant query; the result vector (rejects on a query error). */
  query(expr: string, time?: number): Promise<PromSample[]>;
  /** A range query: per series, its [unix seconds, value] points. */
  queryRange(
    expr: string,
    start: number,
    end: number,
    stepSec?: number,
  ): Promise<Array<{ metric: Record<string, string>; values: Array<[number, number]> }>>;
  /** The active alerts (/api/v1/alerts). */
  alerts(): Promise<Array<{ labels: Record<string, string>; state: string; value: string }>>;
  log(): string;
  stop(): Promise<void>;
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`Prometheus API ${url}: ${body.error ?? res.status}`);
  return body.data;
}

export async function startPrometheus(options: { targets: Array<{ job: string; target: string }>; rules?: string }): Promise<Prometheus> {
  await requirePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'offload-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    ...(options.rules ? ['rule_files:', `  - ${join(dir, 'rules.yml')}`] : []),
    'scrape_configs:',
    ...options.targets.flatMap((t) => [`  - job_name: ${t.job}`, '    static_configs:', `      - targets: ["${t.target}"]`]),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  if (options.rules) writeFileSync(join(dir, 'rules.yml'), options.rules);
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${output}`);
        return (await fetch(`${url}/-/ready`).catch(() => null))?.ok;
      },
      'Prometheus to be ready',
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const toSamples = (r: Array<{ metric: Record<string, string>; value: [number, string] }>) =>
    r.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  return {
    url,
    query: async (expr, time) =>
      toSamples(
        (
          await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
            `${url}/api/v1/query?query=${encodeURIComponent(expr)}${time ? `&time=${time}` : ''}`,
          )
        ).result,
      ),
    queryRange: async (expr, start, end, stepSec = 1) =>
      (
        await api<{ result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }>(
          `${url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=${stepSec}`,
        )
      ).result.map((s) => ({ metric: s.metric, values: s.values.map(([t, v]) => [t, Number(v)] as [number, number]) })),
    alerts: async () =>
      (await api<{ alerts: Array<{ labels: Record<string, string>; state: string; value: string }> }>(`${url}/api/v1/alerts`)).alerts,
    log: () => output,
    stop,
  };
}
