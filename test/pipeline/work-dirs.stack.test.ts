// Local work directories of killed runs (issue: 182 `offload-<runId>` directories left in the temp folder
// after a soak): a run SIGKILLed mid-extraction leaves `offload-<table>-<runId>`; the table's next run
// removes it, and so does `offload gc` (which lists it with --dry-run first).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bronzeConfig, insertBronze, openBench, runCli, writeConfigFile, type Bench } from '../support/offload-stack.js';

let bench: Bench;
before(async () => {
  bench = await openBench('workdirs');
});
after(async () => {
  await bench?.close();
});

// Another installation (its own state database) offloading a table of the same name into the same folder.
const FOREIGN = `offload-bronze_trades_binance-${randomUUID()}`;
const workDirsOf = async (dir: string) =>
  (await readdir(dir)).filter((n) => n.startsWith('offload-bronze_trades_binance-') && n !== FOREIGN);

describe('work directories of killed runs', () => {
  it('are removed by the next run of the table and by gc', async () => {
    const cfg = bronzeConfig(bench, 'binance');
    const config = await writeConfigFile([cfg]);
    const workDir = await mkdtemp(join(tmpdir(), 'offload-workdirs-test-'));
    const env = { OFFLOAD_WORK_DIR: workDir };
    await insertBronze(
      bench,
      'bronze_trades_binance',
      Array.from({ length: 200 }, (_, i) => ({ kafka_offset: String(i), exchange_timestamp: '2024-01-01 00:00:00' })),
    );

    await mkdir(join(workDir, FOREIGN, 'data'), { recursive: true });
    const killed = await runCli(bench, ['run', '--table', cfg.name], { config, env: { ...env, OFFLOAD_FAULT: 'mid-extract' } });
    assert.equal(killed.signal, 'SIGKILL', `${killed.stdout}\n${killed.stderr}`);
    const left = await workDirsOf(workDir);
    assert.equal(left.length, 1, 'the killed run left its work directory');
    assert.match(left[0], /^offload-bronze_trades_binance-[0-9a-f-]{36}$/);

    const next = await runCli(bench, ['run', '--table', cfg.name], { config, env });
    assert.equal(next.exitCode, 0, `${next.stdout}\n${next.stderr}`);
    assert.deepEqual(await workDirsOf(workDir), [], 'the next run removed it (and its own)');

    await insertBronze(bench, 'bronze_trades_binance', [{ kafka_offset: '1000', exchange_timestamp: '2024-01-02 00:00:00' }]);
    const killedAgain = await runCli(bench, ['run', '--table', cfg.name], { config, env: { ...env, OFFLOAD_FAULT: 'mid-extract' } });
    assert.equal(killedAgain.signal, 'SIGKILL');
    const [dir] = await workDirsOf(workDir);
    assert.ok(dir, 'the second killed run left its work directory');

    const dry = await runCli(bench, ['gc', '--dry-run'], { config, env });
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.ok(dry.stdout.includes(`would remove the work directory of a killed run: ${join(workDir, dir)}`), dry.stdout);
    assert.deepEqual(await workDirsOf(workDir), [dir], 'a dry run removes nothing');
    const gc = await runCli(bench, ['gc'], { config, env });
    assert.equal(gc.exitCode, 0, gc.stderr);
    assert.ok(gc.stdout.includes(`removed the work directory of a killed run: ${join(workDir, dir)}`), gc.stdout);
    assert.deepEqual(await workDirsOf(workDir), [], 'gc removed it');
    assert.ok(
      (await readdir(workDir)).includes(FOREIGN),
      "a run this database never recorded may be alive elsewhere: left (until gc's safety age)",
    );
    const old = await runCli(bench, ['gc', '--min-age', '0s'], { config, env });
    assert.equal(old.exitCode, 0, old.stderr);
    assert.ok(!(await readdir(workDir)).includes(FOREIGN), 'gc removes it once older than the safety age');
  });
});
