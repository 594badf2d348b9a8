// A table's live rows in DuckDB, for the two jobs that must read data rather than metadata: compaction
// (rewriting the rows of a partition) and per-partition checksums. DuckDB cannot read s3:// here (no
// httpfs), so the data files and the position delete files are copied into a scratch directory first.
// Columns are matched by Iceberg field id, not by name (a renamed column still reads; a column added later
// reads NULL from older files), and position deletes apply as the spec says: a delete (file path, row
// position) removes that row when the delete file's data sequence number is ≥ the data file's. Equality
// deletes are refused: callers leave the partitions that have them out.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { mapLimit } from '../core/concurrency.js';
import { SchemaError } from '../core/errors.js';
import type { FileIO } from './io.js';
import { DELETE_FILE_PATH_FIELD_ID, DELETE_POS_FIELD_ID, type LiveDataFile, type LiveDeleteFile } from './reader.js';
import { duckdbType } from './schema.js';
import type { Schema } from './types.js';

/** At most this many files are copied at once. */
const COPY_CONCURRENCY = 8;

export interface ScanInput {
  /** The columns to read, by field id (the table's current schema, usually). */
  schema: Schema;
  dataFiles: readonly LiveDataFile[];
  /** Position delete files that may apply; one that names none of `dataFiles` changes nothing. */
  deleteFiles: readonly LiveDeleteFile[];
}

export interface LiveRowsScan {
  /** A query of the live rows: the schema's columns by name. */
  relation: string;
  /** Bytes copied from storage. */
  bytesCopied: number;
  /** Drops what this scan created in DuckDB and removes its copies. */
  close(): Promise<void>;
}

const RESERVED = ['filename', 'file_row_number'];

function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** s3a:// and s3:// name the same object; delete files may carry either. */
function normalizedPath(sql: string): string {
  return `regexp_replace(${sql}, '^s3a://', 's3://')`;
}

/** read_parquet's `schema` option: the columns by field id, with their DuckDB types. */
function fieldIdSchema(fields: Array<{ id: number; name: string; type: string }>): string {
  return `MAP {${fields.map((f) => `${f.id}: {name: ${sqlString(f.name)}, type: ${sqlString(f.type)}, default_value: NULL}`).join(', ')}}`;
}

const columnsOf = (schema: Schema) => schema.fields.map((f) => ({ id: f.id, name: f.name, type: duckdbType(f.type) }));

/**
 * read_parquet of local files with the schema's columns matched by field id. Never hive partitioning: a
 * file under `ts=2026-02-10/` would get a column `ts` from its path.
 */
export function readParquetByFieldIdSql(localPaths: readonly string[], schema: Schema, extra = ''): string {
  return `read_parquet([${localPaths.map(sqlString).join(', ')}], schema = ${fieldIdSchema(columnsOf(schema))}, hive_partitioning = false${extra})`;
}

/**
 * Copies the files into `scratchDir` and defines the live rows over them in `connection`. The copies stay
 * until `close()`. Throws SchemaError for equality delete files and for column names DuckDB's file
 * columns would shadow.
 */
