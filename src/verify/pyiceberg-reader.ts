// pyiceberg, kept running: the independent reader behind the pyiceberg-loads check (pyiceberg_reader.py).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { catalogFromEnv } from '../config/catalog.js';

// The reader is a Python file of the package, not compiled: it stays in src/verify/, and this module (as
// src/verify/*.ts run from source, or as dist/verify/*.js built by tsc) sits two levels below the root.
const READER_PROGRAM = fileURLToPath(new URL('../../src/verify/pyiceberg_reader.py', import.meta.url));

export interface PyIcebergResult {
  snapshotId: string | null;
  rows: number;
  files: number;
}

/** The catalog pyiceberg loads through: the same one the offload commits to (JDBC: SqlCatalog; REST: RestCatalog). */
function catalogVariables(env: Record<string, string | undefined>, warehouse: string, catalogName: string): Record<string, string> {
  const settings = catalogFromEnv(env);
  if (settings.kind === 'jdbc') {
    const dbUrl = env.DATABASE_URL ?? '';
    return { CATALOG: catalogName, CATALOG_URI: dbUrl.replace(/^postgres(ql)?:\/\//, 'postgresql+psycopg2://'), WAREHOUSE: warehouse };
  }
  const auth = settings.auth;
  return {
    CATALOG: catalogName,
    CATALOG_URI: settings.uri,
    WAREHOUSE: settings.warehouse ?? '',
    ...(auth.kind === 'bearer' ? { CATALOG_TOKEN: auth.token } : {}),
    ...(auth.kind === 'oauth2'
      ? {
          CATALOG_CREDENTIAL: auth.clientId === null ? auth.clientSecret : `${auth.clientId}:${auth.clientSecret}`,
          CATALOG_SCOPE: auth.scope,
          ...(auth.tokenUri ? { CATALOG_OAUTH2_URI: auth.tokenUri } : {}),
        }
      : {}),
  };
}

/** pyiceberg, kept running, loading tables through the same catalog as the offload and counting their rows. */
export class PyIcebergReader {
  private readonly child: ReturnType<typeof execa>;
  private readonly waiting = new Map<number, { resolve: (v: PyIcebergResult) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private readonly ready: Promise<void>;
  private stderr = '';
  private exited = false;

  constructor(python: string, env: Record<string, string | undefined>, warehouse: string, catalogName: string) {
    this.child = execa(python, ['-u', READER_PROGRAM], {
      env: {
        ...catalogVariables(env, warehouse, catalogName),
        S3_ENDPOINT: env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? '',
        AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID ?? '',
        AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY ?? '',
        AWS_REGION: env.AWS_REGION ?? 'us-east-1',
        PATH: env.PATH ?? '',
      },
      extendEnv: false,
      stdin: 'pipe',
      reject: false,
      buffer: false,
    });
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.ready.catch(() => undefined); // observed by every read; never an unhandled rejection meanwhile
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        let msg: { ready?: boolean; id?: number; ok?: boolean; snapshot?: string | null; rows?: number; files?: number; error?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.ready) {
          readyResolve();
          continue;
        }
        const w = msg.id === undefined ? undefined : this.waiting.get(msg.id);
        if (!w) continue;
        this.waiting.delete(msg.id!);
        if (msg.ok) w.resolve({ snapshotId: msg.snapshot ?? null, rows: Number(msg.rows), files: Number(msg.files) });
        else w.reject(new Error(`pyiceberg: ${msg.error ?? 'failed'}`));
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    void Promise.resolve(this.child).then(() => {
      this.exited = true;
      const err = new Error(`pyiceberg exited: ${this.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
      readyReject(err);
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
  }

  /** Loads `target` (namespace.table) and counts its rows at its current snapshot. */
  async read(target: string, timeoutMs = 120_000): Promise<PyIcebergResult> {
    await this.ready;
    if (this.exited) throw new Error('pyiceberg is not running');
    const id = this.nextId++;
    return new Promise<PyIcebergResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`pyiceberg did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ id, table: target })}\n`);
    });
  }

  async close(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await Promise.resolve(this.child).catch(() => undefined); // only its end matters here, not how it ended
    clearTimeout(timer);
  }
}

/** The verification venv's python (OFFLOAD_VENV, else ./.venv), or null when it is not there. */
export function verificationPython(env: Record<string, string | undefined>, root: string): string | null {
  const venv = env.OFFLOAD_VENV ?? join(root, '.venv');
  const py = join(venv, 'bin', 'python');
  return existsSync(py) ? py : null;
}
