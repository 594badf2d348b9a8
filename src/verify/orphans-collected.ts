// orphans-collected: files under the table's location that no kept snapshot references (the leftovers of
// killed runs) are found, `offload gc` removes them, and nothing referenced is removed.
import type { TableConfig } from '../config/tables.js';
import { check, failedCheck, type InvariantCheck, type VerifyServices } from './check.js';
import { inventoryFiles, type FileInventory } from './file-inventory.js';

/** Removes the table's orphans (`offload gc`); how many went, and why some stayed. */
export type OrphanCollector = () => Promise<{ deleted: number; detail?: string }>;

/**
 * `before`: the files as listed before (null when they could not be listed). Without a collector the
 * orphans are only counted and the check is skipped. Returns the files as listed after gc.
 */
export async function checkOrphansCollected(
  s: Pick<VerifyServices, 'catalog' | 'io' | 'warehouse'>,
  table: TableConfig,
  before: FileInventory | null,
  collectOrphans: OrphanCollector | undefined,
): Promise<{ check: InvariantCheck; after: FileInventory | null }> {
  let after: FileInventory | null = null;
  try {
    if (!before) throw new Error('the table files could not be listed');
    if (!collectOrphans) {
      return {
        check: {
          name: 'orphans-collected',
          status: 'skipped',
          numbers: { found: before.orphans.length },
          detail: `${before.orphans.length} orphan file(s) found; gc not run`,
        },
        after,
      };
    }
    const gc = await collectOrphans();
    after = await inventoryFiles(s, table);
    const held = after.orphans.length === 0 && after.missing.length === 0;
    return {
      check: check(
        'orphans-collected',
        held,
        { found: before.orphans.length, removedByGc: gc.deleted, left: after.orphans.length, referencedMissing: after.missing.length },
        held
          ? `${before.orphans.length} orphan file(s) found, gc removed ${gc.deleted}; every referenced file is still there`
          : after.missing.length > 0
            ? `gc removed ${after.missing.length} referenced file(s), e.g. ${after.missing[0]}`
            : `${after.orphans.length} orphan file(s) left after gc, e.g. ${after.orphans[0]}${gc.detail ? ` (${gc.detail})` : ''}`,
      ),
      after,
    };
  } catch (err) {
    return { check: failedCheck('orphans-collected', err), after };
  }
}
