// The REST catalog client's pure parts, without a server: paths, the config merge, the commit's
// requirements and updates from base → next, answers read losslessly, error statuses mapped to the errors
// the pipeline acts on, OAuth2 token timing, and the request layer's retry/unknown-outcome rules (on a
// scripted fetch: these are unit tests of logic; the real server is in rest-catalog.stack.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CommitConflict, ExitCode } from '../../src/core/errors.js';
import { CatalogError, ensureNamespaceIn } from '../../src/iceberg/catalog.js';
import { addSchema, addSnapshot, expireSnapshots, newTableMetadata } from '../../src/iceberg/metadata.js';
import { credentialsFor, jwtExpiry, renewalTime, tokenRequestBody } from '../../src/iceberg/rest-auth.js';
import { CatalogHttp, isNeverSent } from '../../src/iceberg/rest-http.js';
import {
  CatalogAccessDenied,
  CatalogPaths,
  CatalogUnavailable,
  CommitOutcomeUnknown,
  commitRequest,
  createTableBody,
  encodeNamespace,
  errorForStatus,
  parseConfigResponse,
  requestBody,
  responseBody,
  tableFromResponse,
  transportDetail,
  type CatalogOperation,
} from '../../src/iceberg/rest-protocol.js';
import type { Schema, TableMetadata } from '../../src/iceberg/types.js';

const SCHEMA: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'price', required: false, type: 'decimal(38, 8)' },
  ],
};
const BIG_ID = 9_007_199_254_740_993n; // 2^53 + 1: a double cannot hold it
const ident = { namespace: 'cold', name: 'trades' };

function table(): TableMetadata {
  return newTableMetadata({
    location: 's3://b/cold/trades',
    schema: SCHEMA,
    spec: { 'spec-id': 0, fields: [] },
    tableUuid: '11111111-2222-3333-4444-555555555555',
    timestampMs: 1_000,
  });
}

function append(m: TableMetadata, snapshotId: bigint, runId: string): TableMetadata {
  return addSnapshot(m, {
    operation: 'append',
    manifestList: `s3://b/cold/trades/metadata/snap-${snapshotId}-1-x.avro`,
    snapshotId,
    addedDataFiles: 1,
    addedRecords: 10n,
    addedFilesSize: 100n,
    changedPartitionCount: 1,
    properties: { 'offload.run-id': runId },
    timestampMs: 2_000,
  }).metadata;
}

describe('paths', () => {
  it('encode namespace levels joined by 0x1F, names URL-encoded, the prefix when the server gives one', () => {
    assert.equal(encodeNamespace('a.b c'), 'a%1Fb%20c');
    const plain = new CatalogPaths('http://h:1', null);
    assert.equal(plain.table(ident), 'http://h:1/v1/namespaces/cold/tables/trades');
    const prefixed = new CatalogPaths('https://polaris/api/catalog', 'prod');
    assert.equal(
      prefixed.table({ namespace: 'k2.cold', name: 'a/b' }, { purgeRequested: 'false' }),
      'https://polaris/api/catalog/v1/prod/namespaces/k2%1Fcold/tables/a%2Fb?purgeRequested=false',
    );
    assert.equal(
      prefixed.namespaces('k2.cold', 'tok en'),
      'https://polaris/api/catalog/v1/prod/namespaces?parent=k2%1Fcold&pageToken=tok+en',
    );
    assert.equal(prefixed.tables('k2'), 'https://polaris/api/catalog/v1/prod/namespaces/k2/tables');
    assert.throws(
      () => encodeNamespace('a..b'),
      (e: unknown) => e instanceof CatalogError && e.reason === 'invalid',
    );
  });
});

