// Choosing the catalog from the environment: jdbc by default, rest by OFFLOAD_CATALOG=rest or a URI;
// every bad value is a ConfigError naming the variable, and no message or description shows a secret.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { catalogFromEnv, catalogSecrets, describeCatalog, type CatalogSettings } from '../../src/config/catalog.js';
import { secretsOf } from '../../src/config/env.js';
import { ConfigError, ExitCode } from '../../src/core/errors.js';

const URI = 'https://polaris.example.com/api/catalog';

function rejection(env: Record<string, string>): string {
  try {
    catalogFromEnv(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.config);
    return err.message;
  }
  assert.fail(`accepted: ${JSON.stringify(env)}`);
}

describe('OFFLOAD_CATALOG', () => {
  it('is the JDBC catalog when nothing is set, or jdbc is asked for', () => {
    assert.deepEqual(catalogFromEnv({}), { kind: 'jdbc' });
    assert.deepEqual(catalogFromEnv({ OFFLOAD_CATALOG: 'JDBC' }), { kind: 'jdbc' });
  });

  it('is a REST catalog when asked for, or when only OFFLOAD_CATALOG_URI is set (trailing slash dropped)', () => {
    const want: CatalogSettings = { kind: 'rest', uri: URI, warehouse: null, auth: { kind: 'none' } };
    assert.deepEqual(catalogFromEnv({ OFFLOAD_CATALOG: 'rest', OFFLOAD_CATALOG_URI: `${URI}/` }), want);
    assert.deepEqual(catalogFromEnv({ OFFLOAD_CATALOG_URI: URI }), want);
    assert.deepEqual(catalogFromEnv({ OFFLOAD_CATALOG_URI: 'http://127.0.0.1:20510', OFFLOAD_CATALOG_WAREHOUSE: 'analytics' }), {
      kind: 'rest',
      uri: 'http://127.0.0.1:20510',
      warehouse: 'analytics',
      auth: { kind: 'none' },
    });
  });

  it('refuses an unknown kind, rest without a URI, and REST settings next to jdbc', () => {
    assert.match(rejection({ OFFLOAD_CATALOG: 'glue' }), /^OFFLOAD_CATALOG: "glue" is not a catalog kind \(expected jdbc or rest\)$/);
    assert.match(rejection({ OFFLOAD_CATALOG: 'rest' }), /^OFFLOAD_CATALOG=rest needs OFFLOAD_CATALOG_URI/);
    assert.match(
      rejection({ OFFLOAD_CATALOG: 'jdbc', OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_TOKEN: 't0ken' }),
      /^OFFLOAD_CATALOG=jdbc, but OFFLOAD_CATALOG_URI, OFFLOAD_CATALOG_TOKEN are set \(REST catalog settings\)/,
    );
  });

  it('refuses URIs that are not http(s), carry credentials or a query, or end in /v1', () => {
    assert.match(rejection({ OFFLOAD_CATALOG_URI: 'not a url' }), /^OFFLOAD_CATALOG_URI: not a URL/);
    assert.match(rejection({ OFFLOAD_CATALOG_URI: 'thrift://hms:9083' }), /protocol thrift: is not supported/);
    const withPassword = rejection({ OFFLOAD_CATALOG_URI: 'https://user:hunter22@polaris.example.com/api/catalog' });
    assert.match(withPassword, /must not carry credentials/);
    assert.doesNotMatch(withPassword, /hunter22/);
    assert.match(rejection({ OFFLOAD_CATALOG_URI: `${URI}?warehouse=x` }), /must not carry a query/);
    assert.match(rejection({ OFFLOAD_CATALOG_URI: `${URI}/v1/` }), /without the trailing \/v1/);
  });
});

