// `npm run bench:cli-start`: how fast the installed CLI starts (the built dist/, as bin/offload.js runs it):
// `offload --help` from spawn to exit, and `offload status` / `offload run --table …` from process
// start to their first network connection (bench/first-connect.mjs ends the process there). CLI_START_RUNS
// runs each (default 15); medians and the spread of wall time, and the median CPU time (user + system), which
// a busy machine disturbs far less than wall time; with the load average.
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { stackEnv } from '../test/support/stack.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const runs = Number(process.env.CLI_START_RUNS ?? 15);
const env = { ...stackEnv(), OFFLOAD_CONFIG: join(ROOT, 'offload.config.json') };
const cli = join(ROOT, 'bin/offload.js');
const preload = join(ROOT, 'bench/first-connect.mjs');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;

interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** A whole process: wall time from spawn to exit, CPU time from the kernel. */
async function whole(args: string[]): Promise<Timing> {
  const t0 = performance.now();
  const r = await execa('/usr/bin/time', ['-f', 'cpu-s %U %S', process.execPath, ...args], { env, reject: false });
  if (r.exitCode !== 0) throw new Error(`${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  const [, user, sys] = /cpu-s ([\d.]+) ([\d.]+)/.exec(String(r.stderr))!;
  return { wallMs: performance.now() - t0, cpuMs: (Number(user) + Number(sys)) * 1000 };
}

async function firstConnect(args: string[]): Promise<Timing> {
  const r = await execa(process.execPath, ['--import', preload, cli, ...args], { env, reject: false });
  const m = /first-connect-ms ([\d.]+) cpu-ms ([\d.]+)/.exec(String(r.stdout));
  if (!m) throw new Error(`offload ${args.join(' ')} made no network connection:\n${r.stdout}\n${r.stderr}`);
  return { wallMs: Number(m[1]), cpuMs: Number(m[2]) };
}

if (!existsSync(join(ROOT, 'dist/cli.js'))) throw new Error('bench/cli-start: build the CLI first (npm run build)');
const table = JSON.parse(await (await import('node:fs/promises')).readFile(env.OFFLOAD_CONFIG, 'utf8')).tables[0].name as string;
const cases: Array<[string, () => Promise<Timing>]> = [
  ['node -e 0 (the floor)', () => whole(['-e', '0'])],
  ['offload --help (spawn to exit)', () => whole([cli, '--help'])],
  ['offload status (start to first connection)', () => firstConnect(['status'])],
  [`offload run --table ${table} (start to first connection)`, () => firstConnect(['run', '--table', table])],
];
console.log(
  `CLI start, ${runs} runs each, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
for (const [label, measure] of cases) {
  const t: Timing[] = [];
  for (let i = 0; i < runs; i++) t.push(await measure());
  const wallMs = t.map((x) => x.wallMs);
  console.log(
    `${label.padEnd(70)} wall median ${Math.round(median(wallMs))} ms (${spread(wallMs)}), CPU median ${Math.round(median(t.map((x) => x.cpuMs)))} ms`,
  );
}
console.log(
  `load average after: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
