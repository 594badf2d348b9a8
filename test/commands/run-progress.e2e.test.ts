// `offload run` on a terminal, end to end: the CLI from source under a pseudo-terminal (`script`), against
// the real stack, offloading a table taken in one slice. Every frame it paints is captured with the time it
// arrived: the planned row count is on screen from the first progress frame, the rows done rise while the
// slice streams (frames between 0 % and 100 %, never going back), and the line keeps moving
// until the commit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execa } from 'execa';
import { seedTrades } from '../../src/dev/seed.js';
import { bronzeConfig, openBench, writeConfigFile, type Bench } from '../support/offload-stack.js';
import { ROOT, stackEnv } from '../support/stack.js';

let bench: Bench;
let seeded = 0;

before(async () => {
  bench = await openBench('tty');
  // One UTC day two days ago: one partition, one slice — the case that used to sit at 0 % until 100 %.
  const day = Math.floor(Date.now() / 86_400_000) - 2;
  const r = await seedTrades(bench.ch, {
    rows: 1_000_000,
    start: new Date(day * 86_400_000 + 3_600_000),
    end: new Date(day * 86_400_000 + 22 * 3_600_000),
    database: bench.chDatabase,
  });
  seeded = r.rows.binance;
});

after(async () => {
  await bench?.close();
});

interface Frame {
  atMs: number;
  text: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape codes, matched on purpose
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Runs the CLI under `script` (a pty: stderr is a terminal) and returns every line it painted, with when. */
async function runOnTerminal(args: string[], env: Record<string, string>): Promise<{ exitCode: number; frames: Frame[] }> {
  const cli = `stty cols 160 rows 40; exec ${process.execPath} --import tsx ${join(ROOT, 'src/cli.ts')} ${args.join(' ')}`;
  const child = execa('script', ['-qfec', cli, '/dev/null'], { cwd: ROOT, env, reject: false });
  const started = Date.now();
  const frames: Frame[] = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    // A frame ends where the painter returns to the line start or a line ends.
    const parts = pending.split(/\r|\n/);
    pending = parts.pop() ?? '';
    for (const p of parts) {
      const text = p.replace(ANSI, '').trim();
      if (text) frames.push({ atMs: Date.now() - started, text });
    }
  });
  const r = await child;
  return { exitCode: r.exitCode ?? -1, frames };
}

describe('offload run on a terminal', () => {
  it('shows the planned rows from the first frame and rows rising while the one slice streams', async () => {
    const cfg = bronzeConfig(bench, 'binance');
    const config = await writeConfigFile([cfg]);
    const env = {
      ...stackEnv(),
      DATABASE_URL: bench.pgUrl,
      OFFLOAD_WAREHOUSE: bench.warehouse,
      OFFLOAD_CONFIG: config,
      OFFLOAD_FAULT: '',
      // The CSV path streams these rows longer than the default Native path, giving the 250 ms painter more
      // frames mid-slice. The rows reported are the same on both paths.
      OFFLOAD_EXTRACT_FORMAT: 'csv',
    };
    const { exitCode, frames } = await runOnTerminal(['run', '--table', cfg.name], env);
    const shown = frames.map((f) => `${f.atMs} ms  ${f.text}`).join('\n');
    assert.equal(exitCode, 0, shown);

    const progress = frames
      .map((f) => ({ ...f, m: /(\d+)%\s+([\d,]+)\/([\d,]+) rows/.exec(f.text) }))
      .filter((f) => f.m !== null)
      .map((f) => ({
        atMs: f.atMs,
        percent: Number(f.m![1]),
        rows: Number(f.m![2].replace(/,/g, '')),
        total: Number(f.m![3].replace(/,/g, '')),
      }));
    assert.ok(progress.length >= 4, `progress frames: ${progress.length}\n${shown}`);
    assert.equal(progress[0].total, seeded, 'the planned rows, exact, from the first progress frame');
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i].rows >= progress[i - 1].rows, `rows went back: ${progress[i - 1].rows} → ${progress[i].rows}\n${shown}`);
      assert.ok(progress[i].total === seeded, 'the total does not move');
    }
    // While the slice streams: counts strictly between 0 and all (a bar that jumped 0 → 100 % shows none).
    // How many depends on the machine's speed against the 250 ms painter; one is proof of streaming.
    const between = new Set(progress.filter((p) => p.rows > 0 && p.rows < seeded).map((p) => p.rows));
    assert.ok(between.size >= 1, `rising counts during extraction: ${[...between].join(', ')}\n${shown}`);
    // The first rows show soon after the plan: no 17 s at 0 % while the slice streams.
    const planned = progress[0].atMs;
    const firstRows = progress.find((p) => p.rows > 0)!.atMs;
    assert.ok(firstRows - planned < 5000, `first rows ${firstRows - planned} ms after the plan\n${shown}`);
    assert.match(shown, new RegExp(`committed ${seeded.toLocaleString('en-US')} rows in 1 file`));
  });
});
