// metadata-readable: the catalog's metadata file parses; every manifest list, manifest and data file of the
// kept snapshots is there; the manifests' record count is the summary's total-records.
import type { TableConfig } from '../config/tables.js';
import { currentSnapshot } from '../iceberg/metadata.js';
import { readDataFiles } from '../iceberg/reader.js';
import { check, failedCheck, type InvariantCheck, type VerifyServices } from './check.js';
import { inventoryFiles, type FileInventory } from './file-inventory.js';
import type { TableState } from './state.js';

/** The check, and the table's files as listed for it (null when they could not be listed). */
export async function checkMetadataReadable(
  s: Pick<VerifyServices, 'catalog' | 'io' | 'warehouse'>,
  table: TableConfig,
  state: TableState,
): Promise<{ check: InvariantCheck; inventory: FileInventory | null }> {
  let inventory: FileInventory | null = null;
  try {
    if (state.metadataError) throw state.metadataError;
    inventory = await inventoryFiles(s, table);
    const { metadata } = state;
    if (!metadata) {
      return {
        check: check(
          'metadata-readable',
          true,
          { metadataFiles: 0, dataFiles: 0 },
          'the table does not exist yet (nothing committed): nothing to read',
        ),
        inventory,
      };
    }
    const snapshot = currentSnapshot(metadata);
    const files = await readDataFiles(s.io, metadata);
    const counted = files.reduce((n, f) => n + f.recordCount, 0n);
    const summaryTotal = snapshot?.summary['total-records'] ?? '0';
    const missing = inventory.missing;
    const held = missing.length === 0 && counted.toString() === summaryTotal;
    return {
      check: check(
        'metadata-readable',
        held,
        {
          snapshots: metadata.snapshots.length,
          dataFiles: files.length,
          manifestRecords: Number(counted),
          summaryTotalRecords: Number(summaryTotal),
          missingFiles: missing.length,
        },
        held
          ? `${state.metadataLocation}: ${metadata.snapshots.length} snapshot(s), ${files.length} data file(s), manifests count ${counted} records = summary total-records`
          : missing.length > 0
            ? `${missing.length} referenced file(s) missing, e.g. ${missing[0]}`
            : `manifests count ${counted} records, the summary says ${summaryTotal}`,
      ),
      inventory,
    };
  } catch (err) {
    return { check: failedCheck('metadata-readable', err), inventory };
  }
}
