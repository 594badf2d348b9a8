// ClickHouse SQL text: quoting identifiers and table names, typed literals, and the values of one
// statement as query parameters (19.11+) or as literals (18.16, which has none). Nothing here talks to a
// server; the client (client.ts) and the window predicates (window.ts) build on it.
import { OffloadError } from '../core/errors.js';
import { isoFromMicros } from '../core/watermark.js';

// ─── Quoting and literals ───────────────────────────────────────────────────────────────────────────
// 18.16 has no query parameters: values in SQL are typed literals formatted here, identifiers are always
// backquoted. Backslash escaping is understood by every ClickHouse version, inside '…' and `…` alike.

function escapeFor(s: string, quote: "'" | '`'): string {
  let out = '';
  for (const ch of s) {
    switch (ch) {
      case '\\':
        out += '\\\\';
        break;
      case "'":
        out += quote === "'" ? "\\'" : ch;
        break;
      case '`':
        out += quote === '`' ? '\\`' : ch;
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\0':
        out += '\\0';
        break;
      case '\b':
        out += '\\b';
        break;
      case '\f':
        out += '\\f';
        break;
      default:
        out += ch;
    }
  }
  return out;
}

/** `` `name` `` with backslashes and backquotes escaped. */
export function quoteIdentifier(name: string): string {
  if (name.length === 0) throw new OffloadError('an empty identifier cannot be quoted');
  return `\`${escapeFor(name, '`')}\``;
}

/** A table reference: `database.table` as written in the configuration. */
export interface TableRef {
  database: string;
  table: string;
}

/** Splits `k2.bronze_trades_binance` (or `` `k2`.`x` ``); a bare name takes `defaultDatabase`. */
export function parseTableRef(ref: string, defaultDatabase = 'default'): TableRef {
  const m = /^(?:(`(?:[^`\\]|\\.)+`|[A-Za-z_][A-Za-z0-9_]*)\.)?(`(?:[^`\\]|\\.)+`|[A-Za-z_][A-Za-z0-9_]*)$/.exec(ref.trim());
  if (!m) throw new OffloadError(`"${ref}" is not a table name (expected database.table)`);
  const unquote = (s: string) => (s.startsWith('`') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s);
  return { database: m[1] ? unquote(m[1]) : defaultDatabase, table: unquote(m[2]) };
}

/** `` `database`.`table` `` */
export function qualifiedName(ref: TableRef): string {
  return `${quoteIdentifier(ref.database)}.${quoteIdentifier(ref.table)}`;
}

/** `'text'` with quotes, backslashes and control characters escaped. */
export function stringLiteral(s: string): string {
  return `'${escapeFor(s, "'")}'`;
}

/** An integer or finite number as SQL text; bigints keep every digit. */
export function numberLiteral(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  if (!Number.isFinite(n)) throw new OffloadError(`${n} cannot be written as a ClickHouse literal`);
  return Number.isInteger(n) ? n.toFixed(0) : String(n);
}

const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]00:?00)?$/;

/**
 * A UTC instant as a typed literal: `toDateTime('2026-02-11 12:02:00', 'UTC')`, or with `precision` > 0
 * (servers with DateTime64) `toDateTime64('2026-02-11 12:02:00.123456', 6, 'UTC')`.
 * Accepts a Date or an ISO-8601 UTC string with up to 9 fraction digits (kept exactly, not via a float).
 * Refuses to drop non-zero fraction digits that the precision cannot hold: a silently truncated bound
 * would move a window edge.
 */
export function dateTimeLiteral(at: Date | string, precision = 0): string {
  if (!Number.isInteger(precision) || precision < 0 || precision > 9) {
    throw new OffloadError(`DateTime precision ${precision} is out of range (0..9)`);
  }
  let iso: string;
  if (at instanceof Date) {
    if (Number.isNaN(at.getTime())) throw new OffloadError('an invalid Date cannot be written as a ClickHouse literal');
    iso = at.toISOString();
  } else {
    iso = at;
  }
  const m = ISO_INSTANT.exec(iso.trim());
  if (!m) throw new OffloadError(`"${iso}" is not a UTC timestamp (expected YYYY-MM-DDThh:mm:ss[.ffffff]Z)`);
  const [, date, time, fraction = ''] = m;
  const kept = fraction.padEnd(9, '0').slice(0, precision);
  const dropped = fraction.slice(precision);
  if (/[1-9]/.test(dropped)) {
    throw new OffloadError(`${iso} has more sub-second digits than a DateTime${precision ? `64(${precision})` : ''} holds`);
  }
  if (precision === 0) return `toDateTime('${date} ${time}', 'UTC')`;
  return `toDateTime64('${date} ${time}.${kept}', ${precision}, 'UTC')`;
}

