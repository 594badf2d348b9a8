// The ClickHouse source: one HTTP client, the server's version and what it can do, its errors, and the
// small amount of introspection everything else builds on (columns, total rows). SQL text (sql.ts), window
// statistics (window.ts) and streaming extraction (extract/) live in their own files and use this one.
import { createClient, ClickHouseLogLevel, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { clickhouseFromEnv, processEnv, secretsOf, type ClickHouseConnection, type Env } from '../config/env.js';
import { redactUrl, scrubSecrets } from '../config/redact.js';
import { ConfigError, ExitCode, type ExitCodeName, OffloadError, ServiceRefused, ServiceUnavailable } from '../core/errors.js';
import { sqlValues, type SqlValues, type TableRef } from './sql.js';
import type { ColumnInfo } from './types.js';

// ─── Versions and capabilities ──────────────────────────────────────────────────────────────────────

/** What the connected server supports; derived from its version, never probed by trial and error. */
export interface ClickHouseCapabilities {
  version: string;
  /** `{name:Type}` placeholders (19.11+); without them values are typed literals we format ourselves. */
  queryParameters: boolean;
  dateTime64: boolean; // 20.1+
  parquetOutput: boolean; // 20.1+ (conservative)
  arrowOutput: boolean; // Arrow / ArrowStream, 20.8+ (conservative)
  mapType: boolean; // 21.8+
  boolType: boolean; // 21.12+
  /** LowCardinality is still experimental (18.x): `allow_experimental_low_cardinality_type` must be on. */
  lowCardinalityExperimental: boolean;
  /** `system.tables.total_rows` exists (20.8+, conservative); otherwise sum `system.parts`. */
  tablesTotalRows: boolean;
  /**
   * Rows can be extracted as `FORMAT Parquet` into DuckDB's read_parquet (extract/parquet.ts):
   * Parquet output of every mapped type (Map, Bool, LowCardinality, Nullable, nested arrays) and the output
   * settings we pin. 23.8+ (conservative: checked on the 26.9 engine); older servers take the CSV path.
   */
  parquetExtraction: boolean;
  /**
   * Rows are extracted as `FORMAT Native`, transcoded into a PLAIN Parquet file for DuckDB
   * (clickhouse/extract/native.ts): every version has Native; the default wherever measured fastest (all).
   */
  nativeExtraction: boolean;
}

function atLeast(v: readonly number[], major: number, minor: number): boolean {
  const [a = 0, b = 0] = v;
  return a > major || (a === major && b >= minor);
}

/** Capabilities of a server version such as `18.16.1` or `24.8.4.13`. Unparsable versions get the 18.16 set. */
export function capabilitiesOf(version: string): ClickHouseCapabilities {
  const v = /^(\d+)\.(\d+)/.exec(version.trim())?.slice(1).map(Number) ?? [18, 16];
  return {
    version,
    queryParameters: atLeast(v, 19, 11),
    dateTime64: atLeast(v, 20, 1),
    parquetOutput: atLeast(v, 20, 1),
    arrowOutput: atLeast(v, 20, 8),
    mapType: atLeast(v, 21, 8),
    boolType: atLeast(v, 21, 12),
    lowCardinalityExperimental: !atLeast(v, 19, 0),
    tablesTotalRows: atLeast(v, 20, 8),
    parquetExtraction: atLeast(v, 23, 8),
    nativeExtraction: true,
  };
}

// ─── Errors ─────────────────────────────────────────────────────────────────────────────────────────

// Server error codes that mean the configuration names something the server does not have: a table, a
// database or a column (UNKNOWN_TABLE, UNKNOWN_DATABASE, UNKNOWN_IDENTIFIER, NO_SUCH_COLUMN_IN_TABLE,
// THERE_IS_NO_COLUMN). A retry will not help; the configuration or the source must change.
const MISSING_OBJECT_CODES = new Set([60, 81, 47, 16, 8]);

/** A query the server rejected; `code` is ClickHouse's error code (e.g. 60 unknown table) when known. */
export class ClickHouseQueryError extends OffloadError {
  override readonly exitCode: number;
  constructor(
    readonly code: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    const kind: ExitCodeName = code !== undefined && MISSING_OBJECT_CODES.has(code) ? 'config' : 'failed';
    this.exitCode = ExitCode[kind];
  }
}

/**
 * ClickHouse error codes raised by a value in some row, not by the query or the server: the same rows fail
 * every time until they are changed at the source (a cast that overflows, text that does not parse, a
 * division by zero, a value out of its type's range).
 */
const ROW_VALUE_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  153, // ILLEGAL_DIVISION
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  407, // DECIMAL_OVERFLOW
  691, // UNKNOWN_ELEMENT_OF_ENUM
]);

