// Test files are outside tsconfig.json, so the JSX transform is named here.
/** @jsxRuntime automatic @jsxImportSource react */
// Drill mode (`d`): choose a table and a fault point, watch the offload process die and the next one
// recover, each invariant ✓/✗ with its numbers, save the report, go back. The drill's events are played
// by hand here, as the pipeline's drill emits them.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DrillChoice, DrillFault } from '../../../src/ui/backend.js';
import { closeApps, openApp } from '../../support/ui/app.js';
import { MemoryBackend } from '../../support/ui/memory-backend.js';
import { KEY } from '../../support/ui/terminal.js';
import { drillChoices } from '../../../src/drill/catalogue.js';
import type { DrillEvent } from '../../../src/drill/events.js';
import type { ChildRun, DrillReport, DrillStep } from '../../../src/drill/report.js';
import type { InvariantCheck } from '../../../src/verify/check.js';

interface ScriptedDrill {
  choice: DrillChoice;
  signal: AbortSignal;
  emit: (e: DrillEvent) => void;
  finish: (report: DrillReport) => void;
  fail: (err: Error) => void;
}

/** The UI's memory backend, with drill mode: each drill is played by the test. */
class DrillBackend extends MemoryBackend {
  readonly drills: ScriptedDrill[] = [];
  readonly saved: DrillReport[] = [];
  drillMenu(): { tables: string[]; faults: DrillFault[] } {
    return { tables: this.report.tables.map((t) => t.name), faults: drillChoices() };
  }
  drill(choice: DrillChoice, onEvent: (e: DrillEvent) => void, signal: AbortSignal): Promise<DrillReport> {
    return new Promise((finish, fail) => this.drills.push({ choice, signal, emit: onEvent, finish, fail }));
  }
  async saveDrillReport(report: DrillReport): Promise<string> {
    this.saved.push(report);
    return 'drill-reports/drill-2026-02-11T12-05-00-000Z.md';
  }
}

afterEach(closeApps);

const open = (size = { columns: 100, rows: 34 }) => openApp(new DrillBackend(), size);

function check(
  name: InvariantCheck['name'],
  numbers: InvariantCheck['numbers'],
  status: InvariantCheck['status'] = 'held',
  detail = '',
): InvariantCheck {
  return { name, status, numbers, detail };
}

const HELD: InvariantCheck[] = [
  check('rows-lost', { lost: 0, clickhouseRowsUpToWatermark: 12345, icebergRows: 12345 }),
  check('rows-duplicated', { duplicated: 0, unexpected: 0, clickhouseRowsUpToWatermark: 12345, icebergRows: 12345 }),
  check('watermark-matches-snapshot', {
    watermark: '2026-02-11T12:00:00.000000Z #77',
    snapshotWatermark: '2026-02-11T12:00:00.000000Z #77',
    snapshotId: '8123',
  }),
  check('no-run-left-running', { running: 0, committed: 1, aborted: 1, failed: 0, upToDate: 0 }),
  check('metadata-readable', { snapshots: 1, dataFiles: 3, manifestRecords: 12345, summaryTotalRecords: 12345, missingFiles: 0 }),
  check('pyiceberg-loads', { rows: 12345, files: 3, snapshotId: '8123' }),
  check('orphans-collected', { found: 5, removedByGc: 5, left: 0, referencedMissing: 0 }),
];

function run(role: ChildRun['role'], over: Partial<ChildRun>): ChildRun {
  return {
    role,
    table: 'silver_trades',
    fault: null,
    pid: 101,
    exitCode: 0,
    signal: null,
    durationMs: 2100,
    outcome: 'committed',
    runIds: [],
    rows: null,
    ...over,
  };
}

