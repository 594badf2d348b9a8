// The REST catalog client against a real Iceberg REST catalog server (the stack's, dev/rest-catalog.sh:
// Apache Iceberg's RESTCatalogServer with a JdbcCatalog in PostgreSQL and S3FileIO on moto): config,
// namespaces and tables, commits of our staged manifests that pyiceberg's RestCatalog then reads with the
// same rows, a conflicting commit, the ambiguous commit (answer lost after the server applied it), OAuth2
// client credentials and a bearer token on the wire, and an unreachable server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RestCatalogAuth, RestCatalogSettings } from '../../src/config/catalog.js';
import { CommitConflict, ExitCode } from '../../src/core/errors.js';
import { CatalogError } from '../../src/iceberg/catalog.js';
import { currentSchema, currentSnapshot, expireSnapshots } from '../../src/iceberg/metadata.js';
import type { DuckDBSession } from '../../src/iceberg/parquet.js';
import { RestCatalog, type RestCatalogOptions } from '../../src/iceberg/rest-catalog.js';
import { CatalogUnavailable, CommitOutcomeUnknown } from '../../src/iceberg/rest-protocol.js';
import { type AnyStagedCommit, buildOnBase, type Table } from '../../src/iceberg/snapshot-producer.js';
import { commitOutcome, stageAddColumns, stageAppend, stageSchemaChange } from '../../src/iceberg/table.js';
import { FaultProxy } from '../../src/drill/fault-proxy.js';
import {
  canonicalRows,
  openDuck,
  openWarehouse,
  pyiceberg,
  pyicebergSkip,
  schemaJson,
  sortRows,
  tradesSchema,
  tradesSpec,
  tradesSql,
  writeRows,
  type PyRead,
  type Warehouse,
} from '../support/iceberg-tables.js';
import { stackEnv, uniqueName } from '../support/stack.js';

const REST_URI = stackEnv().OFFLOAD_STACK_REST_URI;
const restSkip: string | false = !REST_URI
  ? 'the stack has no REST catalog: OFFLOAD_STACK_REST=1 dev/stack.sh up (or dev/rest-catalog.sh up)'
  : (await fetch(`${REST_URI}/v1/config`)
        .then((r) => r.ok)
        .catch(() => false))
    ? false
    : `the stack's REST catalog at ${REST_URI} does not answer: dev/rest-catalog.sh status`;

const settings = (auth: RestCatalogAuth = { kind: 'none' }, uri = REST_URI!): RestCatalogSettings => ({
  kind: 'rest',
  uri,
  warehouse: null,
  auth,
});

/** A fetch that notes each request's method, path and Authorization header and passes it on unchanged. */
interface SeenRequest {
  method: string;
  path: string;
  authorization: string | null;
  delegation: string | null;
}

function recordingFetch(): { fetch: typeof fetch; seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  const wrapped: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    seen.push({
      method: init?.method ?? 'GET',
      path: new URL(String(input)).pathname,
      authorization: headers.get('authorization'),
      delegation: headers.get('x-iceberg-access-delegation'),
    });
    return fetch(input, init);
  };
  return { fetch: wrapped, seen };
}

const WATERMARK = (ts: string): string => JSON.stringify({ timestamp: ts, tieBreak: null });

