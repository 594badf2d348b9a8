// Which Iceberg catalog the offload commits to, from the environment: the JDBC catalog in the state
// database (the default), or an Iceberg REST catalog (Apache Polaris, Snowflake Open Catalog, Glue's and
// S3 Tables' REST endpoints, Unity, Nessie, Lakekeeper, Gravitino …). Bad values are ConfigErrors that
// name the variable and what was expected; secret values never appear in a message.
import { ConfigError } from '../core/errors.js';
import type { Env } from './env.js';

/** How requests to a REST catalog authenticate. */
export type RestCatalogAuth =
  | { kind: 'none' }
  /** A token issued elsewhere, sent as it is (`Authorization: Bearer …`). */
  | { kind: 'bearer'; token: string }
  /** OAuth2 client credentials, exchanged for short-lived tokens at `tokenUri`. */
  | { kind: 'oauth2'; clientId: string | null; clientSecret: string; scope: string; tokenUri: string | null };

export interface RestCatalogSettings {
  kind: 'rest';
  /** The catalog's base URI, without `/v1` and without a trailing slash. */
  uri: string;
  /** Sent to `GET /v1/config?warehouse=…`; many servers pick the catalog by it. */
  warehouse: string | null;
  auth: RestCatalogAuth;
}

export interface JdbcCatalogSettings {
  kind: 'jdbc';
}

export type CatalogSettings = JdbcCatalogSettings | RestCatalogSettings;

/** Java's and pyiceberg's default OAuth2 scope. Polaris wants `PRINCIPAL_ROLE:ALL`. */
export const DEFAULT_OAUTH2_SCOPE = 'catalog';

function httpUrl(name: string, raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`${name}: not a URL (expected http(s)://host[:port][/path])`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConfigError(`${name}: protocol ${u.protocol} is not supported (expected http:// or https://)`);
  // Credentials in the URL would end up in logs and errors; they have variables of their own.
  if (u.username || u.password)
    throw new ConfigError(`${name}: must not carry credentials; use OFFLOAD_CATALOG_CREDENTIAL or OFFLOAD_CATALOG_TOKEN`);
  if (u.search || u.hash) throw new ConfigError(`${name}: must not carry a query or fragment`);
  return u;
}

function restUri(raw: string): string {
  const uri = httpUrl('OFFLOAD_CATALOG_URI', raw).toString().replace(/\/+$/, '');
  if (/\/v1$/.test(uri)) throw new ConfigError(`OFFLOAD_CATALOG_URI: give the catalog's base URI without the trailing /v1 (got ${uri})`);
  return uri;
}

/** `client_id:client_secret`, or a bare secret (as Java's and pyiceberg's `credential` property). */
function parseCredential(raw: string): { clientId: string | null; clientSecret: string } {
  const i = raw.indexOf(':');
  const clientId = i < 0 ? null : raw.slice(0, i);
  const clientSecret = i < 0 ? raw : raw.slice(i + 1);
  if (clientId === '' || clientSecret === '')
    throw new ConfigError('OFFLOAD_CATALOG_CREDENTIAL: expected client_id:client_secret (one part is empty)');
  return { clientId, clientSecret };
}

function restAuth(env: Env): RestCatalogAuth {
  const credential = env.OFFLOAD_CATALOG_CREDENTIAL || undefined;
  const token = env.OFFLOAD_CATALOG_TOKEN || undefined;
  const scope = env.OFFLOAD_CATALOG_SCOPE || undefined;
  const tokenUri = env.OFFLOAD_CATALOG_OAUTH2_URI || undefined;
  if (credential && token)
    throw new ConfigError(
      'OFFLOAD_CATALOG_CREDENTIAL and OFFLOAD_CATALOG_TOKEN are both set: give one (client credentials, or a bearer token)',
    );
  if (token) {
    if (scope || tokenUri)
      throw new ConfigError(
        'OFFLOAD_CATALOG_SCOPE and OFFLOAD_CATALOG_OAUTH2_URI apply to OFFLOAD_CATALOG_CREDENTIAL, not to a bearer token',
      );
    if (/\s/.test(token))
      throw new ConfigError('OFFLOAD_CATALOG_TOKEN: a bearer token cannot contain whitespace (give the token alone, without "Bearer ")');
    return { kind: 'bearer', token };
  }
  if (credential) {
    if (scope !== undefined && /[\r\n]/.test(scope)) throw new ConfigError('OFFLOAD_CATALOG_SCOPE: must be one line');
    return {
      kind: 'oauth2',
      ...parseCredential(credential),
      scope: scope ?? DEFAULT_OAUTH2_SCOPE,
      tokenUri: tokenUri ? httpUrl('OFFLOAD_CATALOG_OAUTH2_URI', tokenUri).toString() : null,
    };
  }
  if (scope || tokenUri)
    throw new ConfigError('OFFLOAD_CATALOG_SCOPE / OFFLOAD_CATALOG_OAUTH2_URI are set but OFFLOAD_CATALOG_CREDENTIAL is not');
  return { kind: 'none' };
}