function reportOf(steps: DrillStep[], outcome: DrillReport['outcome']): DrillReport {
  return {
    kind: 'faults',
    startedAt: '2026-02-11T12:05:00.000Z',
    finishedAt: '2026-02-11T12:05:12.000Z',
    elapsedMs: 12_000,
    environment: { clickhouse: 'x', postgres: 'y', warehouse: 'z', sandbox: { id: 'a', namespace: 'drill_a', kept: false }, tables: [] },
    options: {},
    steps,
    final: [],
    totals: {
      steps: 1,
      kills: 1,
      transientInjected: 0,
      offloadProcesses: 2,
      rowsChecked: 12345,
      invariantsChecked: 7,
      invariantsHeld: 7,
      invariantsBroken: 0,
      invariantsSkipped: 0,
      stepsHeld: 1,
      stepsBroken: 0,
      stepsInconclusive: 0,
      tradesInserted: 0,
    },
    outcome,
  };
}

/** Plays a crash step: the killed process, the recovery, the checks. */
function playCrash(d: ScriptedDrill, checks: InvariantCheck[]): DrillStep {
  const fault = d.choice.fault.id;
  d.emit({ kind: 'drill-started', drill: 'faults', steps: 1, tables: [d.choice.table], sandbox: 'drill_a' });
  d.emit({ kind: 'step-started', index: 1, total: 1, table: d.choice.table, fault, step: 'crash', simulates: d.choice.fault.simulates });
  d.emit({ kind: 'child-started', index: 1, role: 'killed', table: d.choice.table, fault, pid: 101 });
  d.emit({
    kind: 'child-line',
    index: 1,
    role: 'killed',
    stream: 'stderr',
    line: `offload: fault point ${fault} reached: killing this process (SIGKILL)`,
  });
  const killed = run('killed', { fault, exitCode: null, signal: 'SIGKILL', outcome: `killed at ${fault}` });
  d.emit({ kind: 'child-exited', index: 1, run: killed });
  d.emit({ kind: 'child-started', index: 1, role: 'recovery', table: d.choice.table, fault: null, pid: 102 });
  const recovery = run('recovery', { pid: 102, rows: 4321, durationMs: 1900 });
  d.emit({ kind: 'child-exited', index: 1, run: recovery });
  d.emit({ kind: 'checking', index: 1, table: d.choice.table });
  for (const c of checks) d.emit({ kind: 'check', index: 1, table: d.choice.table, check: c });
  const step: DrillStep = {
    index: 1,
    kind: 'crash',
    table: d.choice.table,
    fault,
    simulates: d.choice.fault.simulates,
    runs: [killed, recovery],
    injected: null,
    verification: { checks, clickhouseRows: 12345, icebergRows: 12345, orphansFound: 5, elapsedMs: 900 },
    outcome: checks.some((c) => c.status === 'broken') ? 'broken' : 'held',
    note: '',
    elapsedMs: 12_000,
  };
  d.emit({ kind: 'step-finished', step });
  return step;
}

