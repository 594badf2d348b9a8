// The naive pipe, in a process of its own so that its peak RSS is its own. Prints one JSON line.
//   child.ts naive <clickhouse http url, …/?user=…&password=…> <SELECT …> <workdir>
//   CSV export to a file, then DuckDB read_csv → one Parquet file (zstd): no catalog, no watermark, no upload.
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance } from '@duckdb/node-api';

async function naive(url: string, select: string, dir: string): Promise<void> {
  const csv = join(dir, 'naive.csv');
  const parquet = join(dir, 'naive.parquet');
  const t0 = performance.now();
  const u = new URL(url);
  // node:http, as a script would use curl: fetch's web streams are far slower.
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: 'POST' }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`export failed: HTTP ${res.statusCode}`));
      pipeline(res, createWriteStream(csv)).then(resolve, reject);
    });
    req.on('error', reject);
    req.end(`${select} FORMAT CSV`);
  });
  const t1 = performance.now();
  // What a person scripts: DuckDB's defaults (sniffed types, all threads of this 2-core machine).
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`COPY (SELECT * FROM read_csv('${csv}')) TO '${parquet}' (FORMAT parquet, COMPRESSION zstd)`);
  const t2 = performance.now();
  const [meta] = (await c.runAndReadAll(`SELECT num_rows FROM parquet_file_metadata('${parquet}')`)).getRowObjectsJS();
  const csvBytes = (await stat(csv)).size;
  const parquetBytes = (await stat(parquet)).size;
  c.closeSync();
  db.closeSync();
  await rm(csv, { force: true });
  await rm(parquet, { force: true });
  console.log(
    JSON.stringify({ exportMs: t1 - t0, duckdbMs: t2 - t1, totalMs: t2 - t0, csvBytes, parquetBytes, rows: Number(meta.num_rows) }),
  );
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'naive') await naive(args[0], args[1], args[2]);
else throw new Error(`unknown mode ${mode}`);
process.exit(0);
