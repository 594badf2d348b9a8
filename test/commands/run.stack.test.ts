// The CLI verbs of the engine as a scheduler runs them: `offload run --json` (and --dry-run), the busy exit
// code when another worker holds the table, `offload runs --json`, `offload gc --dry-run` vs gc.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tryLockTable } from '../../src/state/locks.js';
import { ExitCode } from '../../src/core/errors.js';
import { currentTable } from '../../src/pipeline/recover.js';
import {
  bronzeConfig,
  bronzeLikeTable,
  chTime,
  insertBronze,
  openBench,
  runCli,
  writeConfigFile,
  type Bench,
} from '../support/offload-stack.js';

let bench: Bench;
before(async () => {
  bench = await openBench('cli');
});
after(async () => {
  await bench?.close();
});

describe('offload run / runs / gc from the command line', () => {
  it('dry-run plans and writes nothing; run commits; a busy table exits 5; runs lists the history; gc keeps referenced files', async () => {
    const source = await bronzeLikeTable(bench, 'cli_src');
    const cfg = bronzeConfig(bench, 'binance', { name: 'cli_src', source, target: 'cold.cli_src' });
    const config = await writeConfigFile([cfg]);
    const t = new Date('2025-09-01T00:00:00Z');
    await insertBronze(
      bench,
      source,
      Array.from({ length: 50 }, (_, i) => {
        const ts = chTime(new Date(t.getTime() + i * 1000));
        return { exchange_timestamp: ts, event_time: ts, ingestion_timestamp: ts, kafka_offset: String(i) };
      }),
    );

    const dry = await runCli(bench, ['run', '--table', 'cli_src', '--json', '--dry-run'], { config });
    assert.equal(dry.exitCode, 0, dry.stderr);
    const dryDoc = JSON.parse(dry.stdout) as {
      results: Array<{ status: string; estimatedRows: number; window: { upper: { timestamp: string } } }>;
    };
    assert.equal(dryDoc.results[0].status, 'dry-run');
    assert.equal(dryDoc.results[0].estimatedRows, 50);
    assert.equal(dryDoc.results[0].window.upper.timestamp, '2025-09-01T00:00:49.000000Z');
    assert.equal(await currentTable(bench.catalog, bench.io, { namespace: 'cold', name: 'cli_src' }), null, 'a dry run creates nothing');

    const lock = await tryLockTable(bench.pool, 'cli_src');
    try {
      const busy = await runCli(bench, ['run', '--table', 'cli_src', '--json'], { config });
      assert.equal(busy.exitCode, ExitCode.busy);
      assert.equal((JSON.parse(busy.stdout) as { results: Array<{ status: string }> }).results[0].status, 'busy');
    } finally {
      await lock?.release();
    }

    const run = await runCli(bench, ['run', '--table', 'cli_src', '--json'], { config });
    assert.equal(run.exitCode, 0, run.stderr);
    const doc = JSON.parse(run.stdout) as {
      results: Array<{ status: string; rows: number; files: number; batches: Array<{ runId: string }> }>;
    };
    assert.equal(doc.results[0].status, 'committed');
    assert.equal(doc.results[0].rows, 50);
    assert.equal(doc.results[0].files, 1);

    const again = await runCli(bench, ['run', '--table', 'cli_src'], { config });
    assert.equal(again.exitCode, 0);
    assert.match(again.stdout, /cli_src: up to date \(watermark 2025-09-01 00:00:49 #49\)/);

    const history = await runCli(bench, ['runs', '--table', 'cli_src', '--json']);
    const runsDoc = JSON.parse(history.stdout) as { runs: Array<{ runId: string; status: string; rows: number }> };
    assert.deepEqual(
      runsDoc.runs.map((r) => r.status),
      ['up_to_date', 'committed'],
    );
    assert.equal(runsDoc.runs[1].runId, doc.results[0].batches[0].runId);

    // A planted orphan: listed by --dry-run, deleted by gc; the table's own files are kept.
    const table = (await currentTable(bench.catalog, bench.io, { namespace: 'cold', name: 'cli_src' }))!;
    const orphan = `${table.metadata.location}/data/exchange_timestamp_day=2025-09-01/orphan-00000.parquet`;
    await bench.io.write(orphan, new TextEncoder().encode('not referenced by any snapshot'));
    const listed = await runCli(bench, ['gc', '--table', 'cli_src', '--min-age', '0s', '--dry-run', '--json'], { config });
    const listedDoc = JSON.parse(listed.stdout) as {
      deleted: string[];
      tables: Array<{ orphans: Array<{ uri: string }>; referenced: number }>;
    };
    assert.deepEqual(listedDoc.deleted, []);
    assert.deepEqual(
      listedDoc.tables[0].orphans.map((o) => o.uri),
      [orphan],
    );
    const young = await runCli(bench, ['gc', '--table', 'cli_src', '--json'], { config });
    assert.deepEqual((JSON.parse(young.stdout) as { deleted: string[] }).deleted, [], 'younger than the default safety age (1h): kept');
    const gc = await runCli(bench, ['gc', '--table', 'cli_src', '--min-age', '0s', '--json'], { config });
    assert.deepEqual((JSON.parse(gc.stdout) as { deleted: string[] }).deleted, [orphan]);
    assert.equal(await bench.io.exists(orphan), false);
    for (const s of table.metadata.snapshots) assert.ok(await bench.io.exists(s['manifest-list']), 'the manifest list is kept');
    assert.ok(await bench.io.exists(table.metadataLocation));
  });
});
