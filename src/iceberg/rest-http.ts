// One request to the REST catalog: credentials, a timeout, retries for reads, and every failure turned into
// the error its caller acts on. The line that matters for exactly-once: a commit whose request may have
// reached the server and whose answer we did not read is CommitOutcomeUnknown, never "failed" and never
// retried here; only a request that provably never left (no connection) is "not applied".
import { scrubSecrets } from '../config/redact.js';
import { OffloadError } from '../core/errors.js';
import { backoffDelayMs, type RetryPolicy } from './io.js';
import type { CatalogCredentials } from './rest-auth.js';
import {
  CatalogUnavailable,
  CommitOutcomeUnknown,
  errorForStatus,
  requestBody,
  responseBody,
  transportDetail,
  type CatalogOperation,
} from './rest-protocol.js';
import { formatIdentifier } from './types.js';

export interface CatalogHttpOptions {
  credentials: CatalogCredentials;
  fetch: typeof fetch;
  /** Per request, connection to last byte of the answer. */
  timeoutMs: number;
  /** For reads (GET) only: writes are never repeated blindly. */
  retry: RetryPolicy;
  /** Extra request headers (e.g. a User-Agent). */
  headers?: Record<string, string>;
  sleep?: (ms: number) => Promise<void>;
}

/** Codes meaning no connection was made, so the request never reached the server. */
const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export function isNeverSent(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return code !== undefined && NEVER_SENT_CODES.has(code);
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

const operationLabel = (operation: CatalogOperation): string =>
  'ident' in operation
    ? `${operation.op} ${formatIdentifier(operation.ident)}`
    : 'namespace' in operation
      ? `${operation.op} ${operation.namespace}`
      : operation.op;

export class CatalogHttp {
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    /** The catalog's base URI, for messages (it carries no credentials: config/catalog.ts refuses them). */
    private readonly uri: string,
    private readonly o: CatalogHttpOptions,
  ) {
    this.sleep = o.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Sends one request and returns the answer's JSON (lossless; null for an empty answer). */
  async send(method: 'GET' | 'POST' | 'DELETE', url: string, operation: CatalogOperation, body?: unknown): Promise<unknown> {
    try {
      return await this.attempt(method, url, operation, body);
    } catch (err) {
      if (err instanceof OffloadError) err.message = scrubSecrets(err.message, this.o.credentials.secrets());
      throw err;
    }
  }

  private async attempt(method: 'GET' | 'POST' | 'DELETE', url: string, operation: CatalogOperation, body: unknown): Promise<unknown> {
    // A commit's table, for CommitOutcomeUnknown; null for every other request.
    const committing = operation.op === 'commit' ? formatIdentifier(operation.ident) : null;
    const text = body === undefined ? undefined : requestBody(body);
    let renewed = false;
    for (let attempt = 1; ; attempt++) {
      const retry = async (): Promise<boolean> => {
        if (method !== 'GET' || attempt >= this.o.retry.maxAttempts) return false;
        await this.sleep(backoffDelayMs(attempt, this.o.retry));
        return true;
      };
      const headers: Record<string, string> = { accept: 'application/json', ...this.o.headers };
      if (text !== undefined) headers['content-type'] = 'application/json';
      const authorization = await this.o.credentials.authorization();
      if (authorization) headers.authorization = authorization;

      let status: number;
      let answer: string;
      try {
        const res = await this.o.fetch(url, { method, headers, body: text, signal: AbortSignal.timeout(this.o.timeoutMs) });
        status = res.status;
        answer = await res.text();
      } catch (err) {
        if (committing !== null && !isNeverSent(err)) throw new CommitOutcomeUnknown(committing, transportDetail(err), { cause: err });
        if (await retry()) continue;
        throw new CatalogUnavailable(this.uri, `${operationLabel(operation)}: ${transportDetail(err)}`, { cause: err });
      }

      if (status >= 200 && status < 300) {
        try {
          return responseBody(answer, `${operationLabel(operation)} answer`);
        } catch (err) {
          if (committing !== null) throw new CommitOutcomeUnknown(committing, `answer ${status} unreadable`, { cause: err });
          throw err;
        }
      }
      // 401 (419: token expired) means the server did nothing with the request: a commit too may be sent again with a new token.
      if ((status === 401 || status === 419) && !renewed) {
        renewed = true;
        if (await this.o.credentials.renew()) continue;
      }
      if (RETRYABLE_STATUS.has(status) && (await retry())) continue;
      let parsed: unknown = null;
      try {
        parsed = responseBody(answer, `${operationLabel(operation)} error answer`);
      } catch {
        /* not JSON: described by its status alone */
      }
      throw errorForStatus(status, parsed, operation, this.uri);
    }
  }
}