/** Whether a failure is ClickHouse refusing a value in some row (see ROW_VALUE_CODES). */
export function isRowValueError(err: unknown): err is ClickHouseQueryError {
  return err instanceof ClickHouseQueryError && err.code !== undefined && ROW_VALUE_CODES.has(err.code);
}

/**
 * Code and first line of a server error. Against current servers the client parses the `(TYPE_NAME)` form:
 * the code is in `err.code` ('62') and the message no longer starts with `Code: 62`. On 18.16 the client
 * cannot parse the error, `code` is undefined: read `Code: NNN` from the message then.
 */
export function parseServerError(err: unknown): { code: number | undefined; message: string } {
  const raw = err instanceof Error ? err.message : String(err);
  const own = (err as { code?: unknown } | null)?.code;
  const fromMessage = /Code:\s*(\d+)/.exec(raw)?.[1];
  const code = typeof own === 'string' && /^\d+$/.test(own) ? Number(own) : fromMessage !== undefined ? Number(fromMessage) : undefined;
  const message = raw
    .replace(/^Code:\s*\d+,\s*e\.displayText\(\)\s*=\s*/, '')
    .replace(/^DB::Exception:\s*/, '')
    .replace(/,\s*e\.what\(\)\s*=\s*DB::Exception\s*$/, '')
    .replace(/\s*\(version [^)]*\)\s*$/, '')
    .trim();
  return { code, message };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
]);
const AUTH_CODES = new Set([192, 193, 194, 195, 516]); // unknown user, wrong password, required password, IP not allowed, auth failed

function networkCodeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  }
  const message = err instanceof Error ? err.message : '';
  if (/socket hang up|Timeout error|timed out/i.test(message)) return 'timeout';
  return undefined;
}

const NETWORK_DETAIL: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  ECONNABORTED: 'connection aborted',
  timeout: 'no answer in time',
};

// ─── The source ─────────────────────────────────────────────────────────────────────────────────────

export interface ClickHouseSourceOptions {
  /** Per-request timeout in ms (default 300 000: extraction queries may be long). */
  requestTimeoutMs?: number;
  /** Settings sent with every query. */
  settings?: ClickHouseSettings;
  /** Environment whose secrets are scrubbed from server messages (default: this process's). */
  env?: Env;
  /**
   * How rows are extracted: 'auto' (default) picks the fastest path the server has (Native);
   * 'native' / 'csv' / 'parquet' force one. Default from OFFLOAD_EXTRACT_FORMAT in `env`.
   */
  extractFormat?: ExtractFormat;
}

export type ExtractFormat = 'auto' | 'native' | 'csv' | 'parquet';

const EXTRACT_FORMATS: readonly ExtractFormat[] = ['auto', 'native', 'csv', 'parquet'];

/** OFFLOAD_EXTRACT_FORMAT's value; unset or empty is 'auto'. */
export function extractFormatFromEnv(env: Env): ExtractFormat {
  const v = env.OFFLOAD_EXTRACT_FORMAT?.trim().toLowerCase();
  if (!v) return 'auto';
  if (!(EXTRACT_FORMATS as readonly string[]).includes(v)) {
    throw new ConfigError(
      `OFFLOAD_EXTRACT_FORMAT: "${env.OFFLOAD_EXTRACT_FORMAT}" is not an extraction format (expected auto, native, csv or parquet)`,
    );
  }
  return v as ExtractFormat;
}

/** `http://user:***@host:port` for messages: the connection URL with the password replaced. */
export function displayUrl(conn: ClickHouseConnection): string {
  try {
    const u = new URL(conn.url);
    u.username = conn.username;
    if (conn.password) u.password = '***';
    return redactUrl(u.toString()).replace(/\/$/, '');
  } catch {
    return conn.url;
  }
}

/** Options of one statement. */
export interface StatementOptions {
  queryId?: string;
  settings?: ClickHouseSettings;
  /** Query parameters (`{name:Type}` in the SQL); from SqlValues.params. */
  params?: Record<string, string>;
}

