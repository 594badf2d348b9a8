// The interval loop of `offload run --every` on its own, with ticks that stand in for the offload: the fixed
// schedule, skipped overlapping ticks, a stop that waits for the commit under way, one line per table per tick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { OffloadEvent } from '../../src/pipeline/events.js';
import {
  durationText,
  formatScheduleJson,
  formatScheduleLine,
  runOnSchedule,
  type ScheduleLogLine,
  type TickContext,
} from '../../src/pipeline/schedule.js';

const TABLES = [
  { name: 'bronze_a', layer: 'bronze' as const },
  { name: 'silver_b', layer: 'silver' as const },
];
const WM = { timestamp: '2026-02-11T12:02:00.000000Z', tieBreak: '7' };

/** Polls `check` until it is true or the deadline passes. */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** A run that committed in one batch: its `committed` event, then its `finished` one. */
function committed(table: string, rows: number): OffloadEvent[] {
  const batch = { table, runId: `run-${table}`, snapshotId: '1', watermark: WM, rows, files: 1, bytes: 100, durationMs: 3 };
  return [
    { kind: 'committed', ...batch },
    { kind: 'finished', ...batch, batches: 1 },
  ];
}

test('ticks run on a fixed schedule, one line per table per tick', async () => {
  const lines: ScheduleLogLine[] = [];
  const stop = new AbortController();
  const starts: number[] = [];
  const done = runOnSchedule({
    everyMs: 150,
    tables: TABLES,
    stop: stop.signal,
    log: (l) => lines.push(l),
    tick: async ({ emit }) => {
      starts.push(Date.now());
      for (const e of committed('bronze_a', 10)) emit(e);
      emit({ kind: 'up-to-date', table: 'silver_b', watermark: WM });
    },
  });
  await until(() => starts.length >= 4, '4 ticks');
  stop.abort('SIGTERM');
  const summary = await done;

  assert.ok(summary.ticks >= 4, `ticks: ${summary.ticks}`);
  assert.equal(summary.skipped, 0);
  // Fixed schedule: tick n starts at start + (n − 1)·150 ms, not 150 ms after the previous one ended.
  for (let i = 1; i < 4; i++) {
    const offset = starts[i] - starts[0];
    assert.ok(Math.abs(offset - i * 150) < 75, `tick ${i + 1} started ${offset} ms after the first, expected ≈ ${i * 150}`);
  }
  const tableLines = lines.filter((l) => l.event === 'table');
  assert.equal(tableLines.length, summary.ticks * TABLES.length);
  for (let tick = 1; tick <= summary.ticks; tick++) {
    const mine = tableLines.filter((l) => l.tick === tick);
    assert.deepEqual(
      mine.map((l) => [l.table, l.layer, l.status]),
      [
        ['bronze_a', 'bronze', 'committed'],
        ['silver_b', 'silver', 'up-to-date'],
      ],
    );
  }
  const first = tableLines[0];
  assert.equal(first.rows, 10);
  assert.deepEqual(first.watermark, WM);
  assert.equal(lines[0].event, 'started');
  assert.equal(lines.at(-2)?.event, 'stopping');
  assert.deepEqual(lines.at(-1), { ...lines.at(-1), event: 'stopped', ticks: summary.ticks, skipped: 0, failedTicks: 0 });
});

test('a tick still running when the next is due is skipped and logged, never started twice', async () => {
  const lines: ScheduleLogLine[] = [];
  const stop = new AbortController();
  let concurrent = 0;
  let maxConcurrent = 0;
  let ticks = 0;
  const done = runOnSchedule({
    everyMs: 50,
    tables: TABLES,
    stop: stop.signal,
    log: (l) => lines.push(l),
    tick: async ({ emit }) => {
      ticks++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await delay(170); // longer than three intervals
      for (const e of committed('bronze_a', 1)) emit(e);
      for (const e of committed('silver_b', 1)) emit(e);
      concurrent--;
    },
  });
  await until(() => ticks >= 2 && concurrent === 0, 'two slow ticks');
  stop.abort();
  const summary = await done;

  assert.equal(maxConcurrent, 1, 'two ticks ran at once');
  const skipped = lines.filter((l) => l.event === 'tick-skipped');
  assert.ok(skipped.length >= 3, `skipped lines: ${skipped.length}`);
  assert.equal(summary.skipped, skipped.length);
  // Ticks 2, 3, 4 fall inside tick 1 (0–170 ms); tick 5 (200 ms) starts.
  assert.deepEqual(
    skipped.slice(0, 3).map((l) => [l.tick, l.runningTick]),
    [
      [2, 1],
      [3, 1],
      [4, 1],
    ],
  );
  // The next tick that starts is a later due time (5 unless this machine is slow), and every due time
  // between the two was skipped.
  const startedTicks = [...new Set(lines.flatMap((l) => (l.event === 'table' ? [l.tick] : [])))];
  assert.ok(startedTicks[1] >= 5, `second tick started: ${startedTicks[1]}`);
  const skippedTicks = new Set(skipped.map((l) => l.tick));
  for (let n = 2; n < startedTicks[1]; n++) assert.ok(skippedTicks.has(n), `due time ${n} neither started nor skipped`);
  assert.match(formatScheduleLine(skipped[0]), /tick 2 {2}skipped: tick 1 still running \(for 0\.\d\d s\)/);
});