describe('REST catalog authentication', () => {
  it('OAuth2 client credentials: client_id:client_secret, scope "catalog" unless given, the token endpoint when given', () => {
    const s = catalogFromEnv({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_CREDENTIAL: 'root:s3cr:et' });
    assert.deepEqual(s.kind === 'rest' && s.auth, {
      kind: 'oauth2',
      clientId: 'root',
      clientSecret: 's3cr:et',
      scope: 'catalog',
      tokenUri: null,
    });
    const polaris = catalogFromEnv({
      OFFLOAD_CATALOG_URI: URI,
      OFFLOAD_CATALOG_CREDENTIAL: 'root:secret',
      OFFLOAD_CATALOG_SCOPE: 'PRINCIPAL_ROLE:ALL',
      OFFLOAD_CATALOG_OAUTH2_URI: 'https://idp.example.com/oauth/token',
    });
    assert.deepEqual(polaris.kind === 'rest' && polaris.auth, {
      kind: 'oauth2',
      clientId: 'root',
      clientSecret: 'secret',
      scope: 'PRINCIPAL_ROLE:ALL',
      tokenUri: 'https://idp.example.com/oauth/token',
    });
    const bare = catalogFromEnv({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_CREDENTIAL: 'just-a-secret' });
    assert.deepEqual(bare.kind === 'rest' && bare.auth, {
      kind: 'oauth2',
      clientId: null,
      clientSecret: 'just-a-secret',
      scope: 'catalog',
      tokenUri: null,
    });
  });

  it('a bearer token as it is', () => {
    const s = catalogFromEnv({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_TOKEN: 'eyJhbGciOi.x.y' });
    assert.deepEqual(s.kind === 'rest' && s.auth, { kind: 'bearer', token: 'eyJhbGciOi.x.y' });
  });

  it('refuses both at once, empty halves, a "Bearer " prefix, and scope or token endpoint without credentials — never echoing a secret', () => {
    const both = rejection({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_CREDENTIAL: 'id:topsecret', OFFLOAD_CATALOG_TOKEN: 'tok-value' });
    assert.match(both, /are both set: give one/);
    assert.doesNotMatch(both, /topsecret|tok-value/);
    assert.match(
      rejection({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_CREDENTIAL: 'id:' }),
      /expected client_id:client_secret \(one part is empty\)/,
    );
    assert.match(rejection({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_CREDENTIAL: ':secret' }), /one part is empty/);
    const prefixed = rejection({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_TOKEN: 'Bearer abc123' });
    assert.match(prefixed, /without "Bearer "/);
    assert.doesNotMatch(prefixed, /abc123/);
    assert.match(
      rejection({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_TOKEN: 't', OFFLOAD_CATALOG_SCOPE: 'x' }),
      /apply to OFFLOAD_CATALOG_CREDENTIAL, not to a bearer token/,
    );
    assert.match(rejection({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_SCOPE: 'x' }), /OFFLOAD_CATALOG_CREDENTIAL is not/);
    assert.match(
      rejection({ OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_CREDENTIAL: 'a:b', OFFLOAD_CATALOG_OAUTH2_URI: 'ftp://x' }),
      /^OFFLOAD_CATALOG_OAUTH2_URI: protocol ftp:/,
    );
  });

  it('descriptions name the catalog and how it authenticates, never a secret; the secrets are known for scrubbing', () => {
    const env = {
      OFFLOAD_CATALOG_URI: URI,
      OFFLOAD_CATALOG_WAREHOUSE: 'prod',
      OFFLOAD_CATALOG_CREDENTIAL: 'root:very-secret',
      OFFLOAD_CATALOG_SCOPE: 'PRINCIPAL_ROLE:ALL',
    };
    const s = catalogFromEnv(env);
    assert.equal(
      describeCatalog(s),
      `REST catalog ${URI} (warehouse prod), OAuth2 client credentials (client root), scope PRINCIPAL_ROLE:ALL`,
    );
    assert.deepEqual(catalogSecrets(s), ['very-secret']);
    assert.ok(secretsOf(env).includes('very-secret'));
    const bearer = { OFFLOAD_CATALOG_URI: URI, OFFLOAD_CATALOG_TOKEN: 'tok-123' };
    assert.equal(describeCatalog(catalogFromEnv(bearer)), `REST catalog ${URI}, bearer token`);
    assert.ok(secretsOf(bearer).includes('tok-123'));
    assert.equal(describeCatalog({ kind: 'jdbc' }), 'JDBC catalog in the state database');
  });
});