function paramsOf(options: StatementOptions): { query_params?: Record<string, string> } {
  return options.params && Object.keys(options.params).length > 0 ? { query_params: options.params } : {};
}

export class ClickHouseSource {
  readonly client: ClickHouseClient;
  /** The server URL with the password redacted, for every message a person sees. */
  readonly url: string;
  readonly connection: ClickHouseConnection;
  /** The extraction format asked for ('auto': the best the server has, see extract/format.ts). */
  readonly extractFormat: ExtractFormat;
  private readonly secrets: string[];
  private capabilitiesPromise?: Promise<ClickHouseCapabilities>;

  constructor(conn: ClickHouseConnection, options: ClickHouseSourceOptions = {}) {
    this.connection = conn;
    this.url = displayUrl(conn);
    const env = options.env ?? processEnv();
    this.extractFormat = options.extractFormat ?? extractFormatFromEnv(env);
    this.secrets = [conn.password, ...secretsOf(env)].filter((s) => s.length > 0);
    this.client = createClient({
      url: conn.url,
      username: conn.username,
      password: conn.password,
      database: conn.database,
      request_timeout: options.requestTimeoutMs ?? 300_000,
      // 64-bit integers as JSON strings whatever the server's default (25.8 changed it to numbers): a
      // JSONEachRow row never loses digits. 18.16 has the setting too.
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1, ...options.settings },
      application: 'clickhouse-iceberg-offload',
      // Servers before 23.11 close idle connections after 3 s. A long synchronous stretch (generating or
      // encoding rows) delays the client's idle timers, and a socket reused after the server closed it
      // fails with EPIPE: stale sockets are dropped when taken, not only when a timer fires.
      keep_alive: { enabled: true, idle_socket_ttl: 1500, eagerly_destroy_stale_sockets: true },
      // The client would log every error it also throws; we report errors once, ourselves.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /** Runs `fn`, turning transport failures into ServiceUnavailable and server errors into ClickHouseQueryError. */
  async run<T>(fn: (client: ClickHouseClient) => Promise<T>, what?: string): Promise<T> {
    try {
      return await fn(this.client);
    } catch (err) {
      throw this.translate(err, what);
    }
  }

  /** The error a person should see for a failure of this source. */
  translate(err: unknown, what?: string): Error {
    if (err instanceof OffloadError) return err;
    const network = networkCodeOf(err);
    if (network) {
      return new ServiceUnavailable(
        'ClickHouse',
        this.url,
        NETWORK_DETAIL[network] ?? network,
        'is the server running, and is CLICKHOUSE_URL right?',
        { cause: err },
      );
    }
    const { code, message } = parseServerError(err);
    const clean = scrubSecrets(message, this.secrets);
    if (code !== undefined && AUTH_CODES.has(code)) {
      return new ServiceRefused(
        'ClickHouse',
        this.url,
        `login refused (${clean})`,
        'check the user and password in CLICKHOUSE_URL (or CLICKHOUSE_USER / CLICKHOUSE_PASSWORD)',
        { cause: err },
      );
    }
    const prefix = what ? `${what}: ` : '';
    return new ClickHouseQueryError(code, `ClickHouse${code !== undefined ? ` error ${code}` : ''}: ${prefix}${clean}`, { cause: err });
  }

  /**
   * Rows of a SELECT as objects (JSON format: 64-bit integers arrive as strings; select decimals with
   * toString). `params` are the statement's query parameters (SqlValues.params).
   */
  async query<T = Record<string, unknown>>(sql: string, options: StatementOptions = {}): Promise<T[]> {
    return this.run(async (c) => {
      const rs = await c.query({
        query: sql,
        format: 'JSONEachRow',
        query_id: options.queryId,
        clickhouse_settings: options.settings,
        ...paramsOf(options),
      });
      return rs.json<T>();
    });
  }

  /** A statement without a result (DDL, INSERT … SELECT). */
  async command(sql: string, options: StatementOptions = {}): Promise<void> {
    await this.run((c) =>
      c.command({ query: sql, query_id: options.queryId, clickhouse_settings: options.settings, ...paramsOf(options) }),
    );
  }

  /** Values for one statement on this server: query parameters where it has them, literals otherwise. */
  async values(): Promise<SqlValues> {
    return sqlValues(await this.capabilities());
  }

  /** Checks the server answers (a request, not just a TCP connect); throws ServiceUnavailable when not. */
  async ping(): Promise<void> {
    const res = await this.client.ping();
    if (!res.success) throw this.translate(res.error);
  }

  /**
   * Asks the server for its version now (never the answer cached by capabilities()): the server answers and
   * lets this user in, or the classified error says why not. What `offload status` shows for ClickHouse.
   */
  async probe(): Promise<string> {
    const rows = await this.query<{ v: string }>('SELECT version() AS v');
    return rows[0]?.v ?? '';
  }

  /** The server's version (`SELECT version()`), asked once per source. */
  async version(): Promise<string> {
    return (await this.capabilities()).version;
  }

  /** What the server can do, from its version (asked once per source); `parquetExtraction` as the connection chose it. */
  async capabilities(): Promise<ClickHouseCapabilities> {
    this.capabilitiesPromise ??= this.query<{ v: string }>('SELECT version() AS v').then((rows) =>
      this.withExtractFormat(capabilitiesOf(rows[0]?.v ?? '')),
    );
    try {
      return await this.capabilitiesPromise;
    } catch (err) {
      this.capabilitiesPromise = undefined; // a failed probe is not cached: the next call asks again
      throw err;
    }
  }

  private withExtractFormat(caps: ClickHouseCapabilities): ClickHouseCapabilities {
    if (this.extractFormat === 'native') return { ...caps, nativeExtraction: true };
    if (this.extractFormat === 'csv') return { ...caps, nativeExtraction: false, parquetExtraction: false };
    if (this.extractFormat === 'parquet') {
      if (!caps.parquetOutput) {
        throw new ConfigError(
          `OFFLOAD_EXTRACT_FORMAT=parquet: ClickHouse ${caps.version} at ${this.url} has no Parquet output (20.1+); use csv or auto`,
        );
      }
      return { ...caps, nativeExtraction: false, parquetExtraction: true };
    }
    return caps;
  }

  /** Whether a table (or view) exists. */
  async tableExists(ref: TableRef): Promise<boolean> {
    const v = await this.values();
    const rows = await this.query<{ n: string | number }>(
      `SELECT count() AS n FROM system.tables WHERE database = ${v.string(ref.database)} AND name = ${v.string(ref.table)}`,
      { params: v.params },
    );
    return Number(rows[0]?.n ?? 0) > 0;
  }

  /** A table's columns in table order (from system.columns); throws when the table does not exist. */
  async columns(ref: TableRef): Promise<ColumnInfo[]> {
    const v = await this.values();
    const rows = await this.query<ColumnInfo>(
      `SELECT name, type FROM system.columns WHERE database = ${v.string(ref.database)} AND table = ${v.string(ref.table)}`,
      { params: v.params },
    );
    if (rows.length === 0 && !(await this.tableExists(ref))) {
      throw new ClickHouseQueryError(60, `ClickHouse: table ${ref.database}.${ref.table} does not exist`);
    }
    return rows;
  }

  /** The columns a SELECT returns (names and types), without running it over any data. */
  async describeQuery(sql: string): Promise<ColumnInfo[]> {
    return this.run(async (c) => {
      const rs = await c.query({ query: `SELECT * FROM (${sql}) LIMIT 0`, format: 'JSON' });
      const body = await rs.json<Record<string, unknown>>();
      return (body.meta ?? []).map((m) => ({ name: m.name, type: m.type }));
    }, 'describing the table query');
  }

  /** Total rows of a MergeTree-family table from its active parts' metadata, never a scan. */
  async totalRows(ref: TableRef): Promise<number> {
    const v = await this.values();
    const rows = await this.query<{ n: string | number; t: string | number }>(
      `SELECT (SELECT count() FROM system.tables WHERE database = ${v.string(ref.database)} AND name = ${v.string(ref.table)}) AS t, ` +
        `(SELECT sum(rows) FROM system.parts WHERE active AND database = ${v.string(ref.database)} AND table = ${v.string(ref.table)}) AS n`,
      { params: v.params },
    );
    if (Number(rows[0]?.t ?? 0) === 0) throw new ClickHouseQueryError(60, `ClickHouse: table ${ref.database}.${ref.table} does not exist`);
    return Number(rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** A source for the connection in the environment (CLICKHOUSE_URL, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD). */
export function clickhouseSourceFromEnv(env: Env = processEnv(), options: ClickHouseSourceOptions = {}): ClickHouseSource {
  return new ClickHouseSource(clickhouseFromEnv(env), { env, ...options });
}
