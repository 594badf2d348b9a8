// `node --import tsx bench/cli-start.ts`: how fast the installed CLI starts (the built dist/, as bin/offload.js
// runs it): `offload --help` from spawn to exit, and `offload status` / `offload run --table …` from process
// start to their first network connection (bench/first-connect.mjs ends the process there). CLI_START_RUNS
// runs each (default 15); medians and the spread, with the load average.
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

async function wall(args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await execa(process.execPath, [cli, ...args], { env, reject: false });
  if (r.exitCode !== 0) throw new Error(`offload ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return performance.now() - t0;
}

async function firstConnect(args: string[]): Promise<number> {
  const r = await execa(process.execPath, ['--import', preload, cli, ...args], { env, reject: false });
  const m = /first-connect-ms ([\d.]+)/.exec(String(r.stdout));
  if (!m) throw new Error(`offload ${args.join(' ')} made no network connection:\n${r.stdout}\n${r.stderr}`);
  return Number(m[1]);
}

const build = await execa('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, reject: false });
if (build.exitCode !== 0) throw new Error(`the build failed:\n${build.stdout}`);
const table = JSON.parse(await (await import('node:fs/promises')).readFile(env.OFFLOAD_CONFIG, 'utf8')).tables[0].name as string;
const cases: Array<[string, () => Promise<number>]> = [
  ['node -e 0 (the floor)', async () => {
    const t0 = performance.now();
    await execa(process.execPath, ['-e', '0']);
    return performance.now() - t0;
  }],
  ['offload --help (spawn to exit)', () => wall(['--help'])],
  ['offload status (start to first connection)', () => firstConnect(['status'])],
  [`offload run --table ${table} (start to first connection)`, () => firstConnect(['run', '--table', table])],
];
console.log(`CLI start, ${runs} runs each, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (const [label, measure] of cases) {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push(await measure());
  console.log(`${label.padEnd(55)} median ${Math.round(median(ms))} ms (${spread(ms)})`);
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