describe('GET /v1/config', () => {
  it('merges server defaults < our properties < server overrides; prefix and uri come from the merge', () => {
    const c = parseConfigResponse(
      {
        defaults: { warehouse: 'default-wh', 'client.region': 'eu' },
        overrides: { prefix: '/prod/', uri: 'https://other/api/' },
        endpoints: ['GET /v1/{prefix}/namespaces'],
      },
      'https://polaris/api',
      { uri: 'https://polaris/api', warehouse: 'mine' },
    );
    assert.deepEqual(c.properties, { warehouse: 'mine', 'client.region': 'eu', uri: 'https://other/api/', prefix: '/prod/' });
    assert.equal(c.prefix, 'prod');
    assert.equal(c.uri, 'https://other/api');
    assert.deepEqual(c.endpoints, ['GET /v1/{prefix}/namespaces']);
    const bare = parseConfigResponse({ defaults: {}, overrides: {} }, 'http://h:1', { uri: 'http://h:1' });
    assert.equal(bare.prefix, null);
    assert.equal(bare.endpoints, null, 'a server that lists no endpoints supports the standard ones');
  });
});

describe('the commit request from base → next', () => {
  it('first append: the snapshot and main, guarded by the table uuid and "main does not exist yet"; ids exact on the wire', () => {
    const base = table();
    const body = commitRequest(ident, base, append(base, BIG_ID, 'run-1'));
    assert.deepEqual(body.identifier, { namespace: ['cold'], name: 'trades' });
    assert.deepEqual(body.requirements, [
      { type: 'assert-table-uuid', uuid: '11111111-2222-3333-4444-555555555555' },
      { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null },
    ]);
    assert.deepEqual(
      body.updates.map((u) => u.action),
      ['add-snapshot', 'set-snapshot-ref'],
    );
    const wire = requestBody(body);
    assert.match(
      wire,
      /"snapshot-id":9007199254740993,"sequence-number":1,"timestamp-ms":2000,"manifest-list":"s3:\/\/b\/cold\/trades\/metadata\/snap-9007199254740993-1-x\.avro"/,
    );
    assert.match(wire, /"summary":\{"operation":"append",.*"offload\.run-id":"run-1"\}/);
    assert.match(wire, /\{"action":"set-snapshot-ref","ref-name":"main","snapshot-id":9007199254740993,"type":"branch"\}/);
    assert.match(wire, /\{"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":null\}/);
  });

  it('next append: guarded by the snapshot main is at now', () => {
    const one = append(table(), 7n, 'run-1');
    const body = commitRequest(ident, one, append(one, 8n, 'run-2'));
    assert.deepEqual(body.requirements[1], { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': 7n });
    const added = body.updates[0];
    assert.ok(added.action === 'add-snapshot');
    assert.equal(added.snapshot['parent-snapshot-id'], 7n);
    assert.equal(added.snapshot['sequence-number'], 2n);
  });

  it('a schema change: add-schema and "the schema added last", guarded by the current schema and last column id', () => {
    const base = append(table(), 7n, 'run-1');
    const wider: Schema = { ...SCHEMA, fields: [...SCHEMA.fields, { id: 3, name: 'venue', required: false, type: 'string' }] };
    const body = commitRequest(ident, base, addSchema(base, wider).metadata);
    assert.deepEqual(body.requirements.slice(1), [
      { type: 'assert-current-schema-id', 'current-schema-id': 0 },
      { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': 2 },
    ]);
    assert.deepEqual(
      body.updates.map((u) =>
        u.action === 'set-current-schema'
          ? `${u.action} ${u['schema-id']}`
          : u.action === 'add-schema'
            ? `${u.action} ${u.schema['schema-id']} ${u['last-column-id']}`
            : u.action,
      ),
      ['add-schema 1 3', 'set-current-schema -1'],
    );
  });

  it('snapshot expiry: remove-snapshots guarded by main; property changes as set/remove', () => {
    const two = append(append(table(), 7n, 'run-1'), 8n, 'run-2');
    const expired = expireSnapshots(two, { olderThanMs: 10_000, minSnapshotsToKeep: 1 }).metadata;
    const next = { ...expired, properties: { ...expired.properties, 'offload.source': 'k2.trades' } as Record<string, string> };
    delete next.properties['write.format.default'];
    const body = commitRequest(ident, two, next);
    assert.deepEqual(body.requirements[1], { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': 8n });
    assert.deepEqual(body.updates, [
      { action: 'remove-snapshots', 'snapshot-ids': [7n] },
      { action: 'set-properties', updates: { 'offload.source': 'k2.trades' } },
      { action: 'remove-properties', removals: ['write.format.default'] },
    ]);
  });

  it('nothing changed: no updates; changes the offload never makes are refused', () => {
    const base = table();
    assert.deepEqual(commitRequest(ident, base, base).updates, []);
    const respec = {
      ...base,
      'partition-specs': [
        { 'spec-id': 0, fields: [{ 'source-id': 1, 'field-id': 1000, name: 'id_bucket', transform: 'bucket[4]' as const }] },
      ],
    };
    assert.throws(
      () => commitRequest(ident, base, respec),
      /cold\.trades: the change alters the partition spec, which the REST commit does not express/,
    );
    assert.throws(() => commitRequest(ident, base, { ...base, location: 's3://elsewhere' }), /the table location/);
  });
});

describe('answers', () => {
  it('a LoadTableResult keeps 64-bit ids exact and our summary properties', () => {
    const text = `{"metadata-location":"s3://b/m/00001-x.metadata.json","config":{"k":"v"},"metadata":{"format-version":2,"table-uuid":"u","location":"s3://b","last-sequence-number":1,"last-updated-ms":5,"last-column-id":2,"schemas":[{"type":"struct","schema-id":0,"fields":[]}],"current-schema-id":0,"partition-specs":[{"spec-id":0,"fields":[]}],"default-spec-id":0,"last-partition-id":999,"sort-orders":[{"order-id":0,"fields":[]}],"default-sort-order-id":0,"properties":{},"current-snapshot-id":9007199254740993,"refs":{"main":{"snapshot-id":9007199254740993,"type":"branch"}},"snapshots":[{"snapshot-id":9007199254740993,"sequence-number":1,"timestamp-ms":5,"manifest-list":"s3://b/l.avro","summary":{"operation":"append","offload.run-id":"r1"},"schema-id":0}]}}`;
    const { table: t, config } = tableFromResponse(ident, responseBody(text, 'test'));
    assert.equal(t.metadataLocation, 's3://b/m/00001-x.metadata.json');
    assert.equal(t.metadata['current-snapshot-id'], BIG_ID);
    assert.equal(t.metadata.snapshots[0]['snapshot-id'], BIG_ID);
    assert.equal(t.metadata.snapshots[0].summary['offload.run-id'], 'r1');
    assert.deepEqual(config, { k: 'v' });
    assert.throws(() => tableFromResponse(ident, { metadata: {} }), /has no metadata-location/);
  });

  it('the CreateTableRequest asks for format version 2 and passes location and properties', () => {
    assert.deepEqual(
      createTableBody('t', { schema: SCHEMA, spec: { 'spec-id': 0, fields: [] }, location: 's3://b/t', properties: { a: 'b' } }),
      {
        name: 't',
        location: 's3://b/t',
        schema: SCHEMA,
        'partition-spec': { 'spec-id': 0, fields: [] },
        'stage-create': false,
        properties: { 'format-version': '2', a: 'b' },
      },
    );
  });
});

describe('error statuses', () => {
  const commit: CatalogOperation = { op: 'commit', ident, expected: 's3://b/m/00001.metadata.json' };
  const err = (status: number, type: string | null, operation: CatalogOperation) =>
    errorForStatus(status, type ? { error: { message: 'the server says', type, code: status } } : null, operation, 'https://cat');

  it('commit: 409 is a conflict (nothing applied), 5xx an unknown outcome, 4xx a refusal, 401/403 access denied', () => {
    const conflict = err(409, 'CommitFailedException', commit);
    assert.ok(conflict instanceof CommitConflict);
    assert.equal(conflict.exitCode, ExitCode.conflict);
    assert.equal(
      conflict.message,
      'commit conflict on cold.trades: expected metadata s3://b/m/00001.metadata.json, found (none) (the catalog answered 409 CommitFailedException: the server says)',
    );
    for (const status of [500, 502, 503, 504])
      assert.ok(err(status, 'CommitStateUnknownException', commit) instanceof CommitOutcomeUnknown, String(status));
    const rejected = err(400, 'ValidationException', commit);
    assert.ok(rejected instanceof CatalogError && rejected.reason === 'invalid');
    assert.match(rejected.message, /nothing was applied/);
    assert.ok(err(404, 'NoSuchTableException', commit) instanceof CatalogError);
    const denied = err(403, 'ForbiddenException', commit);
    assert.ok(denied instanceof CatalogAccessDenied);
    assert.equal(denied.exitCode, ExitCode.config);
  });

  it("elsewhere: 404 and 409 become the JDBC catalog's reasons, 5xx/429 unavailable", () => {
    const reason = (e: Error) => (e instanceof CatalogError ? e.reason : e.constructor.name);
    assert.equal(reason(err(404, 'NoSuchTableException', { op: 'load-table', ident })), 'no-such-table');
    assert.equal(reason(err(404, 'NoSuchNamespaceException', { op: 'load-table', ident })), 'no-such-namespace');
    assert.equal(reason(err(404, null, { op: 'list-tables', namespace: 'cold' })), 'no-such-namespace');
    assert.equal(reason(err(409, 'AlreadyExistsException', { op: 'create-namespace', namespace: 'cold' })), 'namespace-exists');
    assert.equal(reason(err(409, 'AlreadyExistsException', { op: 'create-table', ident })), 'table-exists');
    assert.equal(reason(err(400, 'NamespaceNotEmptyException', { op: 'drop-namespace', namespace: 'cold' })), 'namespace-not-empty');
    assert.match(err(404, null, { op: 'config' }).message, /has no route for config .*without \/v1/);
    const unavailable = err(503, null, { op: 'load-table', ident });
    assert.ok(unavailable instanceof CatalogUnavailable);
    assert.equal(unavailable.exitCode, ExitCode.unavailable);
    assert.equal(reason(err(429, null, { op: 'list-namespaces' })), 'CatalogUnavailable');
  });
});

describe('OAuth2 tokens', () => {
  const oauth = { kind: 'oauth2' as const, clientId: 'root', clientSecret: 'sh-secret', scope: 'PRINCIPAL_ROLE:ALL', tokenUri: null };

  it('the client-credentials form; renewal at 10% of the lifetime left, at most 5 minutes before expiry; JWT exp', () => {
    assert.equal(
      tokenRequestBody(oauth).toString(),
      'grant_type=client_credentials&client_id=root&client_secret=sh-secret&scope=PRINCIPAL_ROLE%3AALL',
    );
    assert.equal(
      tokenRequestBody({ ...oauth, clientId: null }).toString(),
      'grant_type=client_credentials&client_secret=sh-secret&scope=PRINCIPAL_ROLE%3AALL',
    );
    assert.equal(renewalTime(0, 3_600_000), 3_300_000);
    assert.equal(renewalTime(0, 60_000), 54_000);
    const jwt = `h.${Buffer.from(JSON.stringify({ exp: 1_800_000_000 })).toString('base64url')}.s`;
    assert.equal(jwtExpiry(jwt), 1_800_000_000);
    assert.equal(jwtExpiry('opaque-token'), null);
  });

  function tokenEndpoint(answers: Array<{ status: number; body: unknown }>): { fetch: typeof fetch; calls: string[] } {
    const calls: string[] = [];
    const scripted: typeof fetch = async (input, init) => {
      calls.push(`${String(input)} ${String(init?.body)}`);
      const a = answers.shift() ?? { status: 500, body: {} };
      return new Response(JSON.stringify(a.body), { status: a.status });
    };
    return { fetch: scripted, calls };
  }

  it('fetches once for concurrent requests, reuses the token, and renews it when its time comes', async () => {
    let now = 0;
    const endpoint = tokenEndpoint([
      { status: 200, body: { access_token: 'a1', token_type: 'bearer', expires_in: 100 } },
      { status: 200, body: { access_token: 'a2', token_type: 'bearer', expires_in: 100 } },
    ]);
    const creds = credentialsFor(oauth, { catalogUri: 'https://cat', fetch: endpoint.fetch, now: () => now, timeoutMs: 1000 });
    assert.deepEqual(await Promise.all([creds.authorization(), creds.authorization()]), ['Bearer a1', 'Bearer a1']);
    assert.equal(endpoint.calls.length, 1);
    assert.match(endpoint.calls[0], /^https:\/\/cat\/v1\/oauth\/tokens grant_type=client_credentials/);
    now = 89_999;
    assert.equal(await creds.authorization(), 'Bearer a1');
    now = 90_000;
    assert.equal(await creds.authorization(), 'Bearer a2');
    assert.deepEqual(creds.secrets(), ['sh-secret', 'a1', 'a2']);
  });

  it('a refusal is CatalogAccessDenied, a 5xx CatalogUnavailable; neither shows the secret', async () => {
    const refused = credentialsFor(oauth, {
      catalogUri: 'https://cat',
      fetch: tokenEndpoint([{ status: 401, body: { error: 'invalid_client' } }]).fetch,
      now: Date.now,
      timeoutMs: 1000,
    });
    await assert.rejects(refused.authorization(), (e: unknown) => {
      assert.ok(e instanceof CatalogAccessDenied);
      assert.equal(
        e.message,
        'the token endpoint https://cat/v1/oauth/tokens refused the client credentials (401 invalid_client); check OFFLOAD_CATALOG_CREDENTIAL and OFFLOAD_CATALOG_SCOPE',
      );
      return true;
    });
    const down = credentialsFor(oauth, {
      catalogUri: 'https://cat',
      fetch: tokenEndpoint([{ status: 503, body: {} }]).fetch,
      now: Date.now,
      timeoutMs: 1000,
    });
    await assert.rejects(down.authorization(), (e: unknown) => e instanceof CatalogUnavailable && !e.message.includes('sh-secret'));
  });
});

describe('requests', () => {
  type Step = { status: number; body?: unknown } | { error: string };
  function scripted(steps: Step[]): { fetch: typeof fetch; calls: Array<{ method: string; authorization: string | null }> } {
    const calls: Array<{ method: string; authorization: string | null }> = [];
    const f: typeof fetch = async (_input, init) => {
      calls.push({ method: init?.method ?? 'GET', authorization: new Headers(init?.headers).get('authorization') });
      const s = steps.shift() ?? { status: 500 };
      if ('error' in s)
        throw Object.assign(new TypeError('fetch failed'), {
          cause: Object.assign(new Error(`${s.error} 127.0.0.1:1`), { code: s.error }),
        });
      return new Response(s.body === undefined ? '' : JSON.stringify(s.body), { status: s.status });
    };
    return { fetch: f, calls };
  }
  const none = credentialsFor({ kind: 'none' }, { catalogUri: 'https://cat', fetch, now: Date.now, timeoutMs: 1000 });
  const http = (f: typeof fetch, credentials = none) =>
    new CatalogHttp('https://cat', {
      credentials,
      fetch: f,
      timeoutMs: 1000,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
      sleep: async () => undefined,
    });
  const commit: CatalogOperation = { op: 'commit', ident, expected: 's3://b/m/1.json' };

  it('reads are retried on 5xx and dropped connections; a commit never is', async () => {
    const reads = scripted([{ status: 503 }, { error: 'ECONNRESET' }, { status: 200, body: { namespaces: [] } }]);
    assert.deepEqual(await http(reads.fetch).send('GET', 'https://cat/v1/namespaces', { op: 'list-namespaces' }), { namespaces: [] });
    assert.equal(reads.calls.length, 3);
    const commits = scripted([{ status: 503 }, { status: 200, body: {} }]);
    await assert.rejects(http(commits.fetch).send('POST', 'https://cat/v1/x', commit, {}), CommitOutcomeUnknown);
    assert.equal(commits.calls.length, 1);
  });

  it('a commit whose connection broke is of unknown outcome; one that could not connect was not sent', async () => {
    await assert.rejects(http(scripted([{ error: 'ECONNRESET' }]).fetch).send('POST', 'https://cat/v1/x', commit, {}), (e: unknown) => {
      assert.ok(e instanceof CommitOutcomeUnknown);
      assert.equal(
        e.message,
        'commit to cold.trades sent, outcome unknown (ECONNRESET 127.0.0.1:1); reload the table to see whether it was applied',
      );
      return true;
    });
    await assert.rejects(http(scripted([{ error: 'ECONNREFUSED' }]).fetch).send('POST', 'https://cat/v1/x', commit, {}), (e: unknown) => {
      assert.ok(e instanceof CatalogUnavailable);
      assert.match(
        e.message,
        /^cannot reach the Iceberg REST catalog at https:\/\/cat \(commit cold\.trades: ECONNREFUSED 127\.0\.0\.1:1\)/,
      );
      return true;
    });
    assert.equal(isNeverSent({ cause: { code: 'ENOTFOUND' } }), true);
    assert.equal(isNeverSent({ cause: { code: 'UND_ERR_SOCKET' } }), false);
    assert.equal(transportDetail(Object.assign(new Error('x'), { name: 'TimeoutError' })), 'timed out');
  });

  it('a 401 or 419 gets one new token and one retry (also for a commit: the server did nothing); a second 401 is access denied', async () => {
    let issued = 0;
    const creds = {
      authorization: async () => `Bearer t${issued}`,
      renew: async () => {
        issued++;
        return true;
      },
      adoptServerTokenEndpoint: () => undefined,
      secrets: () => [],
    };
    const once = scripted([{ status: 401 }, { status: 200, body: { ok: true } }]);
    assert.deepEqual(await http(once.fetch, creds).send('POST', 'https://cat/v1/x', commit, {}), { ok: true });
    assert.deepEqual(
      once.calls.map((c) => c.authorization),
      ['Bearer t0', 'Bearer t1'],
    );
    await assert.rejects(
      http(scripted([{ status: 401 }, { status: 401 }]).fetch, creds).send('GET', 'https://cat/v1/config', { op: 'config' }),
      CatalogAccessDenied,
    );
    const expired = scripted([{ status: 419 }, { status: 200, body: {} }]);
    await http(expired.fetch, creds).send('GET', 'https://cat/v1/config', { op: 'config' });
    assert.equal(expired.calls.length, 2, '419 (token expired) renews too');
  });

  it('secrets a server echoes are scrubbed from the error', async () => {
    const bearer = credentialsFor(
      { kind: 'bearer', token: 'tok-abc-123' },
      { catalogUri: 'https://cat', fetch, now: Date.now, timeoutMs: 1000 },
    );
    const echo = scripted([
      { status: 400, body: { error: { message: 'bad header Bearer tok-abc-123', type: 'BadRequestException', code: 400 } } },
    ]);
    await assert.rejects(http(echo.fetch, bearer).send('GET', 'https://cat/v1/namespaces', { op: 'list-namespaces' }), (e: unknown) => {
      assert.ok(e instanceof CatalogError);
      assert.equal(e.message, 'the REST catalog at https://cat rejected list-namespaces (400 BadRequestException: bad header Bearer ***)');
      return true;
    });
  });
});

describe('ensureNamespaceIn', () => {
  /** A catalog whose namespace another client creates between our check and our create, answered as `failure`. */
  function racing(failure: Error) {
    let exists = false;
    return {
      namespaceExists: async () => exists,
      createNamespace: async () => {
        exists = true; // the other client's create landed first
        throw failure;
      },
    };
  }

  it('takes a namespace another client created meanwhile, even when the server answers 500 for it', async () => {
    const serverError = new CatalogUnavailable('http://cat', 'create-namespace answered 500 UncheckedSQLException: duplicate key');
    assert.equal(await ensureNamespaceIn(racing(serverError), 'cold', {}), false);
  });

  it('passes on a failure when the namespace still does not exist', async () => {
    const down = new CatalogUnavailable('http://cat', 'create-namespace answered 500 internal error');
    const catalog = { namespaceExists: async () => false, createNamespace: async () => Promise.reject(down) };
    await assert.rejects(ensureNamespaceIn(catalog, 'cold', {}), (e) => e === down);
  });
});
