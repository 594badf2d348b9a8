// `offload drill` as a person or a script uses it: the built CLI, its JSON document, the report files,
// the exit codes, and its usage errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { DrillReport } from '../../src/drill/report.js';
import { CLI } from '../support/cli-stack.js';
import { freshDrillStack, type DrillStack } from '../support/drill-stack.js';

let stack: DrillStack;
let dir: string;

before(async () => {
  stack = await freshDrillStack('drillcli', { trades: 4_000, hours: 3 });
  dir = await mkdtemp(join(tmpdir(), 'drill-report-'));
});

after(async () => {
  await stack?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const offload = (args: string[]) =>
  execa(process.execPath, [CLI, ...args], { env: stack.env, extendEnv: false, reject: false, timeout: 600_000 });

describe('offload drill (CLI)', () => {
  it('--table T --fault P --json: one document, exit 0, every invariant held with numbers; --report writes JSON and Markdown', async () => {
    const r = await offload(['drill', '--table', 'bronze_trades_kraken', '--fault', 'after-manifests', '--json', '--report', dir]);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout) as DrillReport;
    assert.equal(report.outcome, 'held');
    assert.equal(report.steps.length, 1);
    const [step] = report.steps;
    assert.equal(step.fault, 'after-manifests');
    assert.equal(step.runs[0].signal, 'SIGKILL');
    const lost = step.verification!.checks.find((c) => c.name === 'rows-lost')!;
    assert.equal(lost.numbers.lost, 0);
    assert.ok(Number(lost.numbers.clickhouseRowsUpToWatermark) > 0);
    assert.match(r.stderr, /\[1\/1\] bronze_trades_kraken · after-manifests/, 'progress goes to stderr with --json');
    const files = readdirSync(dir);
    assert.equal(files.filter((f) => f.endsWith('.json')).length, 1);
    const md = readFileSync(join(dir, files.find((f) => f.endsWith('.md'))!), 'utf8');
    assert.match(md, /^# Failure-recovery drill: every invariant held/);
    assert.match(md, /\| 1 \| bronze_trades_kraken \| after-manifests \| held \| ✓ 0 \| ✓ 0 \|/);
    assert.match(md, /✓ rows lost — lost 0 · clickhouseRowsUpToWatermark/);
  });

  it('prints each step and each invariant for a person, and a summary line', async () => {
    const r = await offload(['drill', '--table', 'silver_trades', '--transient', 'ch-reset', '--no-pyiceberg']);
    assert.equal(r.exitCode, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /\[1\/1\] silver_trades · ch-reset — the ClickHouse connection is reset/);
    assert.match(r.stdout, /injected\s+ClickHouse: connection reset after 16384 bytes/);
    assert.match(r.stdout, /✓ rows lost — lost 0/);
    assert.match(r.stdout, /– table loads in pyiceberg/);
    assert.match(r.stdout, /drill passed: every invariant held — 1 steps, 0 kills \(SIGKILL\), 1 transient faults injected/);
  });

  it('--keep leaves the sandbox for inspection; --clean removes it once it is old enough, never a young one', async () => {
    const r = await offload(['drill', '--table', 'bronze_trades_kraken', '--fault', 'after-plan', '--keep', '--no-pyiceberg', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout) as DrillReport;
    assert.equal(report.environment.sandbox.kept, true);
    const namespace = report.environment.sandbox.namespace;
    const young = await offload(['drill', '--clean', '--json']);
    assert.equal(young.exitCode, 0, young.stderr);
    assert.deepEqual(JSON.parse(young.stdout).namespaces, [], 'a sandbox younger than an hour is left alone');
    const old = await offload(['drill', '--clean', '--min-age', '0s', '--json']);
    assert.equal(old.exitCode, 0, old.stderr);
    const cleaned = JSON.parse(old.stdout) as {
      namespaces: string[];
      tables: number;
      files: number;
      watermarkRows: number;
      runRows: number;
    };
    assert.deepEqual(cleaned.namespaces, [namespace]);
    assert.equal(cleaned.tables, 1);
    assert.ok(cleaned.files > 0);
    assert.equal(cleaned.watermarkRows, 1);
    assert.ok(cleaned.runRows >= 2, 'the killed run and the recovery');
    const again = await offload(['drill', '--clean', '--min-age', '0s']);
    assert.match(again.stdout, /no drill sandbox older than 0s left behind/);
  });

  it('rejects a bad command line with exit code 2 and says what is expected', async () => {
    const none = await offload(['drill']);
    assert.equal(none.exitCode, 2);
    assert.match(none.stderr, /choose one of --fault P/);
    const bad = await offload(['drill', '--table', 'bronze_trades_kraken', '--fault', 'halfway']);
    assert.equal(bad.exitCode, 2);
    assert.match(bad.stderr, /"halfway" is not a fault point \(after-plan, mid-extract/);
    const noTable = await offload(['drill', '--table', 'nope', '--fault', 'after-plan']);
    assert.equal(noTable.exitCode, 3);
    assert.match(noTable.stderr, /no table "nope"/);
    assert.ok(!existsSync(join(dir, 'nope')));
  });
});
