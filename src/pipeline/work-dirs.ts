// Local scratch of runs: each run writes its slices and data files under `offload-<table>-<runId>` in the
// work directory (OFFLOAD_WORK_DIR, else the system's temp directory) and removes it when it ends. A
// killed process cannot: whoever next holds the table's lock — the table's next run, or `offload gc` —
// removes every directory of that table, since no run of the table can be alive while the lock is held.
// Directories of the older `offload-<runId>` form (no table in the name) are removed by gc once older
// than its safety age.
import { readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUN_ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UNNAMED = new RegExp(`^offload-${RUN_ID}$`);

/** The work directory of one run of one table. */
export function runWorkDir(base: string | undefined, table: string, runId: string): string {
  return join(base ?? tmpdir(), `offload-${table}-${runId}`);
}

/** The entries of the work directory named `offload-…` that `match` accepts (absolute paths). */
async function find(base: string | undefined, match: (name: string) => Promise<boolean>): Promise<string[]> {
  const dir = base ?? tmpdir();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return []; // no work directory yet
  }
  const found: string[] = [];
  for (const name of names) if (name.startsWith('offload-') && (await match(name))) found.push(join(dir, name));
  return found;
}

/**
 * Removes the work directories of `table`'s runs. Only while holding the table's lock: no run of the table
 * is alive then, so each is a killed run's. `dryRun`: lists them, removes nothing.
 */
export async function removeTableWorkDirs(base: string | undefined, table: string, dryRun = false): Promise<string[]> {
  const own = new RegExp(`^offload-${table}-${RUN_ID}$`);
  const dirs = await find(base, async (name) => own.test(name));
  if (!dryRun) for (const d of dirs) await rm(d, { recursive: true, force: true });
  return dirs;
}

/** Removes the unnamed (`offload-<runId>`) work directories last modified more than `minAgeMs` ago. */
export async function removeUnnamedWorkDirs(base: string | undefined, minAgeMs: number, now: Date, dryRun = false): Promise<string[]> {
  const cutoff = now.getTime() - minAgeMs;
  const dirs = await find(base, async (name) => {
    if (!UNNAMED.test(name)) return false;
    const s = await stat(join(base ?? tmpdir(), name)).catch(() => null);
    return s?.isDirectory() === true && s.mtimeMs < cutoff;
  });
  if (!dryRun) for (const d of dirs) await rm(d, { recursive: true, force: true });
  return dirs;
}
