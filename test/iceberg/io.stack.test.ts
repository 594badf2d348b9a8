// FileIO against the real S3 server of the local stack (a fresh bucket) and against a temp directory:
// the same semantics on both, plus S3's own concerns (paging, multipart, retries, an unreachable endpoint).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { s3FromEnv } from '../../src/config/env.js';
import { ExitCode, ServiceRefused, ServiceUnavailable } from '../../src/core/errors.js';
import {
  AlreadyExists,
  FileNotFound,
  LocalFileIO,
  S3FileIO,
  StorageError,
  createFileIO,
  parseLocation,
  type FileIO,
} from '../../src/iceberg/io.js';
import { freshBucket, stackEnv } from '../support/stack.js';

const MiB = 1024 * 1024;
const text = (s: string) => new TextEncoder().encode(s);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** The behaviour every FileIO must have, whatever the storage. */
function fileIOContract(name: string, setup: () => Promise<{ io: FileIO; base: string; done: () => Promise<void> }>) {
  describe(`FileIO contract: ${name}`, () => {
    let io: FileIO;
    let base: string;
    let done: () => Promise<void>;
    before(async () => ({ io, base, done } = await setup()));
    after(async () => done());

    it('reads back exactly the bytes it wrote, and overwrites on write', async () => {
      const uri = `${base}/rw/a.bin`;
      const bytes = randomBytes(4096);
      await io.write(uri, bytes);
      assert.equal(sha(await io.read(uri)), sha(bytes));
      await io.write(uri, text('second\n\t"é🙂"\0'));
      assert.equal(await io.readText(uri), 'second\n\t"é🙂"\0');
      assert.equal(await io.size(uri), Buffer.byteLength('second\n\t"é🙂"\0'));
      assert.equal(await io.exists(uri), true);
    });

    it('writes from a stream and from a local file', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'io-src-'));
      const local = join(dir, 'src.bin');
      const bytes = randomBytes(300_000);
      await writeFile(local, bytes);
      await io.write(`${base}/src/from-file.bin`, { file: local });
      await io.write(`${base}/src/from-stream.bin`, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
      assert.equal(sha(await io.read(`${base}/src/from-file.bin`)), sha(bytes));
      assert.equal(sha(await io.read(`${base}/src/from-stream.bin`)), sha(bytes));
      await rm(dir, { recursive: true });
    });

    it('writes an empty object', async () => {
      await io.write(`${base}/empty`, new Uint8Array());
      assert.equal(await io.size(`${base}/empty`), 0);
      assert.equal((await io.read(`${base}/empty`)).byteLength, 0);
    });

    it('createExclusive creates once; the second create throws AlreadyExists and keeps the first content', async () => {
      const uri = `${base}/metadata/00001-x.metadata.json`;
      await io.createExclusive(uri, '{"first":true}');
      await assert.rejects(io.createExclusive(uri, '{"second":true}'), (e: unknown) => e instanceof AlreadyExists && e.uri === uri);
      assert.equal(await io.readText(uri), '{"first":true}');
    });

    it('createExclusive refuses a name that write() created too', async () => {
      const uri = `${base}/metadata/00002-y.metadata.json`;
      await io.write(uri, text('written'));
      await assert.rejects(io.createExclusive(uri, 'mine'), AlreadyExists);
      assert.equal(await io.readText(uri), 'written');
    });

    it('of 8 concurrent createExclusive calls on one name exactly one wins', async () => {
      const uri = `${base}/metadata/00003-race.metadata.json`;
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => io.createExclusive(uri, `{"writer":${i}}`)));
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 7);
      for (const r of lost) assert.ok((r as PromiseRejectedResult).reason instanceof AlreadyExists);
      const winner = results.findIndex((r) => r.status === 'fulfilled');
      assert.equal(await io.readText(uri), `{"writer":${winner}}`);
    });

    it('reports a missing object as FileNotFound / false, and deleting it is not an error', async () => {
      const uri = `${base}/nope/missing.bin`;
      await assert.rejects(io.read(uri), (e: unknown) => e instanceof FileNotFound && e.message.includes(uri));
      await assert.rejects(io.size(uri), FileNotFound);
      assert.equal(await io.exists(uri), false);
      await io.delete(uri);
    });

    it('lists 1050 objects under a prefix (more than one S3 page), in key order, then deletes them all', async () => {
      const keys = Array.from({ length: 1050 }, (_, i) => `${base}/many/part-${String(i).padStart(5, '0')}.bin`);
      await inParallel(keys, 32, (k) => io.write(k, text(k)));
      await io.write(`${base}/many-not-this/x.bin`, text('x'));
      const listed = await io.list(`${base}/many/`);
      assert.equal(listed.length, 1050);
      assert.deepEqual(
        listed.map((f) => f.uri),
        keys,
      );
      assert.equal(listed[7].size, Buffer.byteLength(keys[7]));
      assert.ok(listed[7].lastModified.getTime() > Date.now() - 3_600_000);
      // a prefix that is not a whole directory name
      assert.equal((await io.list(`${base}/many/part-0104`)).length, 10);
      assert.equal((await io.list(`${base}/many`)).length, 1051);
      await io.deleteMany(keys);
      assert.equal((await io.list(`${base}/many/`)).length, 0);
      assert.equal((await io.list(`${base}/many-not-this/`)).length, 1);
    });

    it('lists nothing under a prefix that does not exist', async () => {
      assert.deepEqual(await io.list(`${base}/does-not-exist/`), []);
    });

    it('deletes one object', async () => {
      const uri = `${base}/del/one.bin`;
      await io.write(uri, text('1'));
      await io.delete(uri);
      assert.equal(await io.exists(uri), false);
    });
  });
}