export async function scanLiveRows(io: FileIO, connection: DuckDBConnection, scratchDir: string, input: ScanInput): Promise<LiveRowsScan> {
  const clash = input.schema.fields.find((f) => RESERVED.includes(f.name));
  if (clash) throw new SchemaError(`column "${clash.name}" has a name the scan of data files reserves; it cannot be read this way`);
  const equality = input.deleteFiles.find((f) => f.content !== 1);
  if (equality)
    throw new SchemaError(`${equality.filePath}: equality deletes cannot be applied here; leave partitions with equality deletes out`);
  const unreadable = [...input.dataFiles, ...input.deleteFiles].find((f) => f.fileFormat !== 'PARQUET');
  if (unreadable) throw new SchemaError(`${unreadable.filePath}: ${unreadable.fileFormat} files cannot be read (only PARQUET)`);

  const tag = randomBytes(6).toString('hex');
  const dir = join(scratchDir, `scan-${tag}`);
  const filesTable = `__scan_files_${tag}`;
  const deletesTable = `__scan_deletes_${tag}`;
  await mkdir(dir, { recursive: true });
  let bytesCopied = 0;
  const copy =
    (prefix: string) =>
    async (f: LiveDataFile | LiveDeleteFile, i: number): Promise<string> => {
      const local = join(dir, `${prefix}${i}.parquet`);
      const bytes = await io.read(f.filePath);
      bytesCopied += bytes.byteLength;
      await writeFile(local, bytes);
      return local;
    };
  const close = async (): Promise<void> => {
    await connection.run(`DROP TABLE IF EXISTS ${filesTable}`).catch(() => undefined);
    await connection.run(`DROP TABLE IF EXISTS ${deletesTable}`).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const indexed = <T>(items: readonly T[]) => items.map((item, i) => ({ item, i }));
    const dataLocal = await mapLimit(indexed(input.dataFiles), COPY_CONCURRENCY, ({ item, i }) => copy('d')(item, i));
    const deleteLocal = await mapLimit(indexed(input.deleteFiles), COPY_CONCURRENCY, ({ item, i }) => copy('x')(item, i));

    const columns = columnsOf(input.schema);
    if (dataLocal.length === 0) {
      const none = columns.map((c) => `CAST(NULL AS ${c.type}) AS ${sqlIdentifier(c.name)}`).join(', ');
      return { relation: `SELECT ${none} WHERE false`, bytesCopied, close };
    }

    // Columns are matched by field id; a file written without any (no name mapping is applied here) would read as NULLs.
    const withoutIds = (
      await connection.runAndReadAll(
        `SELECT file_name FROM parquet_schema([${dataLocal.map(sqlString).join(', ')}]) GROUP BY file_name HAVING count(field_id) = 0`,
      )
    ).getRowObjectsJS();
    if (withoutIds.length > 0) {
      const path = input.dataFiles[dataLocal.indexOf(String(withoutIds[0].file_name))]?.filePath ?? String(withoutIds[0].file_name);
      throw new SchemaError(`${path}: the Parquet file carries no Iceberg field ids, so its columns cannot be matched to the table's`);
    }
    const fileRows = input.dataFiles.map((f, i) => `(${sqlString(dataLocal[i])}, ${sqlString(f.filePath)}, ${f.sequenceNumber})`);
    await connection.run(
      `CREATE TEMP TABLE ${filesTable} AS SELECT local, ${normalizedPath('path')} AS path, seq::BIGINT AS seq FROM (VALUES ${fileRows.join(', ')}) AS v(local, path, seq)`,
    );
    let antiJoin = '';
    if (deleteLocal.length > 0) {
      const seqRows = input.deleteFiles.map((f, i) => `(${sqlString(deleteLocal[i])}, ${f.sequenceNumber})`);
      const deleteSchema = fieldIdSchema([
        { id: DELETE_FILE_PATH_FIELD_ID, name: 'file_path', type: 'VARCHAR' },
        { id: DELETE_POS_FIELD_ID, name: 'pos', type: 'BIGINT' },
      ]);
      await connection.run(
        `CREATE TEMP TABLE ${deletesTable} AS
         SELECT ${normalizedPath('x.file_path')} AS file_path, x.pos, s.seq::BIGINT AS seq
         FROM read_parquet([${deleteLocal.map(sqlString).join(', ')}], schema = ${deleteSchema}, hive_partitioning = false, filename = true) AS x
         JOIN (VALUES ${seqRows.join(', ')}) AS s(local, seq) ON s.local = x.filename`,
      );
      antiJoin = ` ANTI JOIN ${deletesTable} AS x ON x.file_path = f.path AND x.pos = d.file_row_number AND x.seq >= f.seq`;
    }
    const select = columns.map((c) => `d.${sqlIdentifier(c.name)}`).join(', ');
    const relation =
      `SELECT ${select} FROM ${readParquetByFieldIdSql(dataLocal, input.schema, ', filename = true, file_row_number = true')} AS d ` +
      `JOIN ${filesTable} AS f ON f.local = d.filename${antiJoin}`;
    return { relation, bytesCopied, close };
  } catch (err) {
    await close();
    throw err;
  }
}
