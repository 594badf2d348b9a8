// What an offloaded Iceberg table is made of, for monitoring: its live data files (how many, how many per
// partition, how many are small) and the orphans `offload gc` would delete. Read from the metadata, the
// manifests and one listing of the table location — never a data file. The manifests are read again only
// when the table's metadata location changed (a `TableFilesReader` remembers the last answer per table).
import type { TableConfig } from '../config/tables.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import { partitionKey, readDataFiles } from '../iceberg/reader.js';
import type { Table } from '../iceberg/table.js';
import { classifyFiles, DEFAULT_GC_MIN_AGE_MS, referencedFiles } from './gc.js';
import { tableIdentifier } from './prepare.js';
import { currentTable } from './recover.js';

/**
 * A data file below this share of the table's target file size is small. 0.75 is Iceberg's own default for
 * compaction (rewrite_data_files' min-file-size-bytes = 75 % of the target size).
 */
export const SMALL_FILE_SHARE = 0.75;

export interface TableFiles {
  table: string;
  /** False until the first offload created the Iceberg table (every count is then 0). */
  exists: boolean;
  dataFiles: number;
  dataBytes: number;
  partitions: number;
  /** The most data files in one partition. */
  maxFilesPerPartition: number;
  /** Data files smaller than SMALL_FILE_SHARE × targetFileSize. */
  smallFiles: number;
  /** Files under the table location no kept snapshot references, older than gc's safety age. */
  orphanFiles: number;
  orphanBytes: number;
}

/** A table the first offload has not created yet: every count 0. */
export function noTableYet(table: string): TableFiles {
  return {
    table,
    exists: false,
    dataFiles: 0,
    dataBytes: 0,
    partitions: 0,
    maxFilesPerPartition: 0,
    smallFiles: 0,
    orphanFiles: 0,
    orphanBytes: 0,
  };
}

interface DataFileCounts {
  dataFiles: number;
  dataBytes: number;
  partitions: number;
  maxFilesPerPartition: number;
  smallFiles: number;
}

/** Counts the current snapshot's live data files per partition. */
export function countDataFiles(
  files: ReadonlyArray<{ specId: number; partition: Parameters<typeof partitionKey>[1]; fileSizeInBytes: bigint }>,
  smallBelowBytes: number,
): DataFileCounts {
  const perPartition = new Map<string, number>();
  let dataBytes = 0;
  let smallFiles = 0;
  for (const f of files) {
    const key = partitionKey(f.specId, f.partition);
    perPartition.set(key, (perPartition.get(key) ?? 0) + 1);
    const size = Number(f.fileSizeInBytes);
    dataBytes += size;
    if (size < smallBelowBytes) smallFiles++;
  }
  return {
    dataFiles: files.length,
    dataBytes,
    partitions: perPartition.size,
    maxFilesPerPartition: Math.max(0, ...perPartition.values()),
    smallFiles,
  };
}

/** Reads TableFiles per table; what the manifests say is kept per metadata location. */
export class TableFilesReader {
  private readonly known = new Map<string, { metadataLocation: string; counts: DataFileCounts; referenced: Set<string> }>();

  constructor(private readonly deps: { catalog: Catalog; io: FileIO }) {}

  async read(cfg: TableConfig, options: { orphanMinAgeMs?: number; now?: number } = {}): Promise<TableFiles> {
    const table = await currentTable(this.deps.catalog, this.deps.io, tableIdentifier(cfg));
    if (!table) return noTableYet(cfg.name);
    const { counts, referenced } = await this.manifestsOf(cfg, table);
    const cutoff = (options.now ?? Date.now()) - (options.orphanMinAgeMs ?? DEFAULT_GC_MIN_AGE_MS);
    const { orphans } = await classifyFiles(this.deps.io, table, referenced, cutoff);
    return { table: cfg.name, exists: true, ...counts, orphanFiles: orphans.length, orphanBytes: orphans.reduce((s, f) => s + f.size, 0) };
  }

  private async manifestsOf(cfg: TableConfig, table: Table): Promise<{ counts: DataFileCounts; referenced: Set<string> }> {
    const last = this.known.get(cfg.name);
    if (last && last.metadataLocation === table.metadataLocation) return last;
    const files = await readDataFiles(this.deps.io, table.metadata);
    const entry = {
      metadataLocation: table.metadataLocation,
      counts: countDataFiles(files, cfg.targetFileSizeBytes * SMALL_FILE_SHARE),
      referenced: await referencedFiles(this.deps.io, table),
    };
    this.known.set(cfg.name, entry);
    return entry;
  }
}
