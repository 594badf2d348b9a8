// The invariant checks themselves: on a table built by hand from ClickHouse rows they hold, and each one
// breaks — with the right number — when the state is broken on purpose (rows written twice, rows missing,
// a watermark that moved without its snapshot, a run left running, an orphan file).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clickhouseFromEnv } from '../../src/config/env.js';
import { validateTablesConfig, type TableConfig } from '../../src/config/tables.js';
import { ClickHouseSource } from '../../src/clickhouse/client.js';
import { columnTransport, extractToFile, extractionQuery, relationSql } from '../../src/clickhouse/extract/csv.js';
import * as runs from '../../src/state/runs.js';
import * as watermarks from '../../src/state/watermarks.js';
import { applySeedSchema } from '../../src/dev/schema.js';
import { seedTrades } from '../../src/dev/seed.js';
import { partitionSpecFromConfig } from '../../src/iceberg/partition.js';
import { icebergSchemaFromColumns } from '../../src/mapping/clickhouse-to-iceberg.js';
import { commitStaged, createTable, dataLocation, loadTable, stageAppend, type Table } from '../../src/iceberg/table.js';
import { readDataFiles } from '../../src/iceberg/reader.js';
import { JdbcTableCatalog } from '../../src/iceberg/jdbc-table-catalog.js';
import { parseIdentifier } from '../../src/iceberg/types.js';
import type { Watermark } from '../../src/core/watermark.js';
import type { CheckName, VerifyServices } from '../../src/verify/check.js';
import { PyIcebergReader } from '../../src/verify/pyiceberg-reader.js';
import { compareRows } from '../../src/verify/rows.js';
import { verifyTable } from '../../src/verify/table.js';
import { openCatalog, openDuck, openWarehouse, writeRows, type CatalogDatabase, type Warehouse } from '../support/iceberg-tables.js';
import { freshClickHouseDatabase, stackEnv, verificationPython } from '../support/stack.js';

const env = stackEnv();
const TRADES = 3000;

let chdb: Awaited<ReturnType<typeof freshClickHouseDatabase>>;
let ch: ClickHouseSource;
let cat: CatalogDatabase;
let wh: Warehouse;
let services: VerifyServices;

before(async () => {
  chdb = await freshClickHouseDatabase('verify');
  ch = new ClickHouseSource(clickhouseFromEnv(env), { env });
  await applySeedSchema(ch, chdb.name);
  const end = new Date(Date.now() - 3_600_000);
  await seedTrades(ch, { rows: TRADES, database: chdb.name, start: new Date(end.getTime() - 6 * 3_600_000), end, seed: 'verify' });
  cat = await openCatalog('verify');
  wh = await openWarehouse('s3');
  services = {
    clickhouse: ch,
    pool: cat.pool,
    io: wh.io,
    catalog: new JdbcTableCatalog(cat.catalog, wh.io, wh.url, cat.pool),
    warehouse: wh.url,
    env: { ...env, DATABASE_URL: cat.url },
    pyiceberg: null,
  };
  const python = verificationPython();
  if (python) services.pyiceberg = new PyIcebergReader(python, services.env, wh.url, 'offload');
});

after(async () => {
  await services?.pyiceberg?.close();
  await ch?.close();
  await cat?.close();
  await wh?.close();
  await chdb?.drop();
});

function tableConfig(name: string): TableConfig {
  return validateTablesConfig(
    {
      tables: [
        {
          name,
          layer: 'bronze',
          source: `${chdb.name}.bronze_trades_binance`,
          cursor: 'exchange_timestamp',
          tieBreak: 'kafka_offset',
          target: `verify.${name}`,
          partitionBy: ['day(exchange_timestamp)'],
        },
      ],
    },
    'test',
  ).tables[0];
}

/** The median cursor value: a watermark with rows on both sides. */
async function middleWatermark(t: TableConfig): Promise<Watermark> {
  const [r] = await ch.query<{ ts: string; off: string }>(
    `SELECT toString(exchange_timestamp) AS ts, toString(max(kafka_offset)) AS off FROM ${chdb.name}.bronze_trades_binance ` +
      `WHERE exchange_timestamp = (SELECT quantileExact(0.5)(exchange_timestamp) FROM ${chdb.name}.bronze_trades_binance) GROUP BY exchange_timestamp`,
  );
  void t;
  return { timestamp: `${r.ts.replace(' ', 'T')}.000000Z`, tieBreak: r.off };
}

