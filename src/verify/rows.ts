// rows-lost and rows-duplicated: ClickHouse rows up to the watermark and the Iceberg table's rows, compared
// as multisets of whole rows (both sides loaded into DuckDB with the Iceberg types, then EXCEPT ALL both
// ways and counted).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TableConfig } from '../config/tables.js';
import { qualifiedName } from '../clickhouse/sql.js';
import { mapLimit } from '../core/concurrency.js';
import { formatWatermark, type Watermark } from '../core/watermark.js';
import { openDuckDB } from '../iceberg/parquet.js';
import { readDataFiles } from '../iceberg/reader.js';
import { currentSchema } from '../iceberg/metadata.js';
import type { TableMetadata } from '../iceberg/types.js';
import { upToWatermarkSql } from '../pipeline/status.js';
import { check, failedCheck, type InvariantCheck, type VerifyServices } from './check.js';
import { columnCodec, type ColumnCodec } from './row-codec.js';
import type { TableState } from './state.js';

export interface RowComparison {
  watermark: Watermark;
  columns: string[];
  /** Columns left out of the comparison (not in the source, or of a type that cannot travel exactly). */
  skippedColumns: string[];
  clickhouseRows: number;
  icebergRows: number;
  /** ClickHouse rows (up to the watermark) missing from Iceberg, counted with multiplicity. */
  lost: number;
  /** Iceberg rows beyond their multiplicity in ClickHouse (a row written twice counts once here). */
  duplicated: number;
  /** Iceberg rows that are not in ClickHouse up to the watermark at all (beyond it, or altered). */
  unexpected: number;
  /** A few of each kind, for the report (JSON text of the row). */
  samples: { lost: string[]; duplicated: string[]; unexpected: string[] };
  elapsedMs: number;
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function duckIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function scratchDir(): Promise<string> {
  const dir = join(tmpdir(), `offload-verify-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** What is read for a table: its query as a subquery, or its source table. */
export function readFrom(t: TableConfig): string {
  return t.query ? `(${t.query})` : qualifiedName(t.sourceTable!);
}

/**
 * ClickHouse rows with cursor ≤ `watermark` against every row of the table's current snapshot, as
 * multisets of whole rows over the columns both sides have.
 */
export async function compareRows(
  s: VerifyServices,
  table: TableConfig,
  watermark: Watermark,
  metadata: TableMetadata | null,
): Promise<RowComparison> {
  const began = performance.now();
  const isAtEpoch = Date.parse(watermark.timestamp) <= 0 && watermark.tieBreak === null;
  if (!metadata) {
    // No table: nothing can be compared row by row; every ClickHouse row up to the watermark is lost.
    const chColumns = table.query ? await s.clickhouse.describeQuery(table.query) : await s.clickhouse.columns(table.sourceTable!);
    const cursorType = chColumns.find((c) => c.name === table.cursor)?.type ?? 'DateTime';
    const n = isAtEpoch
      ? 0
      : Number(
          (
            await s.clickhouse.query<{ n: string }>(
              `SELECT count() AS n FROM ${readFrom(table)} WHERE ${upToWatermarkSql(table, cursorType, watermark)}`,
            )
          )[0]?.n ?? 0,
        );
    const none = { lost: [], duplicated: [], unexpected: [] };
    return {
      watermark,
      columns: [],
      skippedColumns: [],
      clickhouseRows: n,
      icebergRows: 0,
      lost: n,
      duplicated: 0,
      unexpected: 0,
      samples: none,
      elapsedMs: Math.round(performance.now() - began),
    };
  }
  const dir = await scratchDir();
  const duck = await openDuckDB({ threads: 2, memoryLimit: '1GB', tempDirectory: join(dir, 'spill') });
  try {
    const chColumns = table.query ? await s.clickhouse.describeQuery(table.query) : await s.clickhouse.columns(table.sourceTable!);
    const chType = new Map(chColumns.map((c) => [c.name, c.type]));
    const cursorType = chType.get(table.cursor) ?? 'DateTime';
    // The columns compared: those of the Iceberg schema (the table's truth) that the source has and that
    // travel exactly; the cursor always does.
    const codecs: ColumnCodec[] = [];
    const skipped: string[] = [];
    for (const f of currentSchema(metadata).fields) {
      const type = chType.get(f.name);
      const codec = type === undefined ? null : columnCodec(f.name, type, f.type);
      if (codec) codecs.push(codec);
      else skipped.push(f.name);
    }
    const columns = codecs.map((c) => c.name);
    const typed = codecs.map((c) => `${duckIdent(c.name)} ${c.type}`).join(', ');

    // ClickHouse → a TabSeparated file → DuckDB, typed as Iceberg types.
    const chFile = join(dir, 'clickhouse.tsv');
    if (!isAtEpoch) {
      const sql =
        `SELECT ${codecs.map((c) => c.select).join(', ')} FROM ${readFrom(table)} ` +
        `WHERE ${upToWatermarkSql(table, cursorType, watermark)} FORMAT TabSeparated`;
      await s.clickhouse.run(async (c) => {
        const result = await c.exec({ query: sql });
        await pipeline(result.stream as Readable, createWriteStream(chFile));
      }, `reading ${table.name} up to its watermark`);
    } else {
      await writeFile(chFile, '');
    }
    await duck.connection.run(`CREATE TABLE ch (${typed})`);
    if ((await stat(chFile)).size > 0) {
      const names = codecs.map((_, i) => `c${i}`);
      await duck.connection.run(
        `INSERT INTO ch SELECT ${codecs.map((c, i) => c.fromText(names[i])).join(', ')} ` +
          `FROM read_csv(${sqlString(chFile)}, delim = '\t', quote = '', escape = '', header = false, nullstr = '\\N', all_varchar = true, ` +
          `names = [${names.map(sqlString).join(', ')}])`,
      );
    }
    await rm(chFile, { force: true });

    // Iceberg → the live data files of the current snapshot, read by DuckDB.
    await duck.connection.run(`CREATE TABLE ice (${typed})`);
    {
      const files = await readDataFiles(s.io, metadata);
      const local = await mapLimit(files, 8, async (f) => {
        const path = join(dir, `${randomBytes(8).toString('hex')}.parquet`);
        await writeFile(path, await s.io.read(f.filePath));
        return path;
      });
      if (local.length > 0) {
        await duck.connection.run(
          `INSERT INTO ice SELECT ${codecs.map((c) => c.fromIceberg(duckIdent(c.name))).join(', ')} FROM read_parquet([${local.map(sqlString).join(', ')}], union_by_name = true)`,
        );
      }
    }

    const count = async (sql: string) => Number((await duck.connection.runAndReadAll(sql)).getRows()[0]?.[0] ?? 0);
    const samples = async (sql: string) =>
      (await duck.connection.runAndReadAll(`${sql} LIMIT 3`)).getRowObjectsJson().map((r) => JSON.stringify(r));
    const clickhouseRows = await count('SELECT count(*) FROM ch');
    const icebergRows = await count('SELECT count(*) FROM ice');
    await duck.connection.run('CREATE TABLE lost AS SELECT * FROM ch EXCEPT ALL SELECT * FROM ice');
    await duck.connection.run('CREATE TABLE extra AS SELECT * FROM ice EXCEPT ALL SELECT * FROM ch');
    const lost = await count('SELECT count(*) FROM lost');
    const extra = await count('SELECT count(*) FROM extra');
    // An extra row that ClickHouse has (fewer times) is a duplicate; one it does not have at all is unexpected.
    const same = columns.map((c) => `e.${duckIdent(c)} IS NOT DISTINCT FROM d.${duckIdent(c)}`).join(' AND ');
    const duplicatedSql = `SELECT e.* FROM extra e WHERE EXISTS (SELECT 1 FROM (SELECT DISTINCT * FROM ch) d WHERE ${same || 'true'})`;
    const duplicated = extra === 0 ? 0 : await count(`SELECT count(*) FROM (${duplicatedSql})`);
    return {
      watermark,
      columns,
      skippedColumns: skipped,
      clickhouseRows,
      icebergRows,
      lost,
      duplicated,
      unexpected: extra - duplicated,
      samples: {
        lost: lost > 0 ? await samples('SELECT * FROM lost') : [],
        duplicated: duplicated > 0 ? await samples(duplicatedSql) : [],
        unexpected: extra - duplicated > 0 ? await samples(`SELECT * FROM extra EXCEPT ALL (${duplicatedSql})`) : [],
      },
      elapsedMs: Math.round(performance.now() - began),
    };
  } finally {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** rows-lost and rows-duplicated, from one comparison of the rows up to the table's watermark. */
export async function checkRows(
  s: VerifyServices,
  table: TableConfig,
  state: TableState,
): Promise<{ checks: InvariantCheck[]; rows: RowComparison | null }> {
  try {
    if (state.metadataError) throw state.metadataError;
    const rows = await compareRows(s, table, state.watermark, state.metadata);
    const n = { clickhouseRowsUpToWatermark: rows.clickhouseRows, icebergRows: rows.icebergRows };
    const checks = [
      check(
        'rows-lost',
        rows.lost === 0,
        { lost: rows.lost, ...n },
        rows.lost === 0
          ? `all ${rows.clickhouseRows} ClickHouse rows up to ${formatWatermark(state.watermark)} are in Iceberg`
          : `${rows.lost} of ${rows.clickhouseRows} ClickHouse rows up to the watermark are not in Iceberg (e.g. ${rows.samples.lost[0] ?? '?'})`,
      ),
      check(
        'rows-duplicated',
        rows.duplicated === 0 && rows.unexpected === 0,
        { duplicated: rows.duplicated, unexpected: rows.unexpected, ...n },
        rows.duplicated === 0 && rows.unexpected === 0
          ? `no Iceberg row appears more often than in ClickHouse (${rows.icebergRows} rows, ${rows.columns.length} columns compared)`
          : `${rows.duplicated} duplicated and ${rows.unexpected} unexpected Iceberg rows (e.g. ${rows.samples.duplicated[0] ?? rows.samples.unexpected[0] ?? '?'})`,
      ),
    ];
    return { checks, rows };
  } catch (err) {
    return { checks: [failedCheck('rows-lost', err), failedCheck('rows-duplicated', err)], rows: null };
  }
}
