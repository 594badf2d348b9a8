// How requests to the REST catalog authenticate: nothing, a static bearer token, or OAuth2 client
// credentials (RFC 6749 §4.4) exchanged at the token endpoint for a token that is renewed before it
// expires (by `expires_in`, else the JWT's `exp`) and again after a 401. Tokens and secrets stay here;
// they are never part of an error message.
import type { RestCatalogAuth } from '../config/catalog.js';
import { redactUrl } from '../config/redact.js';
import { CatalogAccessDenied, CatalogUnavailable, transportDetail } from './rest-protocol.js';

export interface CatalogCredentials {
  /** The Authorization header value for the next request, or null (no authentication). */
  authorization(): Promise<string | null>;
  /** After a 401: gets a new token if it can. Returns whether a retry may succeed. */
  renew(): Promise<boolean>;
  /** The token endpoint a server named in its config (`oauth2-server-uri`), used unless one was configured. */
  adoptServerTokenEndpoint(uri: string): void;
  /** Every secret value in play (client secret, tokens issued), for scrubbing text before it is shown. */
  secrets(): string[];
}

export interface CredentialsOptions {
  /** The catalog's base URI: the token endpoint defaults to `{uri}/v1/oauth/tokens`. */
  catalogUri: string;
  fetch: typeof fetch;
  now: () => number;
  timeoutMs: number;
}

export function credentialsFor(auth: RestCatalogAuth, o: CredentialsOptions): CatalogCredentials {
  switch (auth.kind) {
    case 'none':
      return { authorization: async () => null, renew: async () => false, adoptServerTokenEndpoint: () => undefined, secrets: () => [] };
    case 'bearer':
      return {
        authorization: async () => `Bearer ${auth.token}`,
        renew: async () => false,
        adoptServerTokenEndpoint: () => undefined,
        secrets: () => [auth.token],
      };
    case 'oauth2':
      return new ClientCredentials(auth, o);
  }
}

/** A token is renewed when this share of its lifetime is left (at most 5 minutes before it expires). */
const RENEW_AT_REMAINING_SHARE = 0.1;
const MAX_RENEW_MARGIN_MS = 5 * 60_000;

interface IssuedToken {
  value: string;
  /** ms since the epoch, or null when neither `expires_in` nor a JWT `exp` says. */
  expiresAt: number | null;
  renewAt: number | null;
}

/** The `exp` claim of a JWT access token (seconds since the epoch), or null when the token is opaque. */
export function jwtExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp : null;
  } catch {
    return null;
  }
}

/** When to renew a token issued at `issuedAt` that expires at `expiresAt`. */
export function renewalTime(issuedAt: number, expiresAt: number): number {
  const lifetime = Math.max(0, expiresAt - issuedAt);
  return expiresAt - Math.min(MAX_RENEW_MARGIN_MS, lifetime * RENEW_AT_REMAINING_SHARE);
}

/** The form the token endpoint is sent (client_secret_post, as Java's and pyiceberg's clients send it). */
export function tokenRequestBody(auth: Extract<RestCatalogAuth, { kind: 'oauth2' }>): URLSearchParams {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (auth.clientId !== null) form.set('client_id', auth.clientId);
  form.set('client_secret', auth.clientSecret);
  form.set('scope', auth.scope);
  return form;
}

class ClientCredentials implements CatalogCredentials {
  private token: IssuedToken | null = null;
  private pending: Promise<IssuedToken> | null = null;
  private serverTokenUri: string | null = null;
  private readonly issued: string[] = [];

  constructor(
    private readonly auth: Extract<RestCatalogAuth, { kind: 'oauth2' }>,
    private readonly o: CredentialsOptions,
  ) {}

  private tokenUri(): string {
    return this.auth.tokenUri ?? this.serverTokenUri ?? `${this.o.catalogUri}/v1/oauth/tokens`;
  }

  adoptServerTokenEndpoint(uri: string): void {
    this.serverTokenUri = uri;
  }

  secrets(): string[] {
    return [this.auth.clientSecret, ...this.issued];
  }

  async authorization(): Promise<string> {
    const t = this.token;
    if (t && (t.renewAt === null || this.o.now() < t.renewAt)) return `Bearer ${t.value}`;
    return `Bearer ${(await this.fetchToken()).value}`;
  }

  async renew(): Promise<boolean> {
    this.token = null;
    await this.fetchToken();
    return true;
  }

  /** One exchange at a time: concurrent requests wait for the same token. */
  private fetchToken(): Promise<IssuedToken> {
    this.pending ??= this.exchange().finally(() => (this.pending = null));
    return this.pending;
  }

  private async exchange(): Promise<IssuedToken> {
    const uri = this.tokenUri();
    const shown = redactUrl(uri);
    const issuedAt = this.o.now();
    let res: Response;
    try {
      res = await this.o.fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: tokenRequestBody(this.auth).toString(),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (err) {
      throw new CatalogUnavailable(shown, `token endpoint: ${transportDetail(err)}`, { cause: err });
    }
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      /* described below by status */
    }
    if (!res.ok) {
      // RFC 6749 §5.2: {"error": "invalid_client", "error_description": …}; never echo the request.
      const code =
        typeof body.error === 'string'
          ? body.error
          : typeof (body.error as { type?: unknown })?.type === 'string'
            ? (body.error as { type: string }).type
            : '';
      if (res.status >= 500 || res.status === 429)
        throw new CatalogUnavailable(shown, `token endpoint answered ${res.status}${code ? ` ${code}` : ''}`);
      throw new CatalogAccessDenied(
        `the token endpoint ${shown} refused the client credentials (${res.status}${code ? ` ${code}` : ''}); check OFFLOAD_CATALOG_CREDENTIAL and OFFLOAD_CATALOG_SCOPE`,
      );
    }
    const value = body.access_token;
    if (typeof value !== 'string' || value === '')
      throw new CatalogAccessDenied(`the token endpoint ${shown} answered without an access_token`);
    this.issued.push(value);
    if (this.issued.length > 8) this.issued.shift();
    const expiresIn =
      typeof body.expires_in === 'number' ? body.expires_in : typeof body.expires_in === 'string' ? Number(body.expires_in) : NaN;
    const jwtExp = jwtExpiry(value);
    const expiresAt = Number.isFinite(expiresIn) && expiresIn > 0 ? issuedAt + expiresIn * 1000 : jwtExp !== null ? jwtExp * 1000 : null;
    this.token = { value, expiresAt, renewAt: expiresAt === null ? null : renewalTime(issuedAt, expiresAt) };
    return this.token;
  }
}