describe('drill mode', () => {
  it('d opens it with the selected table and the fault points; the hint bar and help name it', async () => {
    const { press, frame, until } = await open();
    assert.match(frame(), /d drill/);
    await press('j', 'j', 'd');
    const f = await until((x) => x.includes('Drill mode'));
    assert.match(f, /TABLE\s+FAULT/);
    assert.match(f, /› silver_trades/, 'the table selected on the main screen');
    assert.match(f, /› after-plan/);
    for (const fault of ['mid-extract', 'after-data-upload', 'inside-commit']) assert.ok(f.includes(fault), fault);
    assert.match(f, /after-plan \(crash\): the process dies right after planning its window/);
    assert.match(f, /sandbox copy of silver_trades/);
    assert.match(f, /⏎ start/);
    await press('j');
    await until((x) => x.includes('› ohlcv_1m')); // the table list has the focus first
    assert.match(frame(), /› after-plan/);
    await press(KEY.tab, 'j');
    await until((x) => x.includes('› mid-extract'));
    assert.match(frame(), /mid-extract \(crash\): the process dies while rows stream from ClickHouse/);
  });

  it('runs the chosen drill: the process dies at the fault, the next recovers, each invariant ✓ with its numbers; s saves; esc goes back', async () => {
    const { backend, press, frame, until } = await open();
    await press('d');
    await until((x) => x.includes('Drill mode'));
    await press(KEY.tab, 'j', 'j', 'j', 'j', 'j', 'j'); // to the faults; after-plan → inside-commit
    await until((x) => x.includes('› inside-commit'));
    await press(KEY.tab, 'j', KEY.tab); // table: bronze_trades_binance → bronze_trades_kraken
    await press(KEY.enter);
    assert.equal(backend.drills.length, 1);
    const d = backend.drills[0];
    assert.equal(d.choice.table, 'bronze_trades_kraken');
    assert.equal(d.choice.fault.id, 'inside-commit');
    await until((x) => x.includes('Drill  bronze_trades_kraken · inside-commit'));
    assert.match(frame(), /running/);

    d.emit({
      kind: 'step-started',
      index: 1,
      total: 1,
      table: 'bronze_trades_kraken',
      fault: 'inside-commit',
      step: 'crash',
      simulates: d.choice.fault.simulates,
    });
    d.emit({ kind: 'child-started', index: 1, role: 'killed', table: 'bronze_trades_kraken', fault: 'inside-commit', pid: 101 });
    let f = await until((x) => x.includes('pid 101'));
    assert.match(f, /▶ killed\s+pid 101\s+running — fault inside-commit armed/);

    const step = playCrash(d, HELD);
    f = await until((x) => x.includes('orphans collected'));
    assert.match(f, /✗ killed\s+pid 101\s+killed at inside-commit — SIGKILL · 2\.1 s/);
    assert.match(f, /✓ recovery\s+pid 102\s+committed · 4,321 rows · 1\.9 s/);
    assert.match(f, /✓ rows lost\s+lost 0 · ClickHouse 12,345 · Iceberg 12,345/);
    assert.match(f, /✓ rows duplicated\s+duplicated 0 · unexpected 0/);
    assert.match(f, /✓ watermark = snapshot\s+2026-02-11T12:00:00\.000000Z #77 = snapshot 8123/);
    assert.match(f, /✓ no run left running\s+running 0 · committed 1 · aborted 1/);
    assert.match(f, /✓ metadata readable\s+1 snapshot\(s\) · 3 data file\(s\) · 12,345 records/);
    assert.match(f, /✓ loads in pyiceberg\s+12,345 rows · snapshot 8123/);
    assert.match(f, /✓ orphans collected by gc\s+found 5 · removed 5 · left 0/);
    assert.match(f, /killed: offload: fault point inside-commit reached/, "the processes' output");

    d.finish(reportOf([step], 'held'));
    f = await until((x) => x.includes('every invariant held'));
    assert.match(f, /s save report · enter new drill · esc back/);
    await press('s');
    f = await until((x) => x.includes('saved: drill-reports/'));
    assert.equal(backend.saved.length, 1);
    assert.equal(backend.saved[0].outcome, 'held');
    await press(KEY.escape);
    f = await until((x) => !x.includes('Drill') && x.includes('ohlcv_1d'));
    assert.match(f, /j\/k move/);
  });

  it('while the invariants are checked, shows which check is under way and each one as it ends', async () => {
    const { backend, press, until } = await open();
    await press('d');
    await until((x) => x.includes('Drill mode'));
    await press(KEY.enter);
    const d = backend.drills[0];
    const table = d.choice.table;
    d.emit({ kind: 'step-started', index: 1, total: 1, table, fault: 'after-plan', step: 'crash', simulates: 'x' });
    d.emit({ kind: 'checking', index: 1, table });
    d.emit({ kind: 'checking', index: 1, table, checks: ['rows-lost', 'rows-duplicated'] });
    let f = await until((x) => x.includes('▸ rows lost'));
    assert.match(f, /▸ rows lost\s+checking…/);
    assert.match(f, /▸ rows duplicated\s+checking…/);
    assert.doesNotMatch(f, /^\s+checking…$/m, 'not a bare "checking…"');
    for (const c of HELD.slice(0, 2)) d.emit({ kind: 'check', index: 1, table, check: c });
    d.emit({ kind: 'checking', index: 1, table, checks: ['pyiceberg-loads'] });
    f = await until((x) => x.includes('▸ loads in pyiceberg'));
    assert.match(f, /✓ rows lost\s+lost 0/);
    assert.match(f, /✓ rows duplicated/);
    assert.doesNotMatch(f, /▸ rows lost/);
  });

  it('shows a broken invariant as ✗ with what is wrong, and the drill as broken', async () => {
    const { backend, press, until } = await open();
    await press('d');
    await until((x) => x.includes('Drill mode'));
    await press(KEY.enter);
    const d = backend.drills[0];
    const broken = HELD.map((c) =>
      c.name === 'rows-duplicated'
        ? check('rows-duplicated', { duplicated: 812, unexpected: 0 }, 'broken', '812 duplicated and 0 unexpected Iceberg rows')
        : c,
    );
    const step = playCrash(d, broken);
    d.finish(reportOf([{ ...step, outcome: 'broken' }], 'broken'));
    const f = await until((x) => x.includes('AN INVARIANT BROKE'));
    assert.match(f, /✗ rows duplicated\s+812 duplicated and 0 unexpected Iceberg rows/);
    assert.match(f, /✓ rows lost\s+lost 0/);
  });

  it('esc while a drill runs asks it to stop after the step under way', async () => {
    const { backend, press, frame, until } = await open();
    await press('d');
    await until((x) => x.includes('Drill mode'));
    await press(KEY.enter);
    const d = backend.drills[0];
    await until((x) => x.includes('esc stop after this step'));
    await press(KEY.escape);
    assert.equal(d.signal.aborted, true);
    await until((x) => x.includes('stopping after this step'));
    d.fail(new Error('stopped'));
    await until((x) => x.includes('failed: stopped'));
    assert.match(frame(), /enter new drill/);
  });

  it('offers random kills and counts them as they happen; fits 80×24', async () => {
    const { backend, press, frame, until } = await open({ columns: 80, rows: 24 });
    await press('d');
    await until((x) => x.includes('Drill mode'));
    await press(KEY.tab, 'G');
    await until((x) => x.includes('› random (10 kills)'));
    for (const l of frame().split('\n')) assert.ok(l.length <= 80, `line too wide: ${l}`);
    await press(KEY.enter);
    const d = backend.drills[0];
    assert.equal(d.choice.fault.kind, 'random');
    for (let i = 1; i <= 3; i++) {
      d.emit({
        kind: 'step-started',
        index: i,
        total: 10,
        table: d.choice.table,
        fault: 'after-manifests',
        step: 'random',
        simulates: 'x',
      });
      const killed = run('killed', { fault: 'after-manifests', exitCode: null, signal: 'SIGKILL', outcome: 'killed at after-manifests' });
      d.emit({ kind: 'child-exited', index: i, run: killed });
      d.emit({
        kind: 'step-finished',
        step: {
          index: i,
          kind: 'random',
          table: d.choice.table,
          fault: 'after-manifests',
          simulates: 'x',
          runs: [killed],
          injected: null,
          verification: null,
          outcome: 'held',
          note: '',
          elapsedMs: 1,
        },
      });
    }
    d.emit({ kind: 'trades', inserted: 1234 });
    const f = await until((x) => x.includes('kills 3/10'));
    assert.match(f, /kills 3\/10 · 1,234 new trades/);
    for (const l of f.split('\n')) assert.ok(l.length <= 80, `line too wide: ${l}`);
  });
});
