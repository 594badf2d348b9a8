// pyiceberg-loads: an independent reader (pyiceberg, through the same JDBC catalog) loads the table at the
// current snapshot and counts the same rows; skipped when the Python venv is absent.
import type { TableConfig } from '../config/tables.js';
import { currentSnapshot } from '../iceberg/metadata.js';
import { formatIdentifier, parseIdentifier, type TableMetadata } from '../iceberg/types.js';
import { check, failedCheck, type InvariantCheck } from './check.js';
import type { PyIcebergReader } from './pyiceberg-reader.js';

/** `expectedRows`: the Iceberg rows the row comparison counted, when it ran. */
export async function checkPyIcebergLoads(
  reader: PyIcebergReader | null,
  table: TableConfig,
  metadata: TableMetadata | null,
  expectedRows: number | null,
): Promise<InvariantCheck> {
  if (reader === null) {
    return {
      name: 'pyiceberg-loads',
      status: 'skipped',
      numbers: {},
      detail: 'the Python venv with pyiceberg is not installed (dev/python-env.sh)',
    };
  }
  if (!metadata) return { name: 'pyiceberg-loads', status: 'skipped', numbers: {}, detail: 'the table does not exist yet' };
  try {
    const py = await reader.read(table.target);
    const snap = currentSnapshot(metadata)?.['snapshot-id'].toString() ?? null;
    const held = py.snapshotId === snap && (expectedRows === null || py.rows === expectedRows);
    return check(
      'pyiceberg-loads',
      held,
      { rows: py.rows, files: py.files, snapshotId: py.snapshotId },
      held
        ? `pyiceberg loads ${formatIdentifier(parseIdentifier(table.target))} at snapshot ${py.snapshotId} and counts ${py.rows} rows`
        : `pyiceberg sees snapshot ${py.snapshotId} with ${py.rows} rows; expected ${snap} with ${expectedRows}`,
    );
  } catch (err) {
    return failedCheck('pyiceberg-loads', err);
  }
}
