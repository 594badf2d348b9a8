// The Native extraction path (every server version): ClickHouse sends a window's rows in its own binary,
// columnar Native format, the cheapest output it has (no text to print, no Parquet to encode); the offload
// transcodes the body as it arrives into a PLAIN Parquet file on local disk (native-to-parquet.ts), which
// DuckDB reads with read_parquet, in parallel by row group, at native speed — no text is parsed anywhere.
// Measured against the CSV and Parquet paths in docs/clickhouse-versions.md.
//
// The query selects the columns as they are, but LowCardinality is cast away (current servers send it
// dictionary-encoded over HTTP whatever low_cardinality_allow_in_native_format says). What the Parquet file
// cannot carry in the final type is converted by DuckDB in the relation: DateTime64 of a precision other
// than 3 and 6 (ticks of 10^-P s, floored to µs for P > 6) becomes TIMESTAMPTZ, also inside arrays, maps and
// tuples; everything is finally cast to the column's Iceberg DuckDB type (UInt32 → BIGINT, UInt64 →
// DECIMAL(20,0), …).
import type { ClickHouseSettings } from '@clickhouse/client';
import { OffloadError } from '../../core/errors.js';
import type { ClickHouseCapabilities, ClickHouseSource } from '../client.js';
import { quoteIdentifier } from '../sql.js';
import { parseClickHouseType, parseColumnType, type ClickHouseType, type ClickHouseTypeArg } from '../types.js';
import type { ExtractedFile, ExtractToFileOptions } from './http-to-file.js';
import { NativeFormatError, receivedChunks } from './native-format.js';
import { nativeCodec, transcodeNativeToParquet, type NativeColumn } from './native-to-parquet.js';

/** How one column travels through Native: what is selected, what the header must say, how DuckDB finishes it. */
export interface NativeColumnPlan extends NativeColumn {
  /** The source column's name (the Iceberg field's). */
  source: string;
  /** The ClickHouse SELECT expression. */
  select: string;
  /** The DuckDB expression over the Parquet column `ref`, in the Iceberg DuckDB type. */
  convert: (ref: string) => string;
}

/** Settings the extraction query pins, on the servers that know them. */
export function nativeOutputSettings(caps: Pick<ClickHouseCapabilities, 'version'>): ClickHouseSettings {
  const [major = 0, minor = 0] = caps.version.split('.').map(Number);
  // Type names as text in each block header (a profile may switch newer servers to a binary encoding).
  return major > 24 || (major === 24 && minor >= 10) ? { output_format_native_encode_types_in_binary_format: 0 } : {};
}

function escapeString(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

/** A type back as ClickHouse text (for CAST), e.g. `Map(String, Array(Nullable(String)))`. */
export function clickhouseTypeText(t: ClickHouseType): string {
  if (t.args.length === 0) return t.name;
  const arg = (a: ClickHouseTypeArg): string => {
    switch (a.kind) {
      case 'type':
        return clickhouseTypeText(a.type);
      case 'named':
        return `${quoteIdentifier(a.name)} ${clickhouseTypeText(a.type)}`;
      case 'string':
        return `'${escapeString(a.value)}'`;
      case 'number':
        return String(a.value);
      case 'enum':
        return `'${escapeString(a.name)}' = ${a.value}`;
    }
  };
  return `${t.name}(${t.args.map(arg).join(', ')})`;
}

/** The type with every LowCardinality unwrapped (the values are the inner type's). */
export function withoutLowCardinality(t: ClickHouseType): ClickHouseType {
  if (t.name === 'LowCardinality' && t.args[0] && (t.args[0].kind === 'type' || t.args[0].kind === 'named'))
    return withoutLowCardinality(t.args[0].type);
  return {
    name: t.name,
    args: t.args.map((a) =>
      a.kind === 'type'
        ? { kind: 'type', type: withoutLowCardinality(a.type) }
        : a.kind === 'named'
          ? { ...a, type: withoutLowCardinality(a.type) }
          : a,
    ),
  };
}

/** The type without what does not change the bytes sent: LowCardinality, and time zones (a header may omit them). */
function bytesShape(t: ClickHouseType): ClickHouseType {
  const u = withoutLowCardinality(t);
  const args = u.name === 'DateTime' || u.name === 'DateTime64' ? u.args.filter((a) => a.kind !== 'string') : u.args;
  return { name: u.name, args: args.map((a) => (a.kind === 'type' || a.kind === 'named' ? { ...a, type: bytesShape(a.type) } : a)) };
}

/** Two types send the same bytes when their canonical texts agree (named tuple elements by position and name). */
function sameType(a: ClickHouseType, b: ClickHouseType): boolean {
  return clickhouseTypeText(bytesShape(a)) === clickhouseTypeText(bytesShape(b));
}

let lambdas = 0;

/** DuckDB's conversion of a value of ClickHouse type `t` read from the Parquet file; null when none is needed. */
function duckLeg(t: ClickHouseType): ((v: string) => string) | null {
  switch (t.name) {
    case 'Nullable':
    case 'LowCardinality':
      return t.args[0] && t.args[0].kind === 'type' ? duckLeg(t.args[0].type) : null;
    case 'DateTime64': {
      // Milliseconds and microseconds arrive as Parquet timestamps (native-to-parquet.ts); other precisions as ticks.
      const p = t.args[0]?.kind === 'number' ? t.args[0].value : 3;
      if (p === 3 || p === 6) return null;
      if (p < 6) return (v) => `make_timestamptz(${v} * ${10 ** (6 - p)})`;
      // Floored to µs, also before 1970 (// alone truncates towards zero).
      const k = 10 ** (p - 6);
      return (v) => `make_timestamptz((${v} - (((${v} % ${k}) + ${k}) % ${k})) // ${k})`;
    }
    case 'Array': {
      const a = t.args[0];
      const el = a && a.kind === 'type' ? duckLeg(a.type) : null;
      if (!el) return null;
      const x = `__n${lambdas++}`;
      return (v) => `list_transform(${v}, lambda ${x}: ${el(x)})`;
    }
    case 'Map': {
      const [k, val] = t.args;
      const key = k && k.kind === 'type' ? duckLeg(k.type) : null;
      const value = val && val.kind === 'type' ? duckLeg(val.type) : null;
      if (!key && !value) return null;
      const e = `__n${lambdas++}`;
      const id = (x: string) => x;
      return (v) =>
        `map_from_entries(list_transform(map_entries(${v}), lambda ${e}: {'key': ${(key ?? id)(`${e}.key`)}, 'value': ${(value ?? id)(`${e}.value`)}}))`;
    }
    case 'Tuple': {
      const elements = t.args.map((a, i) => ({
        name: a.kind === 'named' ? a.name : `_${i + 1}`,
        leg: a.kind === 'type' || a.kind === 'named' ? duckLeg(a.type) : null,
      }));
      if (elements.every((e) => !e.leg)) return null;
      const id = (x: string) => x;
      return (v) =>
        `{${elements.map((e, i) => `'${e.name.replace(/'/g, "''")}': ${(e.leg ?? id)(`struct_extract_at(${v}, ${i + 1})`)}`).join(', ')}}`;
    }
    default:
      return null;
  }
}

