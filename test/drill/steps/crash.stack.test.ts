// Every crash fault point, on a bronze and a gold table: the offload process dies there by SIGKILL, the
// next run recovers, and no row is lost or duplicated — ClickHouse rows up to the watermark and Iceberg rows
// compared as multisets, with their numbers — the watermark is the snapshot's, nothing is left running, the
// metadata reads, pyiceberg agrees, and gc collects what the killed run left behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CRASH_FAULTS } from '../../../src/drill/catalogue.js';
import { runFaultDrill } from '../../../src/drill/fault-drill.js';
import type { DrillReport } from '../../../src/drill/report.js';
import { checkOf, describeStep, freshDrillStack, type DrillStack } from '../../support/drill-stack.js';

const TABLES = ['bronze_trades_binance', 'ohlcv_1m'];
// The faults after which the killed run has written files the table does not reference.
const LEAVES_FILES = new Set(['after-data-upload', 'after-manifests', 'after-metadata-file', 'before-commit', 'inside-commit']);

let stack: DrillStack;
let report: DrillReport;

before(async () => {
  stack = await freshDrillStack('drillcrash', { trades: 12_000, hours: 6 });
  report = await runFaultDrill({ tables: TABLES, crash: [...CRASH_FAULTS], transient: [], concurrent: null }, stack.options());
});

after(async () => {
  await stack?.drop();
});

describe('crash drill: every fault point × a bronze and a gold table', () => {
  it('runs one step per fault point and table, and every invariant holds', () => {
    assert.equal(report.steps.length, CRASH_FAULTS.length * TABLES.length);
    for (const s of report.steps) assert.equal(s.outcome, 'held', describeStep(s));
    assert.equal(report.outcome, 'held');
    assert.equal(report.totals.invariantsBroken, 0);
    assert.equal(report.totals.kills, 16);
  });

  it('kills the offload process by SIGKILL at the armed point, then a run without faults recovers', () => {
    for (const s of report.steps) {
      const [killed, recovery] = s.runs;
      assert.equal(killed.role, 'killed');
      assert.equal(killed.signal, 'SIGKILL', describeStep(s));
      assert.equal(killed.outcome, `killed at ${s.fault}`, 'the process said which fault point it died at');
      assert.equal(recovery.role, 'recovery');
      assert.equal(recovery.exitCode, 0, describeStep(s));
      assert.match(recovery.outcome, /^(committed|up-to-date)$/);
    }
  });

  it('loses and duplicates nothing, as multisets of whole rows, with the numbers growing step by step', () => {
    for (const table of TABLES) {
      let previous = 0;
      for (const s of report.steps.filter((x) => x.table === table)) {
        const lost = checkOf(s, 'rows-lost');
        const dup = checkOf(s, 'rows-duplicated');
        assert.equal(lost.numbers.lost, 0, describeStep(s));
        assert.equal(dup.numbers.duplicated, 0, describeStep(s));
        assert.equal(dup.numbers.unexpected, 0, describeStep(s));
        const ch = Number(lost.numbers.clickhouseRowsUpToWatermark);
        assert.equal(Number(lost.numbers.icebergRows), ch, describeStep(s));
        assert.ok(ch > previous, `${table} ${s.fault}: each step offloads a new slice (${previous} → ${ch} rows)`);
        previous = ch;
      }
    }
    // The bronze slices add up to most of the seeded Binance trades (60 % of 12,000).
    const lastBronze = report.steps.filter((s) => s.table === 'bronze_trades_binance').pop()!;
    assert.ok(Number(checkOf(lastBronze, 'rows-lost').numbers.clickhouseRowsUpToWatermark) > 5000);
  });

  it('keeps the watermark equal to the current snapshot and leaves no run running', () => {
    for (const s of report.steps) {
      const w = checkOf(s, 'watermark-matches-snapshot');
      assert.equal(w.status, 'held', describeStep(s));
      assert.equal(w.numbers.watermark, w.numbers.snapshotWatermark);
      const r = checkOf(s, 'no-run-left-running');
      assert.equal(r.numbers.running, 0);
      // The killed run was resolved: aborted when it died before COMMIT, committed when after.
      if (s.fault === 'after-commit') assert.ok(Number(r.numbers.committed) >= 1);
      else assert.ok(Number(r.numbers.aborted) >= 1, describeStep(s));
    }
  });

  it('finds the files a killed run left behind and gc removes them, never a referenced one', () => {
    for (const s of report.steps) {
      const o = checkOf(s, 'orphans-collected');
      assert.equal(o.status, 'held', describeStep(s));
      assert.equal(o.numbers.left, 0);
      assert.equal(o.numbers.referencedMissing, 0);
      assert.equal(o.numbers.removedByGc, o.numbers.found);
      if (LEAVES_FILES.has(s.fault))
        assert.ok(Number(o.numbers.found) > 0, `${s.table} ${s.fault}: the killed run left files (${o.numbers.found})`);
      if (s.fault === 'after-plan' || s.fault === 'after-commit') assert.equal(o.numbers.found, 0, `${s.table} ${s.fault}`);
    }
  });

  it('reads back: metadata consistent, and pyiceberg counts the same rows when the venv is installed', () => {
    for (const s of report.steps) {
      const m = checkOf(s, 'metadata-readable');
      assert.equal(m.status, 'held', describeStep(s));
      assert.equal(m.numbers.manifestRecords, m.numbers.summaryTotalRecords);
      const py = checkOf(s, 'pyiceberg-loads');
      if (py.status === 'skipped') continue;
      assert.equal(py.status, 'held', describeStep(s));
      assert.equal(py.numbers.rows, checkOf(s, 'rows-lost').numbers.icebergRows);
    }
  });

  it('cleans the sandbox up and never touches the configured tables', async () => {
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: stack.env.DATABASE_URL });
    await c.connect();
    try {
      const left = await c.query(`SELECT table_name FROM offload_watermarks WHERE table_name LIKE 'drill\\_%'`);
      assert.equal(left.rowCount, 0);
      const runs = await c.query(`SELECT count(*)::int AS n FROM offload_runs WHERE table_name = ANY($1)`, [TABLES]);
      assert.equal(runs.rows[0].n, 0, 'no run of a configured table');
      const tables = await c.query(`SELECT count(*)::int AS n FROM iceberg_tables`);
      assert.equal(tables.rows[0].n, 0, 'no Iceberg table left');
    } finally {
      await c.end();
    }
  });
});
