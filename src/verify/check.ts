// The vocabulary of the invariant checks of exactly-once: their names and titles, a checked invariant with
// the numbers behind its verdict, and the services the checks read (handed in by the caller).
import type pg from 'pg';
import type { ClickHouseSource } from '../clickhouse/client.js';
import type { Catalog } from '../iceberg/catalog.js';
import type { FileIO } from '../iceberg/io.js';
import type { PyIcebergReader } from './pyiceberg-reader.js';

export type CheckName =
  | 'rows-lost'
  | 'rows-duplicated'
  | 'watermark-matches-snapshot'
  | 'no-run-left-running'
  | 'metadata-readable'
  | 'pyiceberg-loads'
  | 'orphans-collected';

export type CheckStatus = 'held' | 'broken' | 'skipped';

/** One invariant, checked: whether it held, the numbers behind the verdict, and a sentence. */
export interface InvariantCheck {
  name: CheckName;
  status: CheckStatus;
  numbers: Record<string, number | string | null>;
  detail: string;
}

export const CHECK_TITLES: Record<CheckName, string> = {
  'rows-lost': 'rows lost',
  'rows-duplicated': 'rows duplicated',
  'watermark-matches-snapshot': 'watermark = snapshot offload.watermark',
  'no-run-left-running': 'no run left running',
  'metadata-readable': 'metadata readable',
  'pyiceberg-loads': 'table loads in pyiceberg',
  'orphans-collected': 'orphans found and removed by gc',
};

/** What the checks read: the same services the offload used, handed in by the caller. */
export interface VerifyServices {
  clickhouse: ClickHouseSource;
  pool: pg.Pool;
  io: FileIO;
  /** The configured Iceberg catalog (JDBC or REST). */
  catalog: Catalog;
  /** OFFLOAD_WAREHOUSE: where a table not (yet) in the JDBC catalog would live (null: a REST catalog places tables). */
  warehouse: string | null;
  env: Record<string, string | undefined>;
  /** pyiceberg through the same catalog, or null when the venv is absent (the check is then skipped). */
  pyiceberg: PyIcebergReader | null;
}

export function check(name: CheckName, held: boolean, numbers: InvariantCheck['numbers'], detail: string): InvariantCheck {
  return { name, status: held ? 'held' : 'broken', numbers, detail };
}

/** An invariant that could not be checked counts as broken: nothing proves it held. */
export function failedCheck(name: CheckName, err: unknown): InvariantCheck {
  return {
    name,
    status: 'broken',
    numbers: {},
    detail: `could not be checked: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
  };
}