/**
 * How a top-level column of ClickHouse type `typeText` travels through Native, its values ending in the
 * DuckDB type `target` (its Iceberg field's, which the caller has from the type mapping); SchemaError for
 * a type the transcoder cannot carry.
 */
export function nativeColumn(name: string, typeText: string, index: number, target: string, table = ''): NativeColumnPlan {
  const { type: parsed, where } = parseColumnType(name, typeText, table);
  const sent = withoutLowCardinality(parsed);
  const col = quoteIdentifier(name);
  const hasLowCardinality = clickhouseTypeText(sent) !== clickhouseTypeText(parsed);
  nativeCodec(sent, where); // refuses a type it cannot carry now, not at the first extraction
  const leg = duckLeg(sent);
  return {
    name: `c${index}`,
    source: name,
    type: sent,
    codec: (tally) => nativeCodec(sent, where, tally),
    select: hasLowCardinality ? `CAST(${col} AS ${clickhouseTypeText(sent)})` : col,
    convert: (ref) => `CAST(${leg ? leg(ref) : ref} AS ${target})`,
  };
}

/** The extraction query (without FORMAT): columns as c0 … cN, in order. */
export function nativeExtractionQuery(columns: NativeColumnPlan[], from: string, where: string): string {
  return `SELECT ${columns.map((c) => `${c.select} AS ${c.name}`).join(', ')} FROM ${from} WHERE ${where}`;
}

function duckString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The DuckDB SELECT producing the table's columns, by name, in their Iceberg DuckDB types. */
export function nativeRelationSql(files: string[], columns: NativeColumnPlan[]): string {
  const exprs = columns.map((c) => `${c.convert(c.name)} AS "${c.source.replace(/"/g, '""')}"`);
  return `SELECT ${exprs.join(', ')} FROM read_parquet([${files.map(duckString).join(', ')}], hive_partitioning = false)`;
}

/** Runs `sql` with FORMAT Native and transcodes the body into the Parquet file `path` as it arrives. */
export async function extractNativeToFile(
  source: ClickHouseSource,
  columns: NativeColumnPlan[],
  sql: string,
  path: string,
  options: ExtractToFileOptions & { pinned?: ClickHouseSettings } = {},
): Promise<ExtractedFile> {
  const queryId = options.queryId;
  try {
    const received = await source.run(async (client) => {
      // exec, not query(): the client's streaming ResultSet splits on newlines, which binary bodies contain.
      const result = await client.exec({
        query: `${sql} FORMAT Native`,
        query_id: queryId,
        clickhouse_settings: { ...options.pinned, ...options.settings },
        ...(options.params && Object.keys(options.params).length > 0 ? { query_params: options.params } : {}),
        abort_signal: options.signal,
      });
      try {
        return await transcodeNativeToParquet(receivedChunks(result.stream), columns, path, {
          parseType: parseClickHouseType,
          sameType,
          onBytes: options.onBytes,
          onRows: options.onRows,
        });
      } catch (err) {
        // A current server announces with this header that it reports a failure in the body and then cuts
        // the connection: a cut is its failure (its text reached us or not), not an unreachable server.
        if (
          !(err instanceof OffloadError) &&
          result.response_headers['x-clickhouse-exception-tag'] !== undefined &&
          !options.signal?.aborted
        ) {
          throw new NativeFormatError(
            'ClickHouse failed while sending rows: it cut the connection after the body had started (its log has the error)',
            { cause: err },
          );
        }
        throw err;
      } finally {
        result.stream.destroy();
      }
    }, 'extracting rows');
    const replaced = columns.flatMap((c, k) => (received.replacedUtf8[k] > 0 ? [[c.source, received.replacedUtf8[k]] as const] : []));
    return { path, bytes: received.received, ...(replaced.length > 0 ? { replacedUtf8: Object.fromEntries(replaced) } : {}) };
  } catch (err) {
    // Aborting the request does not stop the query on 18.16: stop it on the server too.
    if (queryId)
      await source.command(`KILL QUERY WHERE query_id = '${queryId.replace(/[^A-Za-z0-9_-]/g, '')}' ASYNC`).catch(() => undefined);
    throw err;
  }
}
