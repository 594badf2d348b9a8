// One measured pipeline in a process of its own, so its peak RSS is its own. Prints one JSON line.
//   child.ts naive <database> <table> <workdir>   CSV export to a file, then DuckDB read_csv → Parquet (zstd)
//   child.ts offload <config.json> <table>        the exactly-once offload, end to end (needs DATABASE_URL, OFFLOAD_WAREHOUSE)
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { connectionsFromEnv } from '../src/config/env.js';
import { findTable, loadTablesConfig } from '../src/config/tables.js';
import { offloadTable } from '../src/pipeline/offload.js';
import { openServices } from '../src/pipeline/services.js';

function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

async function naive(database: string, table: string, dir: string): Promise<void> {
  const conn = connectionsFromEnv({ ...process.env, OFFLOAD_WAREHOUSE: process.env.OFFLOAD_WAREHOUSE ?? 'file:///tmp' });
  const csv = join(dir, 'naive.csv');
  const parquet = join(dir, 'naive.parquet');
  const t0 = performance.now();
  const auth = Buffer.from(`${conn.clickhouse.username}:${conn.clickhouse.password}`).toString('base64');
  const u = new URL(conn.clickhouse.url);
  // node:http, as a script would use curl: fetch's web streams are far slower.
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: '/', method: 'POST', headers: { Authorization: `Basic ${auth}` } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`export failed: HTTP ${res.statusCode}`));
        pipeline(res, createWriteStream(csv)).then(resolve, reject);
      },
    );
    req.on('error', reject);
    req.end(`SELECT * FROM \`${database}\`.\`${table}\` FORMAT CSV`);
  });
  const t1 = performance.now();
  // What a person scripts: DuckDB's defaults (sniffed types, all threads of this 2-core machine).
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`COPY (SELECT * FROM read_csv('${csv}')) TO '${parquet}' (FORMAT parquet, COMPRESSION zstd)`);
  const t2 = performance.now();
  const csvBytes = (await stat(csv)).size;
  const parquetBytes = (await stat(parquet)).size;
  c.closeSync();
  db.closeSync();
  await rm(csv, { force: true });
  await rm(parquet, { force: true });
  console.log(
    JSON.stringify({ exportMs: t1 - t0, duckdbMs: t2 - t1, totalMs: t2 - t0, csvBytes, parquetBytes, files: 1, peakRssMb: peakRssMb() }),
  );
}

async function offload(configFile: string, tableName: string): Promise<void> {
  const config = loadTablesConfig({ config: configFile });
  const cfg = findTable(config, tableName);
  // The connections and settings `offload run` uses (pipeline/services.ts).
  const services = openServices(process.env, 'bench');
  const t0 = performance.now();
  const result = await offloadTable(cfg, services.offloadDeps());
  const totalMs = performance.now() - t0;
  await services.close();
  if (result.status !== 'committed') throw new Error(`offload ended ${result.status}`);
  console.log(
    JSON.stringify({
      totalMs,
      rows: result.rows,
      files: result.files,
      parquetBytes: result.bytes,
      batches: result.batches.length,
      peakRssMb: peakRssMb(),
    }),
  );
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'naive') await naive(args[0], args[1], args[2]);
else if (mode === 'offload') await offload(args[0], args[1]);
else throw new Error(`unknown mode ${mode}`);
process.exit(0);
