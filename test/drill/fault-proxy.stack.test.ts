// The fault proxy in front of the real local services: every fault it is asked for happens the number of
// times it was asked for, and everything else passes through untouched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@clickhouse/client';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { FaultProxy, postgresQueryMessage, targetOf, throughProxy } from '../../src/drill/fault-proxy.js';
import { freshBucket, freshPostgresDatabase, stackEnv } from '../support/stack.js';

const env = stackEnv();

describe('fault proxy', () => {
  it('refuses to forward to anything but loopback', async () => {
    await assert.rejects(FaultProxy.start({ target: { host: '10.1.2.3', port: 5432 }, protocol: 'tcp' }), /not a loopback address/);
  });

  it('relays ClickHouse untouched, then resets one response mid-stream after the given bytes, once', async () => {
    const proxy = await FaultProxy.start({ target: targetOf(env.CLICKHOUSE_URL), protocol: 'tcp' });
    const client = createClient({ url: throughProxy(env.CLICKHOUSE_URL, proxy).replace(/\/\/[^@]*@/, '//'), request_timeout: 20_000 });
    try {
      const big = 'SELECT number, toString(number) AS s FROM system.numbers LIMIT 200000';
      const whole = await (await client.query({ query: big, format: 'TabSeparated' })).text();
      assert.equal(whole.trim().split('\n').length, 200_000);

      proxy.arm({ kind: 'reset-after-bytes', bytes: 64 * 1024, times: 1 });
      const injected: string[] = [];
      proxy.onInjected((f) => injected.push(f.detail));
      await assert.rejects(
        async () => (await client.query({ query: big, format: 'TabSeparated' })).text(),
        /ECONNRESET|socket hang up|aborted|closed/i,
      );
      assert.equal(injected.length, 1);
      assert.match(injected[0], /reset after 65536 bytes/);
      // The fault was for one response only: the next query goes through whole.
      const again = await (await client.query({ query: big, format: 'TabSeparated' })).text();
      assert.equal(again.trim().split('\n').length, 200_000);
      assert.equal(proxy.snapshot().injected, 1);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it('holds every byte until released, then relays them', async () => {
    const proxy = await FaultProxy.start({ target: targetOf(env.CLICKHOUSE_URL), protocol: 'tcp' });
    const client = createClient({ url: throughProxy(env.CLICKHOUSE_URL, proxy).replace(/\/\/[^@]*@/, '//'), request_timeout: 20_000 });
    try {
      proxy.hold();
      let answered = false;
      const query = client.query({ query: 'SELECT 42 AS x', format: 'JSONEachRow' }).then(async (r) => {
        answered = true;
        return r.json<{ x: number }>();
      });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(answered, false, 'no answer while held');
      proxy.release();
      assert.deepEqual(await query, [{ x: 42 }]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  describe('PostgreSQL COMMIT dropped', () => {
    let db: Awaited<ReturnType<typeof freshPostgresDatabase>>;
    before(async () => {
      db = await freshPostgresDatabase('proxy');
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query('CREATE TABLE t (id int)');
      await c.end();
    });
    after(async () => db.drop());

    async function commitThrough(proxy: FaultProxy, id: number): Promise<unknown> {
      const c = new pg.Client({ connectionString: throughProxy(db.url, proxy) });
      c.on('error', () => undefined);
      await c.connect();
      try {
        await c.query('BEGIN');
        await c.query('INSERT INTO t VALUES ($1)', [id]);
        await c.query('COMMIT');
        return null;
      } catch (err) {
        return err;
      } finally {
        await c.end().catch(() => undefined);
      }
    }

    async function ids(): Promise<number[]> {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const r = await c.query<{ id: number }>('SELECT id FROM t ORDER BY id');
      await c.end();
      return r.rows.map((x) => x.id);
    }

    it('before it reaches the server: the client sees the connection die and the transaction rolls back', async () => {
      const proxy = await FaultProxy.start({ target: targetOf(db.url), protocol: 'tcp' });
      proxy.arm({ kind: 'drop-on-message', match: postgresQueryMessage('COMMIT'), when: 'before-forward', times: 1 });
      try {
        const err = await commitThrough(proxy, 1);
        assert.ok(err instanceof Error, 'the COMMIT must fail on the client');
        assert.equal(proxy.snapshot().injected, 1);
        // Poll: the server notices the closed connection and rolls back.
        assert.deepEqual(await ids(), []);
        assert.equal(await commitThrough(proxy, 2), null, 'the fault fires once');
        assert.deepEqual(await ids(), [2]);
      } finally {
        await proxy.close();
      }
    });

    it('after the server answered: the client sees the connection die although the transaction committed', async () => {
      const proxy = await FaultProxy.start({ target: targetOf(db.url), protocol: 'tcp' });
      proxy.arm({ kind: 'drop-on-message', match: postgresQueryMessage('COMMIT'), when: 'after-reply', times: 1 });
      try {
        const err = await commitThrough(proxy, 3);
        assert.ok(err instanceof Error, 'the COMMIT must fail on the client');
        assert.equal(proxy.snapshot().injected, 1);
        assert.deepEqual(await ids(), [2, 3]);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('S3', () => {
    let bucket: string;
    before(async () => {
      bucket = (await freshBucket('proxy')).bucket;
    });

    function s3Through(proxy: FaultProxy, maxAttempts: number): S3Client {
      return new S3Client({
        endpoint: `http://${proxy.address}`,
        region: env.AWS_REGION,
        forcePathStyle: true,
        maxAttempts,
        credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
      });
    }

    it('answers the first K requests with 503 and passes the rest to the real server', async () => {
      const proxy = await FaultProxy.start({ target: targetOf(env.AWS_ENDPOINT_URL_S3), protocol: 'http' });
      proxy.arm({ kind: 'http-error', status: 503, requests: 2 });
      const s3 = s3Through(proxy, 1);
      try {
        const put = () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'hello' }));
        await assert.rejects(put(), (e: Error & { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 503);
        await assert.rejects(put(), (e: Error & { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 503);
        await put();
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a.txt' }));
        assert.equal(await got.Body!.transformToString(), 'hello');
        assert.deepEqual({ injected: proxy.snapshot().injected, requests: proxy.snapshot().requests }, { injected: 2, requests: 4 });
      } finally {
        s3.destroy();
        await proxy.close();
      }
    });

    it('answers 500 once, which a retrying client gets past', async () => {
      const proxy = await FaultProxy.start({ target: targetOf(env.AWS_ENDPOINT_URL_S3), protocol: 'http' });
      proxy.arm({ kind: 'http-error', status: 500, requests: 1 });
      const s3 = s3Through(proxy, 3);
      try {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b.txt', Body: 'world' }));
        assert.equal(proxy.snapshot().injected, 1);
      } finally {
        s3.destroy();
        await proxy.close();
      }
    });

    it('stalls a request and closes its connection without an answer', async () => {
      const proxy = await FaultProxy.start({ target: targetOf(env.AWS_ENDPOINT_URL_S3), protocol: 'http' });
      proxy.arm({ kind: 'http-stall', requests: 1, stallMs: 300 });
      const s3 = s3Through(proxy, 1);
      try {
        const began = Date.now();
        await assert.rejects(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'c.txt', Body: 'x' })));
        assert.ok(Date.now() - began >= 250, 'the request was held before the connection closed');
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'c.txt', Body: 'x' }));
        assert.equal(proxy.snapshot().injected, 1);
      } finally {
        s3.destroy();
        await proxy.close();
      }
    });
  });
});