/**
 * The catalog settings: OFFLOAD_CATALOG=jdbc|rest; unset means `rest` when OFFLOAD_CATALOG_URI is set,
 * else `jdbc`. REST: OFFLOAD_CATALOG_URI, OFFLOAD_CATALOG_WAREHOUSE, and OFFLOAD_CATALOG_CREDENTIAL
 * (+ OFFLOAD_CATALOG_SCOPE, OFFLOAD_CATALOG_OAUTH2_URI) or OFFLOAD_CATALOG_TOKEN.
 */
export function catalogFromEnv(env: Env): CatalogSettings {
  const kind = (env.OFFLOAD_CATALOG || (env.OFFLOAD_CATALOG_URI ? 'rest' : 'jdbc')).toLowerCase();
  const restOnly = [
    'OFFLOAD_CATALOG_URI',
    'OFFLOAD_CATALOG_WAREHOUSE',
    'OFFLOAD_CATALOG_CREDENTIAL',
    'OFFLOAD_CATALOG_TOKEN',
    'OFFLOAD_CATALOG_SCOPE',
    'OFFLOAD_CATALOG_OAUTH2_URI',
  ];
  if (kind === 'jdbc') {
    const stray = restOnly.filter((k) => env[k]);
    if (stray.length > 0)
      throw new ConfigError(
        `OFFLOAD_CATALOG=jdbc, but ${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set (REST catalog settings): set OFFLOAD_CATALOG=rest, or unset them`,
      );
    return { kind: 'jdbc' };
  }
  if (kind !== 'rest') throw new ConfigError(`OFFLOAD_CATALOG: "${env.OFFLOAD_CATALOG}" is not a catalog kind (expected jdbc or rest)`);
  if (!env.OFFLOAD_CATALOG_URI)
    throw new ConfigError(
      "OFFLOAD_CATALOG=rest needs OFFLOAD_CATALOG_URI (the REST catalog's base URI, e.g. https://polaris.example.com/api/catalog)",
    );
  return { kind: 'rest', uri: restUri(env.OFFLOAD_CATALOG_URI), warehouse: env.OFFLOAD_CATALOG_WAREHOUSE || null, auth: restAuth(env) };
}

/** The secret values of the settings, for scrubbing server messages before they are shown. */
export function catalogSecrets(settings: CatalogSettings): string[] {
  if (settings.kind !== 'rest') return [];
  const a = settings.auth;
  return a.kind === 'bearer' ? [a.token] : a.kind === 'oauth2' ? [a.clientSecret] : [];
}

/** The settings as a person may see them: URI, warehouse and how it authenticates, never a secret. */
export function describeCatalog(settings: CatalogSettings): string {
  if (settings.kind === 'jdbc') return 'JDBC catalog in the state database';
  const a = settings.auth;
  const auth =
    a.kind === 'bearer'
      ? 'bearer token'
      : a.kind === 'oauth2'
        ? `OAuth2 client credentials${a.clientId ? ` (client ${a.clientId})` : ''}, scope ${a.scope}`
        : 'no authentication';
  return `REST catalog ${settings.uri}${settings.warehouse ? ` (warehouse ${settings.warehouse})` : ''}, ${auth}`;
}
