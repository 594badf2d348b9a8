// Which extraction path a table's rows take, from what the connected server can do (docs/clickhouse-versions.md):
// - every server (18.16 … current), by default: FORMAT Native transcoded as it arrives into a PLAIN Parquet
//   file that DuckDB reads with read_parquet (native.ts) — the fastest on both families (bench/extract-paths.ts);
// - OFFLOAD_EXTRACT_FORMAT=parquet on current servers (23.8+): FORMAT Parquet into read_parquet (parquet.ts);
// - OFFLOAD_EXTRACT_FORMAT=csv: FORMAT CSV into DuckDB read_csv (csv.ts).
// All produce the same DuckDB relation: the table's columns by name, in their Iceberg types.
import type { ClickHouseSettings } from '@clickhouse/client';
import type { ClickHouseCapabilities, ClickHouseSource } from '../client.js';
import type { ColumnInfo } from '../types.js';
import { columnTransport, extractionQuery, extractToFile, relationSql } from './csv.js';
import type { ExtractedFile, ExtractToFileOptions } from './http-to-file.js';
import { extractNativeToFile, nativeColumn, nativeExtractionQuery, nativeOutputSettings, nativeRelationSql } from './native.js';
import { extractParquetToFile, parquetColumn, parquetExtractionQuery, parquetRelationSql } from './parquet.js';

export interface ExtractionPath {
  readonly format: 'CSV' | 'Parquet' | 'Native';
  /** File name extension of an extracted slice (Native is transcoded into a Parquet file). */
  readonly extension: 'csv' | 'parquet';
  /** The ClickHouse SELECT (without FORMAT) of the rows of `from` that satisfy `where`. */
  query(from: string, where: string): string;
  /** Streams the rows of `sql` (from `query`) into the local file `path`. */
  extract(source: ClickHouseSource, sql: string, path: string, options?: ExtractToFileOptions): Promise<ExtractedFile>;
  /** The DuckDB SELECT over extracted files: the table's columns by name, in their Iceberg DuckDB types. */
  relation(files: string[]): string;
}

/** CSV output settings pinned on servers that have them (21.12+), so a server profile cannot change the text. */
const CSV_OUTPUT_SETTINGS: ClickHouseSettings = {
  format_csv_delimiter: ',',
  format_csv_null_representation: '\\N',
  output_format_csv_crlf_end_of_line: 0,
  bool_true_representation: 'true',
  bool_false_representation: 'false',
};

/**
 * The DuckDB type a column's values must end in, or a SchemaError when it has none: its Iceberg field's
 * (mapping/clickhouse-to-iceberg.ts duckdbTypeOfColumn), handed in because ClickHouse knows nothing of Iceberg.
 */
export type TargetType = (table: string, column: ColumnInfo) => string;

/**
 * The path for a table with these columns on a server with these capabilities (`nativeExtraction` and
 * `parquetExtraction` are the connection's choice: the server's version, or OFFLOAD_EXTRACT_FORMAT). Throws
 * SchemaError naming the column when a type cannot travel exactly.
 */
export function extractionPath(columns: ColumnInfo[], caps: ClickHouseCapabilities, table: string, targetType: TargetType): ExtractionPath {
  if (caps.nativeExtraction) {
    const cols = columns.map((c, i) => nativeColumn(c.name, c.type, i, targetType(table || 'the source', c), table));
    const pinned = nativeOutputSettings(caps);
    return {
      format: 'Native',
      extension: 'parquet',
      query: (from, where) => nativeExtractionQuery(cols, from, where),
      extract: (source, sql, path, options) => extractNativeToFile(source, cols, sql, path, { ...options, pinned }),
      relation: (files) => nativeRelationSql(files, cols),
    };
  }
  if (caps.parquetExtraction) {
    const cols = columns.map((c) => parquetColumn(c.name, c.type, targetType(table || 'the source', c), table));
    return {
      format: 'Parquet',
      extension: 'parquet',
      query: (from, where) => parquetExtractionQuery(cols, from, where),
      extract: (source, sql, path, options) => extractParquetToFile(source, sql, path, options),
      relation: (files) => parquetRelationSql(files, cols),
    };
  }
  const transports = columns.map((c) => columnTransport(c.name, c.type, caps, table));
  const pinned = caps.boolType ? CSV_OUTPUT_SETTINGS : { format_csv_delimiter: ',' };
  return {
    format: 'CSV',
    extension: 'csv',
    query: (from, where) => extractionQuery(transports, from, where).sql,
    extract: (source, sql, path, options = {}) =>
      extractToFile(source, { columns: transports, sql }, path, { ...options, settings: { ...pinned, ...options.settings } }),
    relation: (files) => relationSql(files, transports),
  };
}
