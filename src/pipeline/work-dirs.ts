// Local scratch of runs: each run writes its slices and data files under `offload-<table>-<runId>` in the
// work directory (OFFLOAD_WORK_DIR, else the system's temp directory) and removes it when it ends. A
// killed process cannot: whoever next holds the table's lock — the table's next run, or `offload gc` —
// removes the directories of that table's runs recorded in its state database, since no run of the table
// can be alive while the lock is held. A directory whose run this database does not know belongs to
// another installation sharing the folder (or to a run killed before it was recorded): it may be alive,
// so only gc removes it, once older than its safety age — as it does the older `offload-<runId>` form.
import { readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUN_ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const JUST_RUN_ID = new RegExp(`^${RUN_ID}$`);
/** Any run's work directory: `offload-<runId>` (older versions) or `offload-<table>-<runId>`. */
const ANY_RUN = new RegExp(`^offload-(?:.+-)?(${RUN_ID})$`);

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

/** The run id in a work directory's name. */
function runIdOf(dir: string): string {
  return ANY_RUN.exec(dir.slice(dir.lastIndexOf('offload-')))![1]!;
}

/**
 * Removes the work directories of `table`'s runs that `known` says are runs of this state database. Only
 * while holding the table's lock: no such run is alive then, so each is a killed run's. `dryRun`: lists
 * them, removes nothing.
 */
export async function removeTableWorkDirs(
  base: string | undefined,
  table: string,
  known: (runIds: string[]) => Promise<Set<string>>,
  dryRun = false,
): Promise<string[]> {
  const prefix = `offload-${table}-`;
  const named = await find(base, async (name) => name.startsWith(prefix) && JUST_RUN_ID.test(name.slice(prefix.length)));
  const ours = await known(named.map(runIdOf));
  const dirs = named.filter((d) => ours.has(runIdOf(d)));
  if (!dryRun) for (const d of dirs) await rm(d, { recursive: true, force: true });
  return dirs;
}

/**
 * Removes the run work directories last modified more than `minAgeMs` ago that no table's lock can vouch
 * for: the older `offload-<runId>` form and those of runs another installation (or none) recorded.
 * `claimed`: the directories the tables' locks already vouched for (removed or listed under them).
 */
export async function removeStaleWorkDirs(
  base: string | undefined,
  minAgeMs: number,
  now: Date,
  claimed: ReadonlySet<string>,
  dryRun = false,
): Promise<string[]> {
  const cutoff = now.getTime() - minAgeMs;
  const dirs = await find(base, async (name) => {
    if (!ANY_RUN.test(name) || claimed.has(join(base ?? tmpdir(), name))) return false;
    const s = await stat(join(base ?? tmpdir(), name)).catch(() => null);
    return s?.isDirectory() === true && s.mtimeMs < cutoff;
  });
  if (!dryRun) for (const d of dirs) await rm(d, { recursive: true, force: true });
  return dirs;
}
