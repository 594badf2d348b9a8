// FileIO: one interface over the table's storage, `s3://bucket/key` (also `s3a://`) and `file:///path`.
// The exactly-once protocol leans on two properties here: whole-object writes (a reader never sees half a
// file) and `createExclusive` (a metadata file is created once and never overwritten).
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { OffloadError, ServiceRefused, ServiceUnavailable } from '../core/errors.js';
import { s3FromEnv, type S3Connection } from '../config/env.js';
import { redactUrl, scrubSecrets } from '../config/redact.js';

export interface FileInfo {
  uri: string;
  size: number;
  lastModified: Date;
}

/** What `write` accepts: bytes, a stream (consumed once), or a local file streamed from disk. */
export type WriteSource = Uint8Array | Readable | { file: string };

export interface FileIO {
  read(uri: string): Promise<Uint8Array>;
  readText(uri: string): Promise<string>;
  /** Replaces the whole object; readers see the old or the new content, never a part. */
  write(uri: string, source: WriteSource): Promise<void>;
  /** Creates the object only if nothing exists at `uri`; otherwise throws `AlreadyExists`. */
  createExclusive(uri: string, content: Uint8Array | string): Promise<void>;
  exists(uri: string): Promise<boolean>;
  size(uri: string): Promise<number>;
  /** Deleting a missing object is not an error. */
  delete(uri: string): Promise<void>;
  deleteMany(uris: Iterable<string>): Promise<void>;
  /** Every object whose URI starts with `prefix`, in key order (all pages). */
  list(prefix: string): Promise<FileInfo[]>;
  /** The same as `list`, one page at a time. */
  iterate(prefix: string): AsyncIterable<FileInfo>;
  /**
   * A cheap check that the storage holding `location` answers and lets us in (S3: a listing of at most one
   * key under it, within a few seconds); throws the classified failure otherwise. What `status` shows.
   */
  probe(location: string): Promise<void>;
  close(): void;
}

/**
 * Deletes files nothing references (what a failed or superseded attempt wrote), as a courtesy: a file that
 * cannot be deleted now stays an orphan that `offload gc` removes later, and the caller's outcome stands.
 */
export async function discardUnreferenced(io: FileIO, uris: string | Iterable<string>): Promise<void> {
  await (typeof uris === 'string' ? io.delete(uris) : io.deleteMany(uris)).catch(() => undefined);
}

/** `createExclusive` lost: another writer (or an earlier attempt of ours with different content) created it first. */
export class AlreadyExists extends OffloadError {
  constructor(readonly uri: string) {
    super(`${uri} already exists (create-only write refused)`);
  }
}

export class FileNotFound extends OffloadError {
  constructor(readonly uri: string) {
    super(`${uri} does not exist`);
  }
}

/** A storage request failed for a reason other than the ones above; the message names the operation and URI. */
export class StorageError extends OffloadError {}

// ---------------------------------------------------------------------------------------------------------
// Locations

export type Location = { scheme: 's3' | 's3a'; bucket: string; key: string } | { scheme: 'file'; path: string };

/** Splits a URI into its parts. Keys and paths are taken literally (no percent-decoding), as Iceberg does. */
export function parseLocation(uri: string): Location {
  const s3 = /^(s3a?):\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (s3) return { scheme: s3[1] as 's3' | 's3a', bucket: s3[2], key: s3[3] };
  // file:///abs/path, and the `file:/abs/path` form Java writers produce
  const file = /^file:(?:\/\/)?(\/.*)$/.exec(uri);
  if (file) return { scheme: 'file', path: file[1] };
  throw new StorageError(`"${uri}" is not a supported location (expected s3://bucket/key or file:///path)`);
}

function formatLocation(loc: Location): string {
  return loc.scheme === 'file' ? `file://${loc.path}` : `${loc.scheme}://${loc.bucket}/${loc.key}`;
}

// ---------------------------------------------------------------------------------------------------------
// Retries: exponential backoff with full jitter, bounded attempts, only for failures that may pass.

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 10_000 };

type SdkError = Error & { $metadata?: { httpStatusCode?: number; attempts?: number }; code?: string; Code?: string };

/** 5xx, throttling, timeouts and dropped connections may pass on a retry; any other 4xx (412 above all) will not. */
export function isRetryable(err: unknown): boolean {
  const e = err as SdkError | undefined;
  if (!e || e.name === 'AbortError') return false;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  if (status === 429) return true;
  // S3 answers an idle upload socket with 400 RequestTimeout: a timeout, not a bad request.
  if (status === 400 && (e.name === 'RequestTimeout' || e.Code === 'RequestTimeout')) return true;
  if (status !== undefined && status >= 400) return false;
  return isTransportFailure(e);
}