// ─── Values in a statement: literals or query parameters ────────────────────────────────────────────

/**
 * The values of one statement. On servers with query parameters (19.11+) each value becomes a
 * `{pN:Type}` placeholder and its text goes in `params` (sent as `query_params`: the server parses it as
 * a typed value, nothing is spliced into the SQL); on 18.16 each value is a typed literal formatted here.
 * One instance per statement: placeholders are numbered within it.
 */
export interface SqlValues {
  readonly usesParameters: boolean;
  /** What to send as `query_params` with the statement (empty for literals). */
  readonly params: Record<string, string>;
  string(value: string): string;
  /** An integer given as decimal text (any width), typed UInt64 when ≥ 0, Int64 when negative. */
  integer(value: string): string;
  /** A DateTime (UTC) at whole second `seconds` since the epoch, clamped to DateTime's range. */
  dateTime(seconds: bigint): string;
  /** A DateTime64(6, 'UTC') at `micros` since the epoch. */
  dateTime64(micros: bigint): string;
  /** A Date, `day` days since the epoch. */
  date(day: bigint): string;
}

/** `YYYY-MM-DD hh:mm:ss.ffffff` (UTC) of µs since the epoch. */
function microsText(micros: bigint): string {
  return isoFromMicros(micros).slice(0, 26).replace('T', ' ');
}

function checkInteger(value: string): void {
  if (!/^-?\d+$/.test(value)) throw new OffloadError(`"${value}" is not an integer`);
}

const DATETIME_MAX = 4_294_967_295n;

/** Values for a server with these capabilities: query parameters where it has them, typed literals otherwise. */
export function sqlValues(caps: { queryParameters: boolean }): SqlValues {
  return caps.queryParameters ? parameterValues() : literalValues();
}

/** Typed literals (every server; the only form 18.16 understands). */
export function literalValues(): SqlValues {
  return {
    usesParameters: false,
    params: {},
    string: stringLiteral,
    integer: (v) => {
      checkInteger(v);
      return v.startsWith('-') ? `toInt64(${v})` : `toUInt64('${v}')`;
    },
    dateTime: (s) => `toDateTime(${s < 0n ? 0n : s > DATETIME_MAX ? DATETIME_MAX : s})`,
    dateTime64: (us) => dateTimeLiteral(`${microsText(us).replace(' ', 'T')}Z`, 6),
    date: (day) => `toDate('${new Date(Number(day) * 86_400_000).toISOString().slice(0, 10)}')`,
  };
}

/** Typed literals a person reads (`toDateTime('2026-02-11 12:02:00', 'UTC')`), for SQL shown in messages. */
export function readableValues(): SqlValues {
  return {
    ...literalValues(),
    dateTime: (s) => dateTimeLiteral(`${microsText((s < 0n ? 0n : s > DATETIME_MAX ? DATETIME_MAX : s) * 1_000_000n).replace(' ', 'T')}Z`),
  };
}

/** `{pN:Type}` placeholders with their values in `params`. */
export function parameterValues(): SqlValues {
  const params: Record<string, string> = {};
  const bind = (type: string, text: string): string => {
    const name = `p${Object.keys(params).length}`;
    params[name] = text;
    return `{${name}:${type}}`;
  };
  return {
    usesParameters: true,
    params,
    string: (v) => bind('String', v),
    integer: (v) => {
      checkInteger(v);
      return bind(v.startsWith('-') ? 'Int64' : 'UInt64', v);
    },
    dateTime: (s) => bind("DateTime('UTC')", microsText((s < 0n ? 0n : s > DATETIME_MAX ? DATETIME_MAX : s) * 1_000_000n).slice(0, 19)),
    dateTime64: (us) => bind("DateTime64(6, 'UTC')", microsText(us)),
    date: (day) => bind('Date', new Date(Number(day) * 86_400_000).toISOString().slice(0, 10)),
  };
}
