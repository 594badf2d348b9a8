// Crash at every fault point, on either catalog: `offload run` in a child process is killed with SIGKILL at
// the point (a real crash: nothing cleans up), then a normal run recovers. Twice per point — on the table's
// first commit and on a later one. After each recovery: the crashed run is resolved from the catalog (aborted,
// or committed when the table holds it: after-commit, and inside-commit on a REST catalog, whose commit
// precedes the PostgreSQL update), no run is left running, ClickHouse up to the watermark and Iceberg agree
// as multisets, the watermark equals the snapshot's, pyiceberg reads the table (through the REST catalog
// for rest), and `offload gc` removes the crashed run's files and nothing that is referenced.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { isTableLocked } from '../../src/state/locks.js';
import * as runs from '../../src/state/runs.js';
import * as watermarks from '../../src/state/watermarks.js';
import { EPOCH } from '../../src/core/watermark.js';
import { FAULT_POINTS, type FaultPoint } from '../../src/pipeline/faults.js';
import { currentTable } from '../../src/pipeline/recover.js';
import { restCatalogSkip } from './rest-catalog.js';
import {
  assertAgree,
  bronzeConfig,
  bronzeLikeTable,
  chTime,
  insertBronze,
  offload,
  openBench,
  pyicebergSkip,
  runCli,
  writeConfigFile,
  type Bench,
} from './offload-stack.js';

/** `n` trades over `hours` hours from `start`, several per second, offsets from `offset`. */
function trades(n: number, start: Date, hours: number, offset: number) {
  return Array.from({ length: n }, (_, i) => {
    const t = chTime(new Date(start.getTime() + Math.floor((i * hours * 3600) / n) * 1000));
    return {
      exchange_timestamp: t,
      event_time: t,
      ingestion_timestamp: t,
      exchange_timestamp_ms: i % 1000,
      kafka_offset: String(offset + i),
      sequence_number: String(5000 + i),
      price: `${30000 + (i % 977)}.12345678`,
    };
  });
}

async function waitUntilUnlocked(bench: Bench, table: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (await isTableLocked(bench.pool, table)) {
    if (Date.now() > deadline) throw new Error(`${table} is still locked 30 s after its worker was killed`);
    await delay(100);
  }
}

/**
 * Whether the table holds the run once the process died at `point`: after-commit, and with a REST catalog
 * inside-commit too (the REST commit applied, PostgreSQL not yet updated).
 */
function tableHoldsRun(catalog: 'jdbc' | 'rest', point: FaultPoint): boolean {
  return point === 'after-commit' || (catalog === 'rest' && point === 'inside-commit');
}

/** The files a run killed at `point` leaves that nothing references: gc removes them. */
function leavesOrphans(catalog: 'jdbc' | 'rest', point: FaultPoint): boolean {
  return (
    ['after-data-upload', 'after-manifests', 'after-metadata-file', 'before-commit', 'inside-commit'].includes(point) &&
    !tableHoldsRun(catalog, point)
  );
}

/** The crash drill's tests on the given catalog (the REST one: the stack's REST catalog server). */
export function describeCrashAtEveryFaultPoint(catalog: 'jdbc' | 'rest'): void {
  const skip = pyicebergSkip || (catalog === 'rest' && restCatalogSkip) || undefined;
  describe(`a run killed at any fault point loses and repeats nothing (${catalog} catalog)`, { skip, concurrency: 1 }, () => {
    let bench: Bench;
    before(async () => {
      bench = await openBench(`crash_${catalog}`, { catalog });
    });
    after(async () => {
      await bench?.close();
    });

    for (const point of FAULT_POINTS) {
      it(`recovers from a SIGKILL at ${point}, on the first commit and on a later one`, async () => {
        const name = `crash_${point.replace(/-/g, '_')}`;
        const source = await bronzeLikeTable(bench, name);
        const cfg = bronzeConfig(bench, 'binance', { name, source, target: `cold.${name}` });
        const config = await writeConfigFile([cfg]);
        const t0 = new Date('2025-06-01T20:00:00Z');
        let expected = 0;
        for (const round of [0, 1]) {
          const rows = trades(3000, new Date(t0.getTime() + round * 8 * 3600_000), 6, round * 10_000);
          await insertBronze(bench, source, rows);
          expected += rows.length;
          const wmBefore = (await watermarks.read(bench.pool, cfg.name))?.watermark;

          const killed = await runCli(bench, ['run', '--table', name, '--json'], { config, env: { OFFLOAD_FAULT: point } });
          assert.equal(killed.signal, 'SIGKILL', `killed at ${point}: exit ${killed.exitCode}, stderr: ${killed.stderr.slice(-400)}`);
          assert.match(killed.stderr, new RegExp(`fault point ${point}`));
          const left = await runs.findRunning(bench.pool, cfg.name);
          const wmAfterKill = (await watermarks.read(bench.pool, cfg.name))!.watermark;
          if (point !== 'after-commit') {
            assert.equal(left.length, 1, 'the killed run is left running');
            assert.deepEqual(wmAfterKill, wmBefore ?? EPOCH, 'the watermark did not move');
          } else {
            assert.equal(left.length, 0, 'after-commit: the run was recorded as committed');
          }

          // The dead process's PostgreSQL session (and its table lock) ends once the server sees the socket close.
          await waitUntilUnlocked(bench, cfg.name);
          const recovered = await offload(bench, cfg);
          if (!tableHoldsRun(catalog, point)) {
            assert.equal(recovered.status, 'committed');
            assert.equal(recovered.status === 'committed' && recovered.rows, rows.length);
            assert.equal((await runs.get(bench.pool, left[0].runId))!.status, 'aborted');
          } else {
            assert.equal(recovered.status, 'up-to-date');
            if (left[0])
              assert.equal((await runs.get(bench.pool, left[0].runId))!.status, 'committed', 'recovery recorded it from the table');
          }
          assert.deepEqual(await runs.findRunning(bench.pool, cfg.name), []);
          const agree = await assertAgree(bench, cfg);
          assert.equal(agree.icebergRows, expected);

          // The killed run's files (uploaded data, manifests, metadata) are orphans now: gc removes them, and only them.
          await waitUntilUnlocked(bench, cfg.name);
          const gc = await runCli(bench, ['gc', '--table', name, '--min-age', '0s', '--json'], { config });
          assert.equal(gc.exitCode, 0, gc.stderr);
          const doc = JSON.parse(gc.stdout) as { deleted: string[] };
          if (leavesOrphans(catalog, point)) assert.ok(doc.deleted.length > 0, `gc deleted the crashed run's files at ${point}`);
          else assert.deepEqual(doc.deleted, [], `nothing to collect after ${point}`);
          const killedRun = left[0]?.runId;
          if (killedRun && leavesOrphans(catalog, point))
            for (const uri of doc.deleted.filter((u) => u.endsWith('.parquet')))
              assert.ok(uri.includes(killedRun), `${uri} is the killed run's`);
          const table = await currentTable(bench.catalog, bench.io, { namespace: bench.namespace, name });
          assert.ok(table);
          await assertAgree(bench, cfg); // everything referenced is still there: pyiceberg reads every row
        }
      });
    }
  });
}