const TRANSPORT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

function isTransportFailure(e: SdkError, depth = 0): boolean {
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout' || e.name === 'RequestTimeoutException') return true;
  if (e.code && TRANSPORT_CODES.has(e.code)) return true;
  const cause = (e as { cause?: unknown }).cause;
  return depth < 5 && cause instanceof Error && isTransportFailure(cause as SdkError, depth + 1);
}

export function backoffDelayMs(retry: number, policy: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

/** The SDK's retry hook with our policy, so single requests and every part of a multipart upload follow it. */
class BackoffRetryStrategy {
  constructor(private readonly policy: RetryPolicy) {}
  async acquireInitialRetryToken(): Promise<RetryToken> {
    return token(0, 0);
  }
  async refreshRetryTokenForRetry(previous: RetryToken, info: { error?: unknown; retryAfterHint?: Date }): Promise<RetryToken> {
    const retry = previous.getRetryCount() + 1;
    if (retry >= this.policy.maxAttempts || !isRetryable(info.error)) throw info.error;
    let delay = backoffDelayMs(retry, this.policy);
    if (info.retryAfterHint) delay = Math.max(delay, Math.min(this.policy.maxDelayMs, info.retryAfterHint.getTime() - Date.now()));
    return token(retry, delay);
  }
  recordSuccess(): void {}
}

function token(count: number, delay: number): RetryToken {
  return { getRetryCount: () => count, getRetryDelay: () => delay };
}

// ---------------------------------------------------------------------------------------------------------
// S3

export interface S3FileIOOptions {
  retry?: Partial<RetryPolicy>;
  /** Multipart part size (≥ 5 MiB); bytes buffered per upload ≈ partSize × queueSize. */
  partSizeBytes?: number;
  queueSize?: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Page size for listings (S3's maximum, 1000, unless a test wants small pages). */
  listPageSize?: number;
}

const MiB = 1024 * 1024;

/** How long a probe waits for S3 before calling it unreachable. */
const PROBE_TIMEOUT_MS = 5_000;

/** The S3 endpoint as a person should see it: the URL (credentials redacted), or AWS S3 and the region. */
export function describeS3Endpoint(conn: S3Connection): string {
  return conn.endpoint ? redactUrl(conn.endpoint).replace(/\/$/, '') : `AWS S3 (${conn.region})`;
}

/**
 * The AWS SDK, loaded when storage is first used: importing it took a third of the CLI's start-up
 * (`offload --help`, and `run`/`status` before their first network call).
 */
type Sdk = typeof import('@aws-sdk/client-s3');
let sdkLoading: Promise<Sdk> | undefined;
const sdk = (): Promise<Sdk> => (sdkLoading ??= import('@aws-sdk/client-s3'));

export class S3FileIO implements FileIO {
  private clientMade?: Promise<S3Client>;
  private readonly clientConfig: S3ClientConfig;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly listPageSize: number;
  private readonly endpointForHumans: string;
  /** The variable that says where S3 is, named in the hint when it cannot be reached. */
  private readonly endpointVariable: string;
  private readonly secrets: string[];

  constructor(conn: S3Connection, options: S3FileIOOptions = {}) {
    const policy = { ...defaultRetryPolicy, ...options.retry };
    this.partSize = Math.max(5 * MiB, options.partSizeBytes ?? 8 * MiB);
    this.queueSize = options.queueSize ?? 4;
    this.listPageSize = options.listPageSize ?? 1000;
    this.endpointForHumans = describeS3Endpoint(conn);
    this.endpointVariable = conn.endpoint ? 'AWS_ENDPOINT_URL_S3' : 'AWS_REGION';
    this.secrets = [conn.secretAccessKey].filter((s): s is string => !!s);
    this.clientConfig = {
      endpoint: conn.endpoint,
      region: conn.region,
      forcePathStyle: conn.forcePathStyle,
      credentials:
        conn.accessKeyId && conn.secretAccessKey ? { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey } : undefined,
      maxAttempts: policy.maxAttempts,
      retryStrategy: new BackoffRetryStrategy(policy),
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? 5_000,
        requestTimeout: options.requestTimeoutMs ?? 120_000,
      },
    };
  }

  /** The SDK's client, made on first use. */
  client(): Promise<S3Client> {
    this.clientMade ??= sdk().then((s) => new s.S3Client(this.clientConfig));
    return this.clientMade;
  }

  async read(uri: string): Promise<Uint8Array> {
    const { bucket, key } = this.s3(uri);
    const { GetObjectCommand } = await sdk();
    const client = await this.client();
    const out = await this.call('read', uri, () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    if (!out.Body) return new Uint8Array();
    try {
      return await out.Body.transformToByteArray();
    } catch (err) {
      throw this.failure('read', uri, err);
    }
  }

  async readText(uri: string): Promise<string> {
    return new TextDecoder().decode(await this.read(uri));
  }

  async write(uri: string, source: WriteSource): Promise<void> {
    const { bucket, key } = this.s3(uri);
    if (source instanceof Uint8Array && source.byteLength <= this.partSize) {
      const [{ PutObjectCommand }, client] = await Promise.all([sdk(), this.client()]);
      await this.call('write', uri, () => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: source })));
      return;
    }
    // Streams and large inputs go through lib-storage: a single put when small, else a multipart upload
    // whose parts are buffered (so each part can be retried) and which is aborted if any part fails.
    const body = source instanceof Uint8Array || source instanceof Readable ? source : createReadStream(source.file);
    const [{ Upload }, client] = await Promise.all([import('@aws-sdk/lib-storage'), this.client()]);
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: body },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    await this.call('write', uri, () => upload.done());
  }

  async createExclusive(uri: string, content: Uint8Array | string): Promise<void> {
    const { bucket, key } = this.s3(uri);
    const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
    try {
      const [{ PutObjectCommand }, client] = await Promise.all([sdk(), this.client()]);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, IfNoneMatch: '*' }));
    } catch (err) {
      const e = err as SdkError;
      if (e.$metadata?.httpStatusCode === 412 || e.name === 'PreconditionFailed') {
        // A retried put can find the object its own lost first attempt created: that is a success.
        if ((e.$metadata?.attempts ?? 1) > 1 && (await this.hasContent(uri, bytes))) return;
        throw new AlreadyExists(uri);
      }
      // 409 ConditionalRequestConflict: a concurrent conditional write to the same key is in flight.
      if (e.$metadata?.httpStatusCode === 409) throw new AlreadyExists(uri);
      throw this.failure('createExclusive', uri, err);
    }
  }

  private async hasContent(uri: string, bytes: Uint8Array): Promise<boolean> {
    try {
      return Buffer.from(await this.read(uri)).equals(bytes);
    } catch {
      return false;
    }
  }

  async exists(uri: string): Promise<boolean> {
    try {
      await this.size(uri);
      return true;
    } catch (err) {
      if (err instanceof FileNotFound) return false;
      throw err;
    }
  }

  async size(uri: string): Promise<number> {
    const { bucket, key } = this.s3(uri);
    const [{ HeadObjectCommand }, client] = await Promise.all([sdk(), this.client()]);
    const out = await this.call('size', uri, () => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
    return out.ContentLength ?? 0;
  }

  async delete(uri: string): Promise<void> {
    const { bucket, key } = this.s3(uri);
    const [{ DeleteObjectCommand }, client] = await Promise.all([sdk(), this.client()]);
    await this.call('delete', uri, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
  }

  async deleteMany(uris: Iterable<string>): Promise<void> {
    const byBucket = new Map<string, string[]>();
    for (const uri of uris) {
      const { bucket, key } = this.s3(uri);
      const keys = byBucket.get(bucket) ?? [];
      keys.push(key);
      byBucket.set(bucket, keys);
    }
    const [{ DeleteObjectsCommand }, client] = await Promise.all([sdk(), this.client()]);
    for (const [bucket, keys] of byBucket) {
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        const where = `s3://${bucket}/ (${batch.length} keys from ${batch[0]})`;
        const out = await this.call('deleteMany', where, () =>
          client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
        );
        const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0];
          throw new StorageError(
            `deleteMany: ${failed.length} of ${batch.length} objects in s3://${bucket}/ were not deleted ` +
              `(first: ${first.Key}: ${first.Code} ${first.Message ?? ''})`.trim(),
          );
        }
      }
    }
  }

  async list(prefix: string): Promise<FileInfo[]> {
    const out: FileInfo[] = [];
    for await (const f of this.iterate(prefix)) out.push(f);
    return out;
  }

  async *iterate(prefix: string): AsyncIterable<FileInfo> {
    const loc = this.s3(prefix);
    const [{ ListObjectsV2Command }, client] = await Promise.all([sdk(), this.client()]);
    let continuationToken: string | undefined;
    do {
      const page = await this.call('list', prefix, () =>
        client.send(
          new ListObjectsV2Command({
            Bucket: loc.bucket,
            Prefix: loc.key,
            ContinuationToken: continuationToken,
            MaxKeys: this.listPageSize,
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        yield {
          uri: formatLocation({ ...loc, key: o.Key }),
          size: o.Size ?? 0,
          lastModified: o.LastModified ?? new Date(0),
        };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async probe(location: string): Promise<void> {
    const loc = this.s3(location);
    const prefix = loc.key && !loc.key.endsWith('/') ? `${loc.key}/` : loc.key;
    const [{ ListObjectsV2Command }, client] = await Promise.all([sdk(), this.client()]);
    await this.call('probe', location, () =>
      client.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: prefix, MaxKeys: 1 }), {
        abortSignal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      }),
    );
  }

  close(): void {
    void this.clientMade?.then((c) => c.destroy());
  }

  private s3(uri: string): { scheme: 's3' | 's3a'; bucket: string; key: string } {
    const loc = parseLocation(uri);
    if (loc.scheme === 'file') throw new StorageError(`${uri}: S3FileIO handles s3:// locations only`);
    return loc;
  }

  private async call<T>(op: string, uri: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(op, uri, err);
    }
  }

  private failure(op: string, uri: string, err: unknown): Error {
    if (err instanceof OffloadError) return err;
    const e = err as SdkError;
    const status = e.$metadata?.httpStatusCode;
    const where = this.endpointForHumans;
    if (e.name === 'CredentialsProviderError') {
      return new ServiceRefused(
        'S3',
        where,
        'no AWS credentials found (not in the environment, ~/.aws or an instance profile)',
        'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)',
        { cause: err },
      );
    }
    if (e.name === 'NoSuchBucket') {
      const bucket = /^s3a?:\/\/([^/]+)/.exec(uri)?.[1] ?? uri;
      return new ServiceRefused(
        'S3',
        where,
        `bucket "${bucket}" does not exist (${op} ${uri})`,
        'check OFFLOAD_WAREHOUSE, or create the bucket',
        {
          cause: err,
        },
      );
    }
    if (status === 403 || CREDENTIAL_REFUSALS.has(e.name)) {
      return new ServiceRefused(
        'S3',
        where,
        scrubSecrets(
          // "access refused" first: the TUI header shows only the reason's first words.
          `access refused (${[status ? `HTTP ${status}` : undefined, e.name, e.message].filter(Boolean).join(' ')}) to ${op} ${uri}`,
          this.secrets,
        ),
        "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the key's permissions on the bucket",
        { cause: err },
      );
    }
    if (status === 404 || e.name === 'NoSuchKey' || e.name === 'NotFound') return new FileNotFound(uri);
    const hint = `is the server running, and is ${this.endpointVariable} right?`;
    if (e.name === 'AbortError' && op === 'probe') {
      return new ServiceUnavailable('S3', where, `no answer within ${PROBE_TIMEOUT_MS / 1000} s`, hint, { cause: err });
    }
    if (status === undefined && isTransportFailure(e)) {
      return new ServiceUnavailable('S3', where, transportDetail(e), hint, { cause: err });
    }
    const attempts = e.$metadata?.attempts;
    const what = [status ? `HTTP ${status}` : undefined, e.name, e.message].filter(Boolean).join(' ');
    const tries = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
    return new StorageError(scrubSecrets(`${op} ${uri} failed${tries}: ${what}`, this.secrets), { cause: err });
  }
}

// S3's answers to credentials it does not accept (403 carries most of them; these names are also sent alone).
const CREDENTIAL_REFUSALS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'InvalidClientTokenId',
]);

