// The CLI on the stack's Iceberg REST catalog, with one setting changed from a JDBC installation
// (OFFLOAD_CATALOG_URI): `offload run --all` twice over the nine shipped tables, `status --json` (the REST
// catalog as a service, Δ = 0 everywhere), `runs`, `gc` (nothing referenced deleted), and pyiceberg's
// RestCatalog reading every table with the same rows as ClickHouse up to the watermark.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { seedTrades } from '../../src/dev/seed.js';
import type { StatusReport } from '../../src/pipeline/status-model.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import { currentTable } from '../../src/pipeline/recover.js';
import * as watermarks from '../../src/state/watermarks.js';
import { SUMMARY } from '../../src/pipeline/stage.js';
import { assertAgree, openBench, projectTables, pyicebergSkip, runCli, writeConfigFile, type Bench } from '../support/offload-stack.js';
import { restCatalogSkip } from '../support/rest-catalog.js';

let bench: Bench;
const skip = pyicebergSkip || restCatalogSkip || undefined;

describe('offload run --all / status / runs / gc through the REST catalog', { skip }, () => {
  before(async () => {
    bench = await openBench('clirest', { catalog: 'rest' });
  });
  after(async () => {
    await bench?.close();
  });

  it('offloads the nine tables, then finds them up to date; status agrees; gc keeps every referenced file; pyiceberg reads them', async () => {
    const end = new Date(Date.now() - 2 * 86_400_000);
    await seedTrades(bench.ch, { rows: 6_000, start: new Date(end.getTime() - 86_400_000), end, database: bench.chDatabase });
    const tables = projectTables(bench);
    const config = await writeConfigFile(tables);

    const first = await runCli(bench, ['run', '--all', '--json'], { config, timeoutMs: 600_000 });
    assert.equal(first.exitCode, 0, first.stderr.slice(-2000));
    const doc = JSON.parse(first.stdout) as { results: Array<{ table: string; status: string; rows?: number }> };
    assert.deepEqual(
      doc.results.map((r) => [r.table, r.status]),
      tables.map((t) => [t.name, 'committed']),
    );
    const rows = new Map(doc.results.map((r) => [r.table, r.rows ?? 0]));
    assert.equal(rows.get('bronze_trades_binance')! + rows.get('bronze_trades_kraken')!, 6_000);
    assert.equal(rows.get('silver_trades'), 6_000);

    const second = await runCli(bench, ['run', '--all', '--json'], { config, timeoutMs: 600_000 });
    assert.equal(second.exitCode, 0, second.stderr.slice(-2000));
    assert.deepEqual(
      (JSON.parse(second.stdout) as { results: Array<{ status: string }> }).results.map((r) => r.status),
      tables.map(() => 'up-to-date'),
    );

    // The table (through the REST catalog) and PostgreSQL say the same: each watermark is its newest snapshot's.
    for (const t of tables) {
      const ident = { namespace: t.targetNamespace.join('.'), name: t.targetTable };
      const table = await currentTable(bench.catalog, bench.io, ident);
      const snap = table && currentSnapshot(table.metadata);
      assert.ok(snap, `${t.name} has a snapshot in the REST catalog`);
      const state = await watermarks.read(bench.pool, t.name);
      assert.equal(snap.summary[SUMMARY.runId], state?.committedRunId, `${t.name}: the snapshot is the run PostgreSQL recorded`);
    }

    const status = await runCli(bench, ['status', '--json'], { config });
    assert.equal(status.exitCode, 0, status.stderr);
    const report = JSON.parse(status.stdout) as StatusReport;
    const service = report.services.find((s) => s.name === 'Iceberg');
    assert.ok(service?.ok, `the REST catalog is a service that answers: ${JSON.stringify(report.services)}`);
    assert.match(service.url, /REST/i);
    for (const t of report.tables) {
      assert.ok(t.iceberg.ok && t.iceberg.value.exists, `${t.name}: ${JSON.stringify(t.iceberg)}`);
      assert.equal(t.delta, 0, `${t.name}: Iceberg rows = ClickHouse rows up to the watermark`);
      assert.equal(t.lastRun?.status, 'up_to_date');
    }

    const history = await runCli(bench, ['runs', '--table', 'silver_trades', '--json'], { config });
    assert.equal(history.exitCode, 0, history.stderr);
    assert.deepEqual(
      (JSON.parse(history.stdout) as { runs: Array<{ status: string }> }).runs.map((r) => r.status),
      ['up_to_date', 'committed'],
    );

    const gc = await runCli(bench, ['gc', '--min-age', '0s', '--json'], { config });
    assert.equal(gc.exitCode, 0, gc.stderr);
    assert.deepEqual((JSON.parse(gc.stdout) as { deleted: string[] }).deleted, [], 'every file is referenced');

    for (const t of tables) {
      const agree = await assertAgree(bench, t);
      assert.equal(agree.icebergRows, agree.clickhouseRows, t.name);
    }
  });
});
