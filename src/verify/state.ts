// What the checks compare against: a table's watermark row in PostgreSQL and its current Iceberg version.
import type { TableConfig } from '../config/tables.js';
import * as watermarks from '../state/watermarks.js';
import { parseIdentifier, type TableMetadata } from '../iceberg/types.js';
import { EPOCH, type Watermark } from '../core/watermark.js';
import type { VerifyServices } from './check.js';

export interface TableState {
  /** The watermark row, or null when the table was never ensured. */
  mark: watermarks.WatermarkState | null;
  /** The row's watermark; the epoch without a row. */
  watermark: Watermark;
  /** The current version; null when the catalog has no such table yet. */
  metadata: TableMetadata | null;
  metadataLocation: string | null;
  /** Why the current version could not be loaded: every check that needs it is then broken with this. */
  metadataError: unknown;
}

export async function loadTableState(s: Pick<VerifyServices, 'pool' | 'catalog' | 'io'>, table: TableConfig): Promise<TableState> {
  const ident = parseIdentifier(table.target);
  const mark = await watermarks.read(s.pool, table.name);
  const state: TableState = { mark, watermark: mark?.watermark ?? EPOCH, metadata: null, metadataLocation: null, metadataError: null };
  try {
    const t = await s.catalog.loadTable(ident);
    if (t) {
      state.metadata = t.metadata;
      state.metadataLocation = t.metadataLocation;
    }
  } catch (err) {
    state.metadataError = err;
  }
  return state;
}
