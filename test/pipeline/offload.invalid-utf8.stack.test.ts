// A bronze trade whose symbol is not UTF-8 (ClickHouse strings are bytes) never stops a table: `offload run
// --all` commits every table of every layer, the invalid bytes are written as U+FFFD, the run records how many
// values per column it changed (runs --json), the CLI warns with the count and the table, and pyiceberg and
// DuckDB read the replaced value back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freshCliStack, TradeBatches, type CliStack } from '../support/cli-stack.js';
import { clickhouseQuery, SHIPPED_TABLES } from '../support/stack.js';
import { pyiceberg, pyicebergSkip, type PyRead } from '../support/iceberg-tables.js';

const TABLES = SHIPPED_TABLES;
const HOUR = 3_600_000;
// "BT", a lead byte without its continuation, "CUS", a byte never valid in UTF-8, "DT".
const BAD_SYMBOL_HEX = '4254C3435553FF4454';
const REPLACED = 'BT\uFFFDCUS\uFFFDDT';

let stack: CliStack;

before(async () => {
  stack = await freshCliStack('utf8');
  await new TradeBatches(4).seed(stack, 2_000, 30 * HOUR, 'utf8');
  // One more Binance trade, a copy of the first with its own offset and sequence number and a symbol that is
  // not UTF-8; the materialized view carries it into silver, and the candle queries group by it.
  const db = stack.clickhouseDatabase;
  const copy = `INSERT INTO ${db}.bronze_trades_binance
    SELECT exchange_timestamp, exchange_timestamp_ms, sequence_number + 1000000000, unhex('${BAD_SYMBOL_HEX}'),
           price, quantity, quote_volume, event_time, event_time_ms, kafka_offset + 1000000000, kafka_partition,
           ingestion_timestamp
      FROM ${db}.bronze_trades_binance ORDER BY exchange_timestamp LIMIT 1`;
  await clickhouseQuery(copy);
});

after(async () => {
  await stack?.drop();
});

describe('a String that is not UTF-8 in bronze', () => {
  it('run --all commits every table, warns with the count per table and records it in the run', async () => {
    const run = await stack.offload(['run', '--all', '--json']);
    assert.equal(run.exitCode, 0, String(run.stderr));
    const doc = JSON.parse(String(run.stdout)) as {
      results: Array<{
        table: string;
        status: string;
        rows: number;
        batches: Array<{ runId: string; replacedUtf8?: Record<string, number> }>;
      }>;
    };
    assert.deepEqual(doc.results.map((r) => [r.table, r.status]).sort(), TABLES.map((t) => [t, 'committed']).sort());
    const result = (table: string) => doc.results.find((r) => r.table === table)!;
    assert.deepEqual(result('bronze_trades_binance').batches[0].replacedUtf8, { symbol: 1 });
    assert.equal(result('bronze_trades_kraken').batches[0].replacedUtf8, undefined);
    assert.equal(result('silver_trades').batches[0].replacedUtf8?.symbol, 1);
    for (const candle of TABLES.filter((t) => t.startsWith('ohlcv_')))
      assert.ok(Object.keys(result(candle).batches[0].replacedUtf8 ?? {}).length > 0, `${candle}: ${JSON.stringify(result(candle))}`);

    // The operator's warning: the table, the count, the column, the run.
    const bronzeRun = result('bronze_trades_binance').batches[0].runId;
    assert.match(
      String(run.stderr),
      new RegExp(`bronze_trades_binance: 1 value not valid UTF-8 committed with U\\+FFFD .*\\(symbol: 1\\), run ${bronzeRun}`),
    );

    const runs = await stack.offload(['runs', '--table', 'bronze_trades_binance', '--json']);
    assert.equal(runs.exitCode, 0, String(runs.stderr));
    const history = JSON.parse(String(runs.stdout)) as { runs: Array<{ runId: string; status: string; replacedUtf8: unknown }> };
    assert.deepEqual(
      history.runs.map((r) => [r.runId, r.status, r.replacedUtf8]),
      [[bronzeRun, 'committed', { symbol: 1 }]],
    );
    const text = await stack.offload(['runs', '--table', 'bronze_trades_binance']);
    assert.match(String(text.stdout), /NOT UTF-8/);
    assert.match(String(text.stdout), /symbol 1/);

    // Every row of bronze in Iceberg, the seeded ones and the one with the replaced symbol.
    const snaps = await stack.snapshots();
    const report = await stack.status();
    for (const t of report.tables) {
      assert.ok(t.clickhouse.ok, `${t.name}: ${JSON.stringify(t.clickhouse)}`);
      assert.equal(
        snaps.get(t.target)?.totalRecords ?? 0,
        t.clickhouse.value.rowsUpToWatermark,
        `${t.name}: Iceberg rows vs ClickHouse rows`,
      );
    }
  });

  it('pyiceberg and DuckDB read the replaced symbol back', { skip: pyicebergSkip }, async () => {
    const warehouse = {
      url: stack.env.OFFLOAD_WAREHOUSE,
      pyEnv: {
        S3_ENDPOINT: stack.env.AWS_ENDPOINT_URL_S3,
        AWS_ACCESS_KEY_ID: stack.env.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: stack.env.AWS_SECRET_ACCESS_KEY,
        AWS_REGION: stack.env.AWS_REGION,
      },
    };
    const read = await pyiceberg<PyRead>({ catalogUrl: stack.pgUrl, catalogName: 'offload', warehouse }, [
      'read',
      'cold.bronze_trades_binance',
      '--duckdb',
    ]);
    const symbols = (rows: Array<Record<string, unknown>>) => rows.map((r) => r.symbol).filter((s) => s === REPLACED);
    assert.deepEqual(symbols(read.rows as Array<Record<string, unknown>>), [REPLACED]);
    assert.deepEqual(symbols(read.duckdb_rows as Array<Record<string, unknown>>), [REPLACED]);
  });
});