/** Offloads by hand, the way the protocol does: rows up to `w` into data files, one snapshot, watermark and run in PostgreSQL. */
async function offloadByHand(t: TableConfig, w: Watermark, where?: string): Promise<{ table: Table; rows: number; runId: string }> {
  const ident = parseIdentifier(t.target);
  const columns = await ch.columns(t.sourceTable!);
  const schema = icebergSchemaFromColumns(t.source!, columns);
  const table = await createTable(cat.catalog, wh.io, ident, {
    schema,
    spec: partitionSpecFromConfig(schema, t.partitionBy),
    warehouse: wh.url,
    ifExists: 'load',
  });
  const caps = await ch.capabilities();
  const transports = columns.map((c) => columnTransport(c.name, c.type, caps));
  const at = `toDateTime('${w.timestamp.slice(0, 19).replace('T', ' ')}', 'UTC')`;
  const upTo = `(exchange_timestamp < ${at} OR (exchange_timestamp = ${at} AND kafka_offset <= ${w.tieBreak}))`;
  const plan = extractionQuery(transports, `\`${chdb.name}\`.\`bronze_trades_binance\``, where ? `${upTo} AND ${where}` : upTo);
  const dir = await mkdtemp(join(tmpdir(), 'verify-'));
  const duck = await openDuck();
  try {
    const file = await extractToFile(ch, plan, join(dir, 'rows.csv'));
    const dataFiles = await writeRows(duck, table, wh.io, relationSql([file.path], transports), { prefix: randomUUID() });
    const runId = randomUUID();
    const staged = await stageAppend(table, wh.io, dataFiles, {
      summaryProperties: { 'offload.run-id': runId, 'offload.watermark': JSON.stringify({ timestamp: w.timestamp, tieBreak: w.tieBreak }) },
    });
    const committed = await commitStaged(cat.pool, cat.catalog, staged);
    await watermarks.ensure(cat.pool, [{ table: t.name, icebergTable: t.target }]);
    await runs.start(cat.pool, { table: t.name, runId });
    const rows = dataFiles.reduce((n, f) => n + Number(f.recordCount), 0);
    await runs.markCommitted(cat.pool, runId, {
      snapshotId: staged.snapshotId ?? 0n,
      metadataLocation: staged.next,
      rows,
      bytes: 0,
      files: dataFiles.length,
    });
    await watermarks.advance(cat.pool, t.name, w, { rowCount: rows, runId });
    return { table: committed, rows, runId };
  } finally {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function statusOf(checks: Array<{ name: CheckName; status: string }>): Record<string, string> {
  return Object.fromEntries(checks.map((c) => [c.name, c.status]));
}

describe('verify', () => {
  it('holds on an exact offload, with its numbers: every row up to the watermark once, nothing orphaned', async () => {
    const t = tableConfig('exact');
    const w = await middleWatermark(t);
    const { rows } = await offloadByHand(t, w);
    const [expected] = await ch.query<{ n: string }>(
      `SELECT count() AS n FROM ${chdb.name}.bronze_trades_binance WHERE exchange_timestamp < toDateTime('${w.timestamp.slice(0, 19).replace('T', ' ')}', 'UTC') OR (exchange_timestamp = toDateTime('${w.timestamp.slice(0, 19).replace('T', ' ')}', 'UTC') AND kafka_offset <= ${w.tieBreak})`,
    );
    assert.ok(rows > 500 && rows < TRADES, `a watermark in the middle (${rows} rows)`);
    assert.equal(rows, Number(expected.n));
    let collected = 0;
    const v = await verifyTable(services, t, { catalogName: 'offload', collectOrphans: async () => ({ deleted: collected }) });
    assert.deepEqual(statusOf(v.checks), {
      'rows-lost': 'held',
      'rows-duplicated': 'held',
      'watermark-matches-snapshot': 'held',
      'no-run-left-running': 'held',
      'metadata-readable': 'held',
      'pyiceberg-loads': services.pyiceberg ? 'held' : 'skipped',
      'orphans-collected': 'held',
    });
    assert.equal(v.rows!.clickhouseRows, rows);
    assert.equal(v.rows!.icebergRows, rows);
    assert.deepEqual([v.rows!.lost, v.rows!.duplicated, v.rows!.unexpected], [0, 0, 0]);
    assert.deepEqual(v.rows!.skippedColumns, []);
    assert.equal(v.rows!.columns.length, 12, 'every column of the trade compared');
    assert.equal(v.files!.before.orphans.length, 0);
    if (services.pyiceberg) assert.equal(v.checks.find((c) => c.name === 'pyiceberg-loads')!.numbers.rows, rows);
    collected = 0;
  });

  it('counts rows written twice as duplicated, and rows beyond the watermark as unexpected', async () => {
    const t = tableConfig('twice');
    const w = await middleWatermark(t);
    const { table, rows } = await offloadByHand(t, w);
    // The same data files appended once more: every row is now there twice (the seed's append-then-update gap).
    const files = await readDataFiles(wh.io, table.metadata);
    const staged = await stageAppend(table, wh.io, files, {
      summaryProperties: {
        'offload.run-id': randomUUID(),
        'offload.watermark': JSON.stringify({ timestamp: w.timestamp, tieBreak: w.tieBreak }),
      },
    });
    await commitStaged(cat.pool, cat.catalog, staged);
    const current = await loadTable(cat.catalog, wh.io, parseIdentifier(t.target));
    const c = await compareRows(services, t, w, current.metadata);
    assert.deepEqual(
      { ch: c.clickhouseRows, ice: c.icebergRows, lost: c.lost, duplicated: c.duplicated, unexpected: c.unexpected },
      { ch: rows, ice: 2 * rows, lost: 0, duplicated: rows, unexpected: 0 },
    );
    assert.equal(c.samples.duplicated.length, 3);
    // Seen from an earlier watermark, the rows past it are unexpected (and still duplicated before it).
    const earlier = await ch.query<{ ts: string }>(
      `SELECT toString(min(exchange_timestamp)) AS ts FROM ${chdb.name}.bronze_trades_binance`,
    );
    const c2 = await compareRows(
      services,
      t,
      { timestamp: `${earlier[0].ts.replace(' ', 'T')}.000000Z`, tieBreak: '-1' },
      current.metadata,
    );
    assert.equal(c2.clickhouseRows, 0);
    assert.equal(c2.unexpected, 2 * rows - c2.duplicated);
    assert.equal(c2.lost, 0);
    assert.equal(c2.unexpected, 2 * rows);
  });

  it('counts rows missing from Iceberg as lost, and a watermark without its snapshot as broken', async () => {
    const t = tableConfig('missing');
    const w = await middleWatermark(t);
    // Every row except the BTC ones: a run that dropped rows.
    const { rows } = await offloadByHand(t, w, `symbol != 'BTCUSDT'`);
    const [btc] = await ch.query<{ n: string }>(
      `SELECT count() AS n FROM ${chdb.name}.bronze_trades_binance WHERE symbol = 'BTCUSDT' AND (exchange_timestamp < toDateTime('${w.timestamp.slice(0, 19).replace('T', ' ')}', 'UTC') OR (exchange_timestamp = toDateTime('${w.timestamp.slice(0, 19).replace('T', ' ')}', 'UTC') AND kafka_offset <= ${w.tieBreak}))`,
    );
    assert.ok(Number(btc.n) > 0);
    // The watermark then moves on in PostgreSQL alone, as if a commit had been split.
    const later = { timestamp: new Date(Date.parse(w.timestamp) + 60_000).toISOString().replace('Z', '000Z'), tieBreak: w.tieBreak };
    await watermarks.advance(cat.pool, t.name, later, { rowCount: 0, runId: randomUUID() });
    const v = await verifyTable(services, t, { catalogName: 'offload' });
    const by = Object.fromEntries(v.checks.map((c) => [c.name, c]));
    assert.equal(by['rows-lost'].status, 'broken');
    assert.ok(Number(by['rows-lost'].numbers.lost) >= Number(btc.n), `at least the ${btc.n} BTC rows are lost`);
    assert.equal(v.rows!.icebergRows, rows);
    assert.equal(by['watermark-matches-snapshot'].status, 'broken');
    assert.match(by['watermark-matches-snapshot'].detail, /moved by run|says/);
    assert.equal(by['orphans-collected'].status, 'skipped', 'without a collector the orphans are only counted');
  });

  it('reports a run left running, and orphan files until they are collected', async () => {
    const t = tableConfig('orphans');
    const w = await middleWatermark(t);
    const { table } = await offloadByHand(t, w);
    await runs.start(cat.pool, { table: t.name, runId: randomUUID() });
    const orphan = `${dataLocation(table)}/dead-run-00000.parquet`;
    await wh.io.write(orphan, new Uint8Array([1, 2, 3]));
    const v = await verifyTable({ ...services, pyiceberg: null }, t, {
      catalogName: 'offload',
      collectOrphans: async () => {
        await wh.io.delete(orphan);
        return { deleted: 1 };
      },
    });
    const by = Object.fromEntries(v.checks.map((c) => [c.name, c]));
    assert.equal(by['no-run-left-running'].status, 'broken');
    assert.equal(by['no-run-left-running'].numbers.running, 1);
    assert.deepEqual(v.files!.before.orphans, [orphan]);
    assert.equal(by['orphans-collected'].status, 'held');
    assert.deepEqual(by['orphans-collected'].numbers, { found: 1, removedByGc: 1, left: 0, referencedMissing: 0 });
    assert.equal(by['pyiceberg-loads'].status, 'skipped');
  });

  it('breaks the orphan check when gc leaves an orphan or removes a referenced file', async () => {
    const t = tableConfig('badgc');
    const w = await middleWatermark(t);
    const { table } = await offloadByHand(t, w);
    const files = await readDataFiles(wh.io, table.metadata);
    const v = await verifyTable({ ...services, pyiceberg: null }, t, {
      catalogName: 'offload',
      collectOrphans: async () => {
        await wh.io.delete(files[0].filePath); // a "gc" that deletes a live file
        return { deleted: 1 };
      },
    });
    const check = v.checks.find((c) => c.name === 'orphans-collected')!;
    assert.equal(check.status, 'broken');
    assert.equal(check.numbers.referencedMissing, 1);
  });
});