function transportDetail(e: SdkError, depth = 0): string {
  const code = e.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection reset';
  if (code === 'ETIMEDOUT' || e.name === 'TimeoutError') return 'timed out';
  const cause = (e as { cause?: unknown }).cause;
  if (depth < 5 && cause instanceof Error) return transportDetail(cause as SdkError, depth + 1);
  return code ?? e.name;
}

// ---------------------------------------------------------------------------------------------------------
// Local files

export class LocalFileIO implements FileIO {
  async read(uri: string): Promise<Uint8Array> {
    const path = this.path(uri);
    try {
      return new Uint8Array(await readFile(path));
    } catch (err) {
      throw localFailure('read', uri, err);
    }
  }

  async readText(uri: string): Promise<string> {
    return new TextDecoder().decode(await this.read(uri));
  }

  async write(uri: string, source: WriteSource): Promise<void> {
    const path = this.path(uri);
    const tmp = await this.tempNextTo(path);
    try {
      if (source instanceof Uint8Array) await writeSynced(tmp, source);
      else {
        if (source instanceof Readable) await pipeline(source, createWriteStream(tmp, { flags: 'wx' }));
        else await copyFile(source.file, tmp);
        await syncFile(tmp);
      }
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw localFailure('write', uri, err);
    }
  }