test('a stop waits for the commit under way, starts nothing after it, and every table still gets its line', async () => {
  const lines: ScheduleLogLine[] = [];
  const stop = new AbortController();
  let inCommit = false;
  let commits = 0;
  let tickSignal: AbortSignal | undefined;
  const done = runOnSchedule({
    everyMs: 60_000,
    tables: TABLES,
    stop: stop.signal,
    log: (l) => lines.push(l),
    tick: async ({ emit, signal }: TickContext) => {
      tickSignal = signal;
      for (const t of TABLES) {
        // The offload checks the signal before its commit transaction begins …
        if (signal.aborted) return;
        inCommit = true;
        await delay(150); // … and a commit, once begun, is completed.
        commits++;
        inCommit = false;
        for (const e of committed(t.name, 5)) emit(e);
      }
    },
  });
  await until(() => inCommit, 'the first commit to begin');
  stop.abort('SIGTERM');
  let returned = false;
  void done.then(() => (returned = true));
  await delay(50);
  assert.equal(returned, false, 'the loop returned while a commit was under way');
  assert.equal(tickSignal?.aborted, true, "the tick's signal was not aborted");
  const summary = await done;

  assert.equal(commits, 1, 'exactly the commit under way completes; nothing starts after the stop');
  assert.equal(summary.ticks, 1);
  const tableLines = lines.filter((l) => l.event === 'table');
  assert.deepEqual(
    tableLines.map((l) => [l.table, l.status]),
    [
      ['bronze_a', 'committed'],
      ['silver_b', 'not-run'],
    ],
  );
  assert.equal(tableLines[1].reason, 'stopped before this table was offloaded');
  const stopping = lines.find((l) => l.event === 'stopping');
  assert.deepEqual(stopping && [stopping.reason, stopping.runningTick], ['SIGTERM', 1]);
  const order = lines.map((l) => l.event);
  assert.ok(order.indexOf('stopping') < order.indexOf('table'), 'the stop is logged when asked, before the commit ends');
  assert.equal(order.at(-1), 'stopped');
});

test('a failing table and a crashing tick are reported on their lines; the schedule goes on', async () => {
  const lines: ScheduleLogLine[] = [];
  const stop = new AbortController();
  let ticks = 0;
  const done = runOnSchedule({
    everyMs: 40,
    tables: TABLES,
    stop: stop.signal,
    log: (l) => lines.push(l),
    tick: async ({ emit }) => {
      ticks++;
      if (ticks === 1) {
        emit({ kind: 'failed', table: 'bronze_a', runId: 'r1', error: 'source table k2.nope does not exist' });
        emit({ kind: 'failed', table: 'bronze_a', error: 'reported twice' });
        emit({ kind: 'skipped', table: 'silver_b', reason: 'bronze layer failed' });
        emit({ kind: 'log', table: 'bronze_a', level: 'warn', message: 'something to know' });
        emit({ kind: 'log', level: 'info', message: 'noise' });
        return;
      }
      if (ticks === 2) throw new Error('PostgreSQL went away');
    },
  });
  await until(() => ticks >= 3, 'three ticks');
  stop.abort();
  const summary = await done;

  const byTick = (n: number) => lines.filter((l): l is Extract<ScheduleLogLine, { event: 'table' }> => l.event === 'table' && l.tick === n);
  assert.deepEqual(
    byTick(1).map((l) => [l.table, l.status, l.error ?? l.reason]),
    [
      ['bronze_a', 'failed', 'source table k2.nope does not exist'],
      ['silver_b', 'skipped', 'bronze layer failed'],
    ],
  );
  assert.deepEqual(
    byTick(2).map((l) => [l.table, l.status, l.reason]),
    [
      ['bronze_a', 'not-run', 'the tick failed: PostgreSQL went away'],
      ['silver_b', 'not-run', 'the tick failed: PostgreSQL went away'],
    ],
  );
  assert.equal(lines.filter((l) => l.event === 'log').length, 1, 'warnings pass through, info logs do not');
  assert.ok(summary.failedTicks >= 2);
  const finished = lines.filter((l) => l.event === 'tick-finished');
  assert.equal(finished[0].event === 'tick-finished' && finished[0].failed, 1);
  assert.equal(finished[1].event === 'tick-finished' && finished[1].error, 'PostgreSQL went away');
});

test('log lines: JSON on one line, and text a person reads', () => {
  const line: ScheduleLogLine = {
    event: 'table',
    time: '2026-11-25T22:15:00.000Z',
    tick: 3,
    table: 'bronze_trades_binance',
    layer: 'bronze',
    status: 'committed',
    rows: 12345,
    files: 2,
    watermark: WM,
    durationMs: 1234,
  };
  const json = formatScheduleJson(line);
  assert.equal(json.includes('\n'), false);
  assert.deepEqual(JSON.parse(json), line);
  assert.equal(
    formatScheduleLine(line),
    '2026-11-25T22:15:00.000Z  tick 3  bronze_trades_binance (bronze)  committed  12,345 rows, 2 files, watermark 2026-02-11T12:02:00.000000Z #7, 1.23 s',
  );
  assert.equal(durationText(900_000), '15m');
  assert.equal(durationText(2000), '2s');
  assert.equal(durationText(5_400_000), '1h30m');
  assert.equal(durationText(250), '250ms');
});
