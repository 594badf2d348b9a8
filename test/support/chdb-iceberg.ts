// Tables written by another engine: the current ClickHouse engine (chdb, in the project's Python venv)
// creates an IcebergS3 table on the stack's S3 server, inserts, and deletes rows merge-on-read (position
// delete files). It cannot commit to a JDBC catalog, so its newest metadata file is registered in ours
// (iceberg_tables) afterwards, and our reader, gc, compaction and pyiceberg then see the same table.
import { execa } from 'execa';
import type { CatalogConnection, JdbcCatalog } from '../../src/iceberg/catalog.js';
import type { FileIO } from '../../src/iceberg/io.js';
import type { TableIdentifier } from '../../src/iceberg/types.js';
import { ROOT, stackEnv, verificationPython } from './stack.js';

const SCRIPT = `${ROOT}test/support/chdb_iceberg.py`;
const python = verificationPython();

/** Why chdb cannot write here, or false. */
export const chdbIcebergSkip: string | false = !python
  ? 'no verification venv (.venv): run dev/python-env.sh'
  : (await execa(python, ['-c', 'import chdb'], { reject: false })).exitCode !== 0
    ? 'the venv lacks chdb: run dev/python-env.sh'
    : false;

/** Runs the statements in one chdb session (Iceberg writes enabled); returns their TabSeparated results. */
export async function chdbRun(statements: string[]): Promise<string[]> {
  const r = await execa(python!, [SCRIPT], { input: JSON.stringify(statements), reject: false, timeout: 300_000, env: { TZ: 'UTC' } });
  if (r.exitCode !== 0) throw new Error(`chdb_iceberg.py failed (exit ${r.exitCode}): ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

/** The engine clause of an IcebergS3 table at `location` (an s3:// URL on the stack's S3 server). */
export function icebergS3Engine(location: string): string {
  const env = stackEnv();
  const m = /^s3:\/\/(.+?)\/*$/.exec(location);
  if (!m) throw new Error(`${location} is not an s3:// location`);
  const url = `${env.AWS_ENDPOINT_URL_S3.replace(/\/+$/, '')}/${m[1]}/`;
  return `IcebergS3('${url}', '${env.AWS_ACCESS_KEY_ID}', '${env.AWS_SECRET_ACCESS_KEY}')`;
}

/** The engine's newest metadata file of the table at `location` (it names them v<N>.metadata.json). */
export async function newestMetadataFile(io: FileIO, location: string): Promise<string> {
  const files = (await io.list(`${location.replace(/\/+$/, '')}/metadata/`)).map((f) => f.uri);
  const versions = files.map((f) => [Number(/\/v(\d+)\.metadata\.json$/.exec(f)?.[1] ?? -1), f] as const).filter(([v]) => v >= 0);
  if (versions.length === 0) throw new Error(`no v<N>.metadata.json under ${location}/metadata/`);
  return versions.sort((a, b) => b[0] - a[0])[0][1];
}

/** Registers (or moves) `ident` in our catalog to the engine's newest metadata file; returns its location. */
export async function registerForeignTable(
  db: CatalogConnection,
  catalog: JdbcCatalog,
  io: FileIO,
  ident: TableIdentifier,
  location: string,
): Promise<string> {
  const newest = await newestMetadataFile(io, location);
  const row = await catalog.loadTable(ident);
  if (!row) {
    await catalog.ensureNamespace(ident.namespace);
    await catalog.createTable(ident, newest);
  } else if (row.metadataLocation !== newest) {
    await catalog.compareAndSetMetadataLocation(db, ident, { expected: row.metadataLocation, next: newest });
  }
  return newest;
}
