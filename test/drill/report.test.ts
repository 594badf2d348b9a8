// The drill's pure parts: which steps a plan makes, what each transient fault injects where, how a child's
// --json output is read, and the report's totals and Markdown.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CRASH_FAULTS, FAULT_SIMULATES, TRANSIENT_FAULTS, drillChoices, parseJsonOutput, planFaultSteps, proxyFaultOf } from '../../src/drill/fault-drill.js';
import { checkLine, combineOutcomes, renderMarkdown, totalsOf, type DrillReport, type DrillStep } from '../../src/drill/report.js';
import { FAULT_POINTS } from '../../src/pipeline/faults.js';
import type { InvariantCheck } from '../../src/verify/check.js';

describe('drill plan', () => {
  it('drills every fault point the engine names, in protocol order, each described', () => {
    assert.deepEqual([...CRASH_FAULTS], [...FAULT_POINTS]);
    for (const f of [...CRASH_FAULTS, ...TRANSIENT_FAULTS]) assert.ok(FAULT_SIMULATES[f].length > 20, f);
  });

  it('makes one step per fault and table, tables in order, then the two-worker step', () => {
    const steps = planFaultSteps({ tables: ['a', 'b'], crash: ['after-plan', 'inside-commit'], transient: ['pg-drop'], concurrent: 'mid-extract' });
    assert.deepEqual(
      steps.map((s) => `${s.index}:${s.table}:${s.kind}:${s.fault}`),
      ['1:a:crash:after-plan', '2:a:crash:inside-commit', '3:a:transient:pg-drop', '4:a:concurrent:mid-extract', '5:b:crash:after-plan', '6:b:crash:inside-commit', '7:b:transient:pg-drop', '8:b:concurrent:mid-extract'],
    );
  });

  it('puts each transient fault in front of the right service', () => {
    assert.deepEqual(
      TRANSIENT_FAULTS.map((f) => `${f}→${proxyFaultOf(f).service}/${proxyFaultOf(f).fault.kind}`),
      ['s3-500→S3/http-error', 's3-503→S3/http-error', 's3-timeout→S3/http-stall', 'pg-drop→PostgreSQL/drop-on-message', 'ch-reset→ClickHouse/reset-after-bytes'],
    );
    const drop = proxyFaultOf('pg-drop').fault;
    assert.ok(drop.kind === 'drop-on-message' && drop.when === 'after-reply', 'the ambiguous commit: COMMIT reaches the server');
    assert.equal(Buffer.from(drop.kind === 'drop-on-message' ? drop.match : []).toString('latin1'), 'Q\0\0\0\x0bCOMMIT\0');
  });

  it('offers every fault, two workers and random on the drill screen', () => {
    const choices = drillChoices();
    assert.equal(choices.length, CRASH_FAULTS.length + TRANSIENT_FAULTS.length + 2);
    assert.deepEqual(choices.slice(-2).map((c) => c.kind), ['concurrent', 'random']);
  });

  it('reads a child\'s --json output, whole or as JSON lines', () => {
    assert.deepEqual(parseJsonOutput('{"results":[{"table":"t","status":"committed"}]}'), [{ results: [{ table: 't', status: 'committed' }] }]);
    assert.deepEqual(parseJsonOutput('{"a":1}\nnot json\n{"b":2}\n'), [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(parseJsonOutput(''), []);
  });
});

describe('drill report', () => {
  const held = (name: InvariantCheck['name'], numbers: InvariantCheck['numbers']): InvariantCheck => ({ name, status: 'held', numbers, detail: 'ok' });
  const step = (index: number, over: Partial<DrillStep> = {}): DrillStep => ({
    index,
    kind: 'crash',
    table: 'bronze_trades_binance',
    fault: 'inside-commit',
    simulates: FAULT_SIMULATES['inside-commit'],
    runs: [
      { role: 'killed', table: 'bronze_trades_binance', fault: 'inside-commit', pid: 1, exitCode: null, signal: 'SIGKILL', durationMs: 1500, outcome: 'killed at inside-commit', runIds: [], rows: null },
      { role: 'recovery', table: 'bronze_trades_binance', fault: null, pid: 2, exitCode: 0, signal: null, durationMs: 1200, outcome: 'committed', runIds: ['r'], rows: 100 },
    ],
    injected: null,
    verification: {
      checks: [
        held('rows-lost', { lost: 0, clickhouseRowsUpToWatermark: 12345, icebergRows: 12345 }),
        held('rows-duplicated', { duplicated: 0, unexpected: 0 }),
        { name: 'pyiceberg-loads', status: 'skipped', numbers: {}, detail: 'no venv' },
        held('orphans-collected', { found: 5, removedByGc: 5, left: 0, referencedMissing: 0 }),
      ],
      clickhouseRows: 12345,
      icebergRows: 12345,
      orphansFound: 5,
      elapsedMs: 10,
    },
    outcome: 'held',
    note: '',
    elapsedMs: 4000,
    ...over,
  });

  it('totals kills, processes, rows compared and invariants', () => {
    const t = totalsOf([step(1), step(2, { outcome: 'inconclusive' })], [], 0);
    assert.deepEqual(
      { steps: t.steps, kills: t.kills, processes: t.offloadProcesses, rows: t.rowsChecked, checked: t.invariantsChecked, held: t.invariantsHeld, skipped: t.invariantsSkipped, inconclusive: t.stepsInconclusive },
      { steps: 2, kills: 2, processes: 4, rows: 24690, checked: 6, held: 6, skipped: 2, inconclusive: 1 },
    );
    assert.equal(combineOutcomes(['held', 'inconclusive']), 'inconclusive');
    assert.equal(combineOutcomes(['held', 'broken', 'inconclusive']), 'broken');
  });

  it('renders Markdown: verdict, a table of steps with ✓/✗ and the key numbers, and every invariant line', () => {
    const steps = [step(1)];
    const report: DrillReport = {
      kind: 'faults',
      startedAt: '2026-02-11T12:00:00.000Z',
      finishedAt: '2026-02-11T12:00:09.000Z',
      elapsedMs: 9000,
      environment: { clickhouse: 'http://default@127.0.0.1:18123', postgres: 'postgres://offload:***@127.0.0.1:15432/offload', warehouse: 's3://warehouse/iceberg', sandbox: { id: 'x1', namespace: 'drill_x1', kept: false }, tables: [{ table: 'bronze_trades_binance', sandbox: 'drill_x1_bronze_trades_binance', source: 'k2.bronze_trades_binance', target: 'drill_x1.bronze_trades_binance' }] },
      options: { tables: ['bronze_trades_binance'], transientFaults: [], concurrent: null },
      steps,
      final: [],
      totals: totalsOf(steps, [], 0),
      outcome: 'held',
    };
    const md = renderMarkdown(report);
    assert.match(md, /^# Failure-recovery drill: every invariant held\n/);
    assert.match(md, /- offload processes: 2, killed by SIGKILL: 1/);
    assert.match(md, /\| 1 \| bronze_trades_binance \| inside-commit \| held \| ✓ 0 \| ✓ 0 \| {2}\| {2}\| {2}\| – \| ✓ 5 \|/);
    assert.match(md, /- killed \(killed by SIGKILL, 1\.5 s\): killed at inside-commit/);
    assert.match(md, /  - ✓ rows lost — lost 0 · clickhouseRowsUpToWatermark 12,345 · icebergRows 12,345/);
    assert.match(md, /  - – table loads in pyiceberg \(no venv\)/);
    assert.match(md, /- options: tables=bronze_trades_binance\n/, 'empty and null options left out');
    assert.equal(checkLine(held('rows-duplicated', { duplicated: 0, unexpected: 0 })), '✓ rows duplicated — duplicated 0 · unexpected 0');
  });
});
