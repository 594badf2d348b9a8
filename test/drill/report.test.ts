// The drill report's pure parts: a step's verdict from its checks, the totals, the whole report, and its
// Markdown.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_SIMULATES } from '../../src/drill/catalogue.js';
import {
  brokenChecks,
  buildReport,
  checkLine,
  combineOutcomes,
  outcomeOfChecks,
  renderMarkdown,
  totalsOf,
  type DrillReport,
  type DrillStep,
} from '../../src/drill/report.js';
import type { InvariantCheck } from '../../src/verify/check.js';

describe('drill report', () => {
  const held = (name: InvariantCheck['name'], numbers: InvariantCheck['numbers']): InvariantCheck => ({
    name,
    status: 'held',
    numbers,
    detail: 'ok',
  });
  const step = (index: number, over: Partial<DrillStep> = {}): DrillStep => ({
    index,
    kind: 'crash',
    table: 'bronze_trades_binance',
    fault: 'inside-commit',
    simulates: FAULT_SIMULATES['inside-commit'],
    runs: [
      {
        role: 'killed',
        table: 'bronze_trades_binance',
        fault: 'inside-commit',
        pid: 1,
        exitCode: null,
        signal: 'SIGKILL',
        durationMs: 1500,
        outcome: 'killed at inside-commit',
        runIds: [],
        rows: null,
      },
      {
        role: 'recovery',
        table: 'bronze_trades_binance',
        fault: null,
        pid: 2,
        exitCode: 0,
        signal: null,
        durationMs: 1200,
        outcome: 'committed',
        runIds: ['r'],
        rows: 100,
      },
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
      {
        steps: t.steps,
        kills: t.kills,
        processes: t.offloadProcesses,
        rows: t.rowsChecked,
        checked: t.invariantsChecked,
        held: t.invariantsHeld,
        skipped: t.invariantsSkipped,
        inconclusive: t.stepsInconclusive,
      },
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
      environment: {
        clickhouse: 'http://default@127.0.0.1:18123',
        postgres: 'postgres://offload:***@127.0.0.1:15432/offload',
        warehouse: 's3://warehouse/iceberg',
        sandbox: { id: 'x1', namespace: 'drill_x1', kept: false },
        tables: [
          {
            table: 'bronze_trades_binance',
            sandbox: 'drill_x1_bronze_trades_binance',
            source: 'k2.bronze_trades_binance',
            target: 'drill_x1.bronze_trades_binance',
          },
        ],
      },
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
    assert.match(md, / {2}- ✓ rows lost — lost 0 · clickhouseRowsUpToWatermark 12,345 · icebergRows 12,345/);
    assert.match(md, / {2}- – table loads in pyiceberg \(no venv\)/);
    assert.match(md, /- options: tables=bronze_trades_binance\n/, 'empty and null options left out');
    assert.equal(checkLine(held('rows-duplicated', { duplicated: 0, unexpected: 0 })), '✓ rows duplicated — duplicated 0 · unexpected 0');
  });

  it('judges a step by its checks: broken when one broke or none were made, and says which', () => {
    const v = step(1).verification!;
    assert.equal(outcomeOfChecks(v), 'held');
    assert.equal(outcomeOfChecks(null), 'broken');
    const broken = {
      ...v,
      checks: [
        ...v.checks,
        {
          name: 'no-run-left-running' as const,
          status: 'broken' as const,
          numbers: { running: 1 },
          detail: '1 run(s) still marked running: r1',
        },
      ],
    };
    assert.equal(outcomeOfChecks(broken), 'broken');
    assert.equal(brokenChecks(broken), 'no-run-left-running: 1 run(s) still marked running: r1');
    assert.equal(brokenChecks(null), '');
  });

  it('builds the report: the verdict from steps and final checks, inconclusive when nothing ran', () => {
    const environment: DrillReport['environment'] = {
      clickhouse: 'c',
      postgres: 'p',
      warehouse: 'w',
      sandbox: { id: 'x1', namespace: 'drill_x1', kept: false },
      tables: [],
    };
    const startedAt = new Date(Date.now() - 1000);
    const r = buildReport('faults', startedAt, environment, [step(1), step(2, { outcome: 'inconclusive' })], [], 0, { keepSandbox: false });
    assert.equal(r.outcome, 'inconclusive');
    assert.equal(r.startedAt, startedAt.toISOString());
    assert.ok(r.elapsedMs >= 1000);
    assert.equal(r.totals.steps, 2);
    const final = [
      {
        table: 't',
        verification: {
          ...step(3).verification!,
          checks: [{ name: 'rows-lost' as const, status: 'broken' as const, numbers: { lost: 1 }, detail: 'x' }],
        },
      },
    ];
    assert.equal(buildReport('random', startedAt, environment, [step(1)], final, 7, {}).outcome, 'broken');
    assert.equal(buildReport('random', startedAt, environment, [], [], 0, {}).outcome, 'inconclusive');
  });
});
