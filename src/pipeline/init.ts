// `offload init`'s work on the state store: PostgreSQL reachable (said at once, and clearly, when not),
// the migrations applied, and a watermark row at 1970-01-01 for every configured table that has none.
import type { TableConfig } from '../config/tables.js';
import { migrate } from '../state/migrate.js';
import { checkout, describePool } from '../state/pool.js';
import * as watermarks from '../state/watermarks.js';
import type { Services } from './services.js';

export interface InitializedState {
  /** The server, password redacted. */
  url: string;
  schemaVersion: number;
  /** Migration files this call applied. */
  applied: string[];
  /** Tables whose watermark row this call created. */
  created: string[];
}

export async function initState(services: Pick<Services, 'pool'>, tables: readonly TableConfig[]): Promise<InitializedState> {
  const pool = services.pool;
  await checkout(pool).then((c) => c.release());
  const migrated = await migrate(pool);
  const created = await watermarks.ensure(
    pool,
    tables.map((t) => ({ table: t.name, icebergTable: t.target })),
  );
  return { url: describePool(pool), schemaVersion: migrated.version, applied: migrated.applied.map((m) => m.file), created };
}
