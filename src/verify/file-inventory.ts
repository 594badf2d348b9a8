// The files under a table's location, sorted into those a kept snapshot (or the metadata log) references
// and the orphans no commit names: what metadata-readable and orphans-collected look at.
import type { TableConfig } from '../config/tables.js';
import { readReferencedFiles } from '../iceberg/reader.js';
import { defaultTableLocation } from '../iceberg/table.js';
import { parseIdentifier } from '../iceberg/types.js';
import type { VerifyServices } from './check.js';

export interface FileInventory {
  location: string | null;
  /** Every object under the location. */
  listed: number;
  referenced: number;
  /** Listed but referenced by no kept snapshot (nor the metadata log): leftovers of runs that never committed. */
  orphans: string[];
  /** Referenced by a kept snapshot but absent: a reader would fail. */
  missing: string[];
  /** Older metadata files named by the metadata log but gone (not needed to read the table). */
  missingMetadataLog: number;
}

/** Lists the table's location and sorts what is there into referenced files and orphans. */
export async function inventoryFiles(s: Pick<VerifyServices, 'catalog' | 'io' | 'warehouse'>, table: TableConfig): Promise<FileInventory> {
  const ident = parseIdentifier(table.target);
  const t = await s.catalog.loadTable(ident);
  // No table yet: where the JDBC catalog would put it (a REST catalog's choice is unknown until it exists).
  let location: string | null = s.warehouse ? defaultTableLocation(s.warehouse, ident) : null;
  const referenced = new Set<string>();
  const needed = new Set<string>();
  let metadataLog: string[] = [];
  if (t) {
    location = t.metadata.location;
    const refs = await readReferencedFiles(s.io, t.metadata, t.metadataLocation);
    for (const f of [...refs.manifestLists, ...refs.manifests, ...refs.dataFiles, t.metadataLocation]) {
      referenced.add(f);
      needed.add(f);
    }
    metadataLog = refs.metadataFiles.filter((f) => f !== t.metadataLocation);
    for (const f of metadataLog) referenced.add(f);
  }
  const listed = location ? await s.io.list(`${location.replace(/\/+$/, '')}/`) : [];
  const present = new Set(listed.map((f) => f.uri));
  return {
    location,
    listed: listed.length,
    referenced: referenced.size,
    orphans: listed.map((f) => f.uri).filter((u) => !referenced.has(u)),
    missing: [...needed].filter((u) => !present.has(u)),
    missingMetadataLog: metadataLog.filter((u) => !present.has(u)).length,
  };
}