  async createExclusive(uri: string, content: Uint8Array | string): Promise<void> {
    const path = this.path(uri);
    const tmp = await this.tempNextTo(path);
    try {
      await writeSynced(tmp, typeof content === 'string' ? new TextEncoder().encode(content) : content);
      // link(2) fails with EEXIST when the name is taken: the complete file appears at once, or not at all.
      await link(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExists(uri);
      throw localFailure('createExclusive', uri, err);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async exists(uri: string): Promise<boolean> {
    try {
      return (await stat(this.path(uri))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw localFailure('exists', uri, err);
    }
  }

  async size(uri: string): Promise<number> {
    try {
      return (await stat(this.path(uri))).size;
    } catch (err) {
      throw localFailure('size', uri, err);
    }
  }

  async delete(uri: string): Promise<void> {
    try {
      await unlink(this.path(uri));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw localFailure('delete', uri, err);
    }
  }

  async deleteMany(uris: Iterable<string>): Promise<void> {
    for (const uri of uris) await this.delete(uri);
  }

  async list(prefix: string): Promise<FileInfo[]> {
    const out: FileInfo[] = [];
    for await (const f of this.iterate(prefix)) out.push(f);
    return out;
  }

  async *iterate(prefix: string): AsyncIterable<FileInfo> {
    const p = this.path(prefix);
    const root = p.endsWith('/') ? p : dirname(p);
    const files: string[] = [];
    await walk(root, files);
    files.sort();
    for (const f of files) {
      if (!f.startsWith(p)) continue;
      try {
        const s = await stat(f);
        yield { uri: `file://${f}`, size: s.size, lastModified: s.mtime };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw localFailure('list', prefix, err);
      }
    }
  }

  /** Local files are always there; a directory that does not exist yet is created on the first write. */
  async probe(location: string): Promise<void> {
    this.path(location);
  }

  close(): void {}

  private path(uri: string): string {
    const loc = parseLocation(uri);
    if (loc.scheme !== 'file') throw new StorageError(`${uri}: LocalFileIO handles file:// locations only`);
    return loc.path;
  }

  private async tempNextTo(path: string): Promise<string> {
    await mkdir(dirname(path), { recursive: true });
    return join(dirname(path), `.${basenameOf(path)}.${randomBytes(6).toString('hex')}.tmp`);
  }
}

function basenameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function walk(dir: string, out: string[]): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw err;
  }
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(full, out);
    else if (e.isFile()) out.push(full);
  }
}

function localFailure(op: string, uri: string, err: unknown): Error {
  if (err instanceof OffloadError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT' && op !== 'write') return new FileNotFound(uri);
  return new StorageError(`${op} ${uri} failed: ${e.code ?? e.name} ${e.message}`, { cause: err });
}

// ---------------------------------------------------------------------------------------------------------
// Dispatch by scheme

export interface FileIOOptions extends S3FileIOOptions {
  /** S3 connection; by default from the environment the first time an s3:// URI is used. */
  s3?: S3Connection;
}

/** A FileIO for every supported scheme; the S3 client is created on first use. */
export function createFileIO(options: FileIOOptions = {}): FileIO {
  const local = new LocalFileIO();
  let s3: S3FileIO | undefined;
  const pick = (uri: string): FileIO => {
    if (parseLocation(uri).scheme === 'file') return local;
    s3 ??= new S3FileIO(options.s3 ?? s3FromEnv(), options);
    return s3;
  };
  return {
    read: (uri) => pick(uri).read(uri),
    readText: (uri) => pick(uri).readText(uri),
    write: (uri, source) => pick(uri).write(uri, source),
    createExclusive: (uri, content) => pick(uri).createExclusive(uri, content),
    exists: (uri) => pick(uri).exists(uri),
    size: (uri) => pick(uri).size(uri),
    delete: (uri) => pick(uri).delete(uri),
    deleteMany: async (uris) => {
      const groups = new Map<FileIO, string[]>();
      for (const uri of uris) {
        const io = pick(uri);
        const group = groups.get(io);
        if (group) group.push(uri);
        else groups.set(io, [uri]);
      }
      for (const [io, list] of groups) await io.deleteMany(list);
    },
    list: (prefix) => pick(prefix).list(prefix),
    iterate: (prefix) => pick(prefix).iterate(prefix),
    probe: (location) => pick(location).probe(location),
    close: () => s3?.close(),
  };
}