fileIOContract('s3 (local stack)', async () => {
  const { bucket } = await freshBucket('io');
  const io = new S3FileIO(s3FromEnv(stackEnv()));
  return { io, base: `s3://${bucket}/t`, done: async () => io.close() };
});

fileIOContract('file:// (temp dir)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'io-'));
  return { io: new LocalFileIO(), base: `file://${dir}/t`, done: () => rm(dir, { recursive: true }) };
});

describe('FileIO on s3', () => {
  let bucket: string;
  const conn = () => s3FromEnv(stackEnv());
  before(async () => ({ bucket } = await freshBucket('io-s3')));

  async function etagOf(io: S3FileIO, key: string): Promise<string> {
    const out = await (await io.client()).send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return out.ETag ?? '';
  }

  it('uploads a 6 MiB file in 2 parts (multipart) with 5 MiB parts and reads it back intact', async () => {
    const io = new S3FileIO(conn(), { partSizeBytes: 5 * MiB });
    const dir = await mkdtemp(join(tmpdir(), 'io-mp-'));
    const bytes = randomBytes(6 * MiB);
    await writeFile(join(dir, 'f'), bytes);
    await io.write(`s3://${bucket}/mp/6mib.bin`, { file: join(dir, 'f') });
    assert.match(await etagOf(io, 'mp/6mib.bin'), /-2"?$/);
    assert.equal(await io.size(`s3://${bucket}/mp/6mib.bin`), 6 * MiB);
    assert.equal(sha(await io.read(`s3://${bucket}/mp/6mib.bin`)), sha(bytes));
    await rm(dir, { recursive: true });
    io.close();
  });

  it('uploads 17 MiB in 3 parts with the default 8 MiB part size, from a file, a stream and bytes', async () => {
    const io = new S3FileIO(conn());
    const dir = await mkdtemp(join(tmpdir(), 'io-mp-'));
    const bytes = randomBytes(17 * MiB);
    await writeFile(join(dir, 'f'), bytes);
    await io.write(`s3://${bucket}/mp/17-file.bin`, { file: join(dir, 'f') });
    await io.write(`s3://${bucket}/mp/17-stream.bin`, Readable.from(chunks(bytes, 64 * 1024)));
    await io.write(`s3://${bucket}/mp/17-bytes.bin`, bytes);
    for (const k of ['mp/17-file.bin', 'mp/17-stream.bin', 'mp/17-bytes.bin']) {
      assert.match(await etagOf(io, k), /-3"?$/, k);
      assert.equal(sha(await io.read(`s3://${bucket}/${k}`)), sha(bytes), k);
    }
    await rm(dir, { recursive: true });
    io.close();
  });

  it('accepts s3a:// and returns listings in the scheme it was asked with', async () => {
    const io = new S3FileIO(conn());
    await io.write(`s3a://${bucket}/s3a/x.bin`, text('x'));
    assert.equal(await io.readText(`s3://${bucket}/s3a/x.bin`), 'x');
    assert.deepEqual(
      (await io.list(`s3a://${bucket}/s3a/`)).map((f) => f.uri),
      [`s3a://${bucket}/s3a/x.bin`],
    );
    io.close();
  });

  it('pages listings with a small page size too (250 keys, pages of 100)', async () => {
    const io = new S3FileIO(conn(), { listPageSize: 100 });
    const keys = Array.from({ length: 250 }, (_, i) => `s3://${bucket}/pages/${String(i).padStart(4, '0')}`);
    await inParallel(keys, 16, (k) => io.write(k, text('p')));
    assert.deepEqual(
      (await io.list(`s3://${bucket}/pages/`)).map((f) => f.uri),
      keys,
    );
    io.close();
  });

  it('createFileIO dispatches s3:// and file:// to the right storage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'io-any-'));
    const io = createFileIO({ s3: conn() });
    await io.write(`s3://${bucket}/any/a`, text('s3'));
    await io.write(`file://${dir}/any/a`, text('local'));
    assert.equal(await io.readText(`s3://${bucket}/any/a`), 's3');
    assert.equal(await io.readText(`file://${dir}/any/a`), 'local');
    await io.deleteMany([`s3://${bucket}/any/a`, `file://${dir}/any/a`]);
    assert.equal(await io.exists(`s3://${bucket}/any/a`), false);
    assert.equal(await io.exists(`file://${dir}/any/a`), false);
    io.close();
    await rm(dir, { recursive: true });
  });

  it('says so when the bucket does not exist: a setting to fix (exit 3)', async () => {
    const io = new S3FileIO(conn());
    await assert.rejects(io.write('s3://no-such-bucket-here/x', text('x')), (e: unknown) => {
      assert.ok(e instanceof ServiceRefused, String(e));
      assert.equal(e.exitCode, ExitCode.config);
      assert.match(
        e.message,
        /^S3 at http:\/\/127\.0\.0\.1:\d+: bucket "no-such-bucket-here" does not exist \(write s3:\/\/no-such-bucket-here\/x\); check OFFLOAD_WAREHOUSE, or create the bucket$/,
      );
      return true;
    });
    io.close();
  });

  it('probe: one cheap listing under the warehouse; a missing bucket is refused, a closed port unreachable within seconds', async () => {
    const io = new S3FileIO(conn());
    await io.probe(`s3://${bucket}/iceberg`);
    await assert.rejects(io.probe('s3://no-such-bucket-here/iceberg'), ServiceRefused);
    io.close();
    const down = new S3FileIO({ ...conn(), endpoint: 'http://127.0.0.1:1' });
    const t0 = Date.now();
    await assert.rejects(down.probe(`s3://${bucket}/iceberg`), (e: unknown) => {
      assert.ok(e instanceof ServiceUnavailable, String(e));
      assert.equal(e.exitCode, ExitCode.unavailable);
      assert.equal(
        e.message,
        'cannot reach S3 at http://127.0.0.1:1 (connection refused); is the server running, and is AWS_ENDPOINT_URL_S3 right?',
      );
      return true;
    });
    assert.ok(Date.now() - t0 < 15_000, 'a probe gives up within its time limit');
    down.close();
  });

  it('an unreachable endpoint gives ServiceUnavailable naming the redacted endpoint and no secret', async () => {
    const secret = 'very-secret-key-123';
    const io = new S3FileIO(
      {
        endpoint: 'http://someone:pw-in-url@127.0.0.1:1',
        region: 'us-east-1',
        accessKeyId: 'AKID',
        secretAccessKey: secret,
        forcePathStyle: true,
      },
      { retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } },
    );
    const t0 = Date.now();
    const err = await io.read(`s3://${bucket}/x`).then(
      () => assert.fail('read must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ServiceUnavailable, String(err));
    assert.match(err.message, /cannot reach S3 at http:\/\/someone:\*\*\*@127\.0\.0\.1:1 \(connection refused\)/);
    assert.ok(!err.message.includes(secret) && !err.message.includes('pw-in-url'));
    assert.ok(Date.now() - t0 < 5_000);
    io.close();
  });

  describe('retries, through a fault-injecting proxy in front of the S3 server', () => {
    let proxy: FaultyProxy;
    before(async () => (proxy = await startFaultyProxy(new URL(stackEnv().AWS_ENDPOINT_URL_S3))));
    after(async () => proxy.close());
    const viaProxy = (maxAttempts = 4) =>
      new S3FileIO({ ...conn(), endpoint: proxy.url }, { retry: { maxAttempts, baseDelayMs: 5, maxDelayMs: 50 } });

    it('retries 503 answers and succeeds on the third attempt', async () => {
      const io = viaProxy();
      proxy.plan(['503', '503']);
      await io.write(`s3://${bucket}/retry/a`, text('after two 503s'));
      assert.equal(proxy.requests, 3);
      assert.equal(await io.readText(`s3://${bucket}/retry/a`), 'after two 503s');
      io.close();
    });

    it('retries a connection reset on read', async () => {
      const io = viaProxy();
      await io.write(`s3://${bucket}/retry/b`, text('b'));
      proxy.plan(['reset']);
      assert.equal(await io.readText(`s3://${bucket}/retry/b`), 'b');
      assert.equal(proxy.requests, 2);
      io.close();
    });

    it('retries a throttled (503 SlowDown) multipart part and completes the upload', async () => {
      const io = new S3FileIO(
        { ...conn(), endpoint: proxy.url },
        { partSizeBytes: 5 * MiB, retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 50 } },
      );
      const bytes = randomBytes(11 * MiB);
      // request 1 creates the upload; request 2 is the first part
      proxy.plan(['forward', 'slowdown']);
      await io.write(`s3://${bucket}/retry/mp`, bytes);
      // create + 3 parts + 1 retried part + complete
      assert.equal(proxy.requests, 6);
      assert.equal(sha(await io.read(`s3://${bucket}/retry/mp`)), sha(bytes));
      io.close();
    });

    it('stops after maxAttempts and names the URI and the attempts', async () => {
      const io = viaProxy(3);
      proxy.plan(['503', '503', '503', '503', '503']);
      await assert.rejects(io.write(`s3://${bucket}/retry/never`, text('x')), (e: unknown) => {
        assert.ok(e instanceof StorageError);
        assert.match(e.message, new RegExp(`write s3://${bucket}/retry/never failed after 3 attempts: HTTP 503`));
        return true;
      });
      assert.equal(proxy.requests, 3);
      io.close();
    });

    it('never retries a 412 (createExclusive on an existing name) or a 404', async () => {
      const io = viaProxy();
      await io.createExclusive(`s3://${bucket}/retry/once.json`, '{}');
      proxy.plan([]);
      await assert.rejects(io.createExclusive(`s3://${bucket}/retry/once.json`, '{}'), AlreadyExists);
      assert.equal(proxy.requests, 1);
      proxy.plan([]);
      await assert.rejects(io.read(`s3://${bucket}/retry/missing`), FileNotFound);
      assert.equal(proxy.requests, 1);
      io.close();
    });

    it('createExclusive whose first response was lost succeeds on the retry that finds its own content', async () => {
      const io = viaProxy();
      proxy.plan(['forward-then-reset']);
      await io.createExclusive(`s3://${bucket}/retry/lost.json`, '{"mine":1}');
      assert.equal(proxy.requests, 3); // put (answer lost), put again (412), get to compare
      assert.equal(await io.readText(`s3://${bucket}/retry/lost.json`), '{"mine":1}');
      // a different writer's content at that name is still a loss, even when our answer was lost
      await io.write(`s3://${bucket}/retry/theirs.json`, text('{"theirs":1}'));
      proxy.plan(['forward-then-reset']);
      await assert.rejects(io.createExclusive(`s3://${bucket}/retry/theirs.json`, '{"mine":2}'), AlreadyExists);
      assert.equal(await io.readText(`s3://${bucket}/retry/theirs.json`), '{"theirs":1}');
      io.close();
    });
  });
});

describe('parseLocation', () => {
  it('splits s3, s3a and file URIs and rejects others', () => {
    assert.deepEqual(parseLocation('s3://b/k/x.parquet'), { scheme: 's3', bucket: 'b', key: 'k/x.parquet' });
    assert.deepEqual(parseLocation('s3a://b/k'), { scheme: 's3a', bucket: 'b', key: 'k' });
    assert.deepEqual(parseLocation('file:///tmp/w/x'), { scheme: 'file', path: '/tmp/w/x' });
    assert.deepEqual(parseLocation('file:/tmp/w/x'), { scheme: 'file', path: '/tmp/w/x' });
    assert.throws(() => parseLocation('gs://b/k'), StorageError);
    assert.throws(() => parseLocation('/tmp/x'), StorageError);
  });
});

function* chunks(b: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

type Fault = 'forward' | '503' | 'slowdown' | 'reset' | 'forward-then-reset';
interface FaultyProxy {
  url: string;
  requests: number;
  plan(faults: Fault[]): void;
  close(): Promise<void>;
}

/** Forwards to the real S3 server, except that the next requests meet the planned faults. */
async function startFaultyProxy(upstream: URL): Promise<FaultyProxy> {
  let queue: Fault[] = [];
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    const fault = queue.shift() ?? 'forward';
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === '503' || fault === 'slowdown') {
      req.resume();
      req.on('end', () => {
        const code = fault === 'slowdown' ? 'SlowDown' : 'ServiceUnavailable';
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`);
      });
      return;
    }
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        if (fault === 'forward-then-reset') {
          upRes.resume();
          upRes.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => req.socket.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    plan(faults) {
      queue = [...faults];
      state.requests = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
