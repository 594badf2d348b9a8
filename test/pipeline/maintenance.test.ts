// Compaction, repair and expiry commit through the JDBC catalog's pointer store only: any other catalog is
// refused with one line and the configuration's exit code, before anything is claimed or written.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode } from '../../src/core/errors.js';
import type { Catalog } from '../../src/iceberg/catalog.js';
import { JdbcTableCatalog } from '../../src/iceberg/jdbc-table-catalog.js';
import { MaintenanceNeedsJdbc } from '../../src/pipeline/commit.js';
import { pointerCatalogOf } from '../../src/pipeline/maintenance.js';

describe('the catalog compaction, repair and expiry commit through', () => {
  it('is the JDBC catalog’s pointer store', () => {
    const pointers = { name: 'offload' } as unknown as ConstructorParameters<typeof JdbcTableCatalog>[0];
    const jdbc = new JdbcTableCatalog(pointers, {} as ConstructorParameters<typeof JdbcTableCatalog>[1], 's3://w');
    assert.equal(pointerCatalogOf(jdbc, 't'), pointers);
  });

  it('refuses a REST catalog with one actionable line, exit 3', () => {
    const rest = { kind: 'rest', name: 'http://rest' } as unknown as Catalog;
    assert.throws(
      () => pointerCatalogOf(rest, 'bronze_trades'),
      (err: unknown) =>
        err instanceof MaintenanceNeedsJdbc &&
        err.exitCode === ExitCode.config &&
        /^bronze_trades: compact, repair and expire need the JDBC catalog for now .*; nothing was done$/.test(err.message),
    );
  });
});