describe('Iceberg REST catalog client against the stack REST catalog server', { skip: restSkip }, () => {
  let catalog: RestCatalog;
  let warehouse: Warehouse;
  let duck: DuckDBSession;
  const namespace = uniqueName('rest');

  before(async () => {
    catalog = await RestCatalog.connect(settings());
    warehouse = await openWarehouse('s3');
    duck = await openDuck();
  });
  after(async () => {
    duck?.close();
    await warehouse?.close();
  });

  let tables = 0;
  /** A new trades table in a fresh bucket (the server writes its metadata there through S3FileIO). */
  async function newTable(): Promise<Table> {
    await catalog.ensureNamespace(namespace);
    const name = `trades_${++tables}`;
    const schema = tradesSchema();
    return catalog.createTable(
      { namespace, name },
      {
        schema,
        spec: tradesSpec(schema),
        location: `${warehouse.url}/${namespace}/${name}`,
        properties: { 'offload.source': 'k2.trades' },
      },
    );
  }

  /** Writes `count` trades from `first` and stages their append on `base` with an offload run's summary. */
  async function stage(base: Table, first: number, count: number, runId: string): Promise<AnyStagedCommit> {
    const files = await writeRows(duck, base, warehouse.io, tradesSql(first, count), { prefix: runId });
    // As the pipeline stages for a REST catalog: no metadata file of ours (the server writes its own).
    return stageAppend(base, warehouse.io, files, {
      summaryProperties: { 'offload.run-id': runId, 'offload.watermark': WATERMARK(`2026-02-1${first % 3}T00:00:00Z`) },
      metadataFile: false,
    });
  }

  /** A client whose requests pass a fault proxy that drops the connection on the commit to `table`. */
  async function throughProxy(
    table: string,
    when: 'before-forward' | 'after-reply',
  ): Promise<{ proxy: FaultProxy; viaProxy: RestCatalog }> {
    const target = new URL(REST_URI!);
    const proxy = await FaultProxy.start({
      target: { host: target.hostname, port: Number(target.port) },
      protocol: 'tcp',
      fault: { kind: 'drop-on-message', match: Buffer.from(`POST /v1/namespaces/${namespace}/tables/${table} HTTP`), when },
    });
    return { proxy, viaProxy: await RestCatalog.connect(settings({ kind: 'none' }, `http://${proxy.address}`)) };
  }

  test('GET /v1/config: no prefix from this server, every endpoint a commit needs is listed', async () => {
    assert.equal(catalog.config.prefix, null);
    assert.equal(catalog.config.uri, REST_URI);
    assert.ok(catalog.config.endpoints?.includes('POST /v1/{prefix}/namespaces/{namespace}/tables/{table}'));
    assert.match(catalog.description, /^REST catalog http:\/\/127\.0\.0\.1:\d+, no authentication$/);
    // The warehouse is sent as the query parameter; this server serves one warehouse and ignores it.
    const recorder = recordingFetch();
    const withWarehouse = await RestCatalog.connect({ ...settings(), warehouse: 's3://warehouse/rest' }, { fetch: recorder.fetch });
    assert.equal(withWarehouse.config.properties.warehouse, 's3://warehouse/rest');
    assert.deepEqual(
      recorder.seen.map((r) => `${r.method} ${r.path}`),
      ['GET /v1/config'],
    );
  });

  test('namespaces: create once, load, list (nested too), refuse a second create, drop when empty', async () => {
    const ns = uniqueName('ns');
    assert.equal(await catalog.ensureNamespace(ns, { owner: 'offload' }), true);
    assert.equal(await catalog.ensureNamespace(ns), false);
    assert.equal((await catalog.loadNamespaceProperties(ns)).owner, 'offload');
    await assert.rejects(catalog.createNamespace(ns), (e: unknown) => e instanceof CatalogError && e.reason === 'namespace-exists');
    await catalog.createNamespace(`${ns}.child`);
    assert.ok((await catalog.listNamespaces()).includes(ns));
    assert.deepEqual(await catalog.listNamespaces(ns), [`${ns}.child`], 'levels travel joined by 0x1F');
    assert.equal(await catalog.namespaceExists(`${ns}.missing`), false);
    assert.equal(await catalog.dropNamespace(`${ns}.child`), true);
    assert.equal(await catalog.dropNamespace(ns), true);
    assert.equal(await catalog.dropNamespace(ns), false);
  });

  test('tables: create with our schema, spec, location and properties; load, list, refuse a duplicate, drop', async () => {
    const table = await newTable();
    const ident = table.ident;
    const schema = tradesSchema();
    assert.deepEqual(
      schemaJson(currentSchema(table.metadata)),
      schemaJson(schema),
      'the server assigns the same field ids, nested ones included',
    );
    assert.deepEqual(
      table.metadata['partition-specs'][0].fields.map((f) => [f.name, f.transform, f['source-id'], f['field-id']]),
      [
        ['exchange_timestamp_day', 'day', 4, 1000],
        ['exchange', 'identity', 2, 1001],
      ],
    );
    assert.equal(table.metadata.location, `${warehouse.url}/${ident.namespace}/${ident.name}`);
    assert.equal(table.metadata.properties['offload.source'], 'k2.trades');
    assert.equal(table.metadata['format-version'], 2);
    assert.match(
      table.metadataLocation,
      new RegExp(`^${warehouse.url}/${ident.namespace}/${ident.name}/metadata/00000-[0-9a-f-]{36}\\.metadata\\.json$`),
    );
    assert.ok(await warehouse.io.exists(table.metadataLocation), 'the server wrote its metadata file to our bucket');

    const loaded = await catalog.loadTable(ident);
    assert.equal(loaded?.metadataLocation, table.metadataLocation);
    assert.deepEqual((await catalog.listTables(namespace)).map((t) => t.name).includes(ident.name), true);
    await assert.rejects(
      catalog.createTable(ident, { schema, spec: tradesSpec(schema) }),
      (e: unknown) => e instanceof CatalogError && e.reason === 'table-exists',
    );
    assert.equal(await catalog.loadTable({ namespace, name: 'no_such_table' }), null);
    assert.equal(await catalog.loadTable({ namespace: uniqueName('no_ns'), name: 't' }), null);
    assert.equal(await catalog.dropTable(ident), true);
    assert.equal(await catalog.dropTable(ident), false);
    assert.equal(await catalog.loadTable(ident), null);
  });

  test('commits of our staged manifests: the server keeps our snapshots and summaries, and pyiceberg reads the same rows', {
    skip: pyicebergSkip,
  }, async () => {
    const base = await newTable();
    const first = await stage(base, 1, 300, 'run-1');
    const afterFirst = await catalog.commit(first);
    const second = await stage(afterFirst, 1000, 200, 'run-2');
    const afterSecond = await catalog.commit(second);

    // The server wrote its own metadata files (none of ours was staged).
    assert.equal(first.next, null);
    assert.match(afterSecond.metadataLocation, /\/metadata\/00002-[0-9a-f-]{36}\.metadata\.json$/);
    const snap = currentSnapshot(afterSecond.metadata)!;
    assert.equal(snap['snapshot-id'], second.snapshotId);
    assert.equal(snap['parent-snapshot-id'], first.snapshotId);
    assert.equal(snap['manifest-list'], currentSnapshot(second.metadata)!['manifest-list'], 'the manifest list we wrote');
    assert.equal(snap.summary['offload.run-id'], 'run-2');
    assert.equal(snap.summary['offload.watermark'], WATERMARK('2026-02-11T00:00:00Z'));
    assert.equal(snap.summary['total-records'], '500');
    assert.equal(afterSecond.metadata['last-sequence-number'], 2n);
    const reloaded = await catalog.loadTable(base.ident);
    assert.equal(reloaded?.metadataLocation, afterSecond.metadataLocation);

    const py = await pyiceberg<PyRead>({ catalogUrl: REST_URI!, catalogName: 'rest', warehouse }, [
      'read',
      `${namespace}.${base.ident.name}`,
      '--history',
    ]);
    const schema = currentSchema(afterSecond.metadata);
    const want = sortRows([
      ...(await canonicalRows(duck, schema, tradesSql(1, 300))),
      ...(await canonicalRows(duck, schema, tradesSql(1000, 200))),
    ]);
    assert.equal(py.metadata_location, afterSecond.metadataLocation);
    assert.equal(py.row_count, 500);
    assert.deepEqual(sortRows(py.rows), want, 'pyiceberg reads every value as written');
    assert.deepEqual(
      py.history?.map((h) => h.row_count),
      [300, 500],
      'both snapshots stay readable',
    );
    assert.deepEqual(
      py.snapshots.map((s) => [s.summary['offload.run-id'], s.summary['added-records']]),
      [
        ['run-1', '300'],
        ['run-2', '200'],
      ],
    );
  });

  test('a schema change, snapshot expiry and table properties commit as add-schema, remove-snapshots and set-properties; a stale schema change is refused', async () => {
    const created = await newTable();
    const one = await catalog.commit(await stage(created, 1, 20, 'run-a'));
    const two = await catalog.commit(await stage(one, 100, 20, 'run-b'));
    const lastColumnId = two.metadata['last-column-id'];
    const widened = await catalog.commit(
      await stageSchemaChange(two, warehouse.io, { addColumns: [{ name: 'venue_code', type: 'string' }] }, { metadataFile: false }),
    );
    assert.equal(widened.metadata['current-schema-id'], 1);
    assert.deepEqual(currentSchema(widened.metadata).fields.at(-1), {
      id: lastColumnId + 1,
      name: 'venue_code',
      required: false,
      type: 'string',
    });
    assert.equal(widened.metadata['last-column-id'], lastColumnId + 1);

    const expired = expireSnapshots(widened.metadata, { olderThanMs: Date.now() + 1, minSnapshotsToKeep: 1 }).metadata;
    const next = { ...expired, properties: { ...expired.properties, 'offload.owner': 'rest-test' } };
    const trimmed = await catalog.commit({ ident: widened.ident, baseTable: widened, metadata: next, next: null });
    assert.deepEqual(
      trimmed.metadata.snapshots.map((s) => s.summary['offload.run-id']),
      ['run-b'],
    );
    assert.equal(currentSnapshot(trimmed.metadata)!.summary['offload.run-id'], 'run-b');
    assert.equal(trimmed.metadata.properties['offload.owner'], 'rest-test');

    const stale = await stageAddColumns(two, warehouse.io, [{ name: 'other', type: 'long' }]);
    await assert.rejects(
      catalog.commit(stale),
      (e: unknown) => e instanceof CommitConflict && /Requirement failed: current schema changed: expected id 0 != 1/.test(e.message),
    );
    assert.equal((await catalog.loadTable(created.ident))!.metadataLocation, trimmed.metadataLocation);
  });

  test('a commit built on an old version is refused (409 → CommitConflict, nothing applied); rebuilt on the new one it commits', async () => {
    const base = await newTable();
    const ours = await stage(base, 1, 50, 'run-ours');
    const theirs = await stage(base, 100, 50, 'run-theirs');
    const won = await catalog.commit(theirs);
    await assert.rejects(catalog.commit(ours), (e: unknown) => {
      assert.ok(e instanceof CommitConflict, String(e));
      assert.equal(e.exitCode, ExitCode.conflict);
      assert.equal(e.expected, base.metadataLocation);
      assert.equal(e.actual, won.metadataLocation, 'the conflict names the version that won');
      assert.match(e.message, /409 CommitFailedException: Requirement failed: branch main (was created concurrently|has changed)/);
      return true;
    });
    const current = (await catalog.loadTable(base.ident))!;
    assert.equal(current.metadataLocation, won.metadataLocation);
    assert.deepEqual(
      current.metadata.snapshots.map((s) => s.summary['offload.run-id']),
      ['run-theirs'],
    );

    // The restage of the pipeline: the same data files and manifest, a manifest list on the new version.
    const rebuilt = await buildOnBase(current, warehouse.io, ours.change, ours.attempt + 1, { metadataFile: false });
    const committed = await catalog.commit(rebuilt);
    assert.deepEqual(
      committed.metadata.snapshots.map((s) => s.summary['offload.run-id']),
      ['run-theirs', 'run-ours'],
    );
    assert.equal(currentSnapshot(committed.metadata)!.summary['total-records'], '100');
  });

  test('the ambiguous commit: the answer is lost after the server applied it → CommitOutcomeUnknown, and the reloaded table holds our snapshot', async () => {
    const base = await newTable();
    const { proxy, viaProxy } = await throughProxy(base.ident.name, 'after-reply');
    try {
      const staged = await stage(base, 1, 40, 'run-ambiguous');
      await assert.rejects(viaProxy.commit(staged), (e: unknown) => {
        assert.ok(e instanceof CommitOutcomeUnknown, String(e));
        assert.match(e.message, /outcome unknown/);
        return true;
      });
      assert.equal(proxy.snapshot().injected, 1);
      const current = await catalog.loadTable(base.ident);
      assert.equal(commitOutcome(current, staged), 'committed');
      assert.equal(
        currentSnapshot(current!.metadata)!.summary['offload.run-id'],
        'run-ambiguous',
        'recovery finds the run id in the summary',
      );
    } finally {
      await proxy.close();
    }
  });

  test('the commit that never reached the server → CommitOutcomeUnknown too; the reloaded table shows it was not applied and it commits again', async () => {
    const base = await newTable();
    const { proxy, viaProxy } = await throughProxy(base.ident.name, 'before-forward');
    try {
      const staged = await stage(base, 1, 40, 'run-lost');
      await assert.rejects(viaProxy.commit(staged), CommitOutcomeUnknown);
      const current = (await catalog.loadTable(base.ident))!;
      assert.equal(commitOutcome(current, staged), 'not-committed');
      assert.equal(current.metadataLocation, base.metadataLocation);
      const committed = await catalog.commit(staged);
      assert.equal(currentSnapshot(committed.metadata)!['snapshot-id'], staged.snapshotId);
    } finally {
      await proxy.close();
    }
  });

  test("OAuth2 client credentials with the server's own token endpoint: the token it issues is sent on every request", async () => {
    const recorder = recordingFetch();
    const oauth = await RestCatalog.connect(
      settings({ kind: 'oauth2', clientId: 'offload-ci', clientSecret: 'not-a-real-secret', scope: 'catalog', tokenUri: null }),
      { fetch: recorder.fetch },
    );
    await oauth.listNamespaces();
    assert.deepEqual(
      recorder.seen.map((r) => `${r.method} ${r.path} ${r.authorization ?? '-'}`),
      [
        'POST /v1/oauth/tokens -',
        'GET /v1/config Bearer client-credentials-token:sub=offload-ci',
        'GET /v1/namespaces Bearer client-credentials-token:sub=offload-ci',
      ],
    );
  });

  test('OAuth2 with a token endpoint of its own (OFFLOAD_CATALOG_OAUTH2_URI): the form it gets, and a new token before the old one expires', async () => {
    // Only the token exchange is played by this test (the fixture's tokens never expire); the catalog is the real server.
    const forms: URLSearchParams[] = [];
    const tokenServer = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        forms.push(new URLSearchParams(body));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: `token-${forms.length}`, token_type: 'bearer', expires_in: 3600 }));
      });
    });
    await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
    try {
      let now = Date.parse('2026-02-11T12:00:00Z');
      const recorder = recordingFetch();
      const tokenUri = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/oauth/token`;
      const auth: RestCatalogAuth = {
        kind: 'oauth2',
        clientId: 'principal',
        clientSecret: 'shh-secret',
        scope: 'PRINCIPAL_ROLE:ALL',
        tokenUri,
      };
      const options: RestCatalogOptions = { fetch: recorder.fetch, now: () => now };
      const oauth = await RestCatalog.connect(settings(auth), options);
      await oauth.listNamespaces();
      assert.equal(forms.length, 1, 'one token for the config and the list');
      assert.deepEqual(Object.fromEntries(forms[0]), {
        grant_type: 'client_credentials',
        client_id: 'principal',
        client_secret: 'shh-secret',
        scope: 'PRINCIPAL_ROLE:ALL',
      });

      now += 53 * 60_000; // 7 minutes left: more than the 5-minute margin
      await oauth.listNamespaces();
      assert.equal(forms.length, 1);
      now += 3 * 60_000; // 4 minutes left: renewed before it expires
      await oauth.listNamespaces();
      assert.equal(forms.length, 2);
      const catalogCalls = recorder.seen.filter((r) => !r.path.startsWith('/oauth'));
      assert.deepEqual(
        catalogCalls.map((r) => r.authorization),
        ['Bearer token-1', 'Bearer token-1', 'Bearer token-1', 'Bearer token-2'],
      );
    } finally {
      await new Promise<void>((resolve) => tokenServer.close(() => resolve()));
    }
  });

  test('a static bearer token is sent as it is, and no access delegation is asked for', async () => {
    const recorder = recordingFetch();
    const bearer = await RestCatalog.connect(settings({ kind: 'bearer', token: 'static-token-123' }), { fetch: recorder.fetch });
    await bearer.ensureNamespace(namespace);
    assert.ok(recorder.seen.length >= 2);
    assert.ok(recorder.seen.every((r) => r.authorization === 'Bearer static-token-123'));
    assert.ok(
      recorder.seen.every((r) => r.delegation === null),
      'no X-Iceberg-Access-Delegation: the offload writes with its own S3 credentials',
    );
  });

  test('an unreachable server: CatalogUnavailable (exit 4) naming the URI, after the retries of a read; a commit that cannot connect was not applied', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const sleeps: number[] = [];
    await assert.rejects(
      RestCatalog.connect(settings({ kind: 'bearer', token: 'secret-token-xyz' }, `http://127.0.0.1:${port}`), {
        sleep: async (ms) => void sleeps.push(ms),
        retry: { maxAttempts: 3 },
      }),
      (e: unknown) => {
        assert.ok(e instanceof CatalogUnavailable, String(e));
        assert.equal(e.exitCode, ExitCode.unavailable);
        assert.match(
          e.message,
          new RegExp(`^cannot reach the Iceberg REST catalog at http://127\\.0\\.0\\.1:${port} \\(config: connect ECONNREFUSED`),
        );
        assert.doesNotMatch(e.message, /secret-token-xyz/);
        return true;
      },
    );
    assert.equal(sleeps.length, 2, 'three attempts');

    // Connected through a proxy that then goes away.
    const base = await newTable();
    const target = new URL(REST_URI!);
    const proxy = await FaultProxy.start({ target: { host: target.hostname, port: Number(target.port) }, protocol: 'tcp' });
    const viaProxy = await RestCatalog.connect(settings({ kind: 'none' }, `http://${proxy.address}`));
    const staged = await stage(base, 1, 10, 'run-refused');
    await proxy.close();
    // On the kept-alive connection the proxy closed, the client cannot tell whether the request left (unknown),
    // unless it saw the close first and connected anew (refused): either way nothing claims "failed" wrongly.
    await assert.rejects(viaProxy.commit(staged), (e: unknown) => e instanceof CommitOutcomeUnknown || e instanceof CatalogUnavailable);
    // A new connection is refused: the request never left, so the commit is known not to be applied.
    await assert.rejects(
      viaProxy.commit(staged),
      (e: unknown) => e instanceof CatalogUnavailable && /commit .*ECONNREFUSED/.test(e.message),
    );
    assert.equal(commitOutcome(await catalog.loadTable(base.ident), staged), 'not-committed');
  });
});
