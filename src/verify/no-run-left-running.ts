// no-run-left-running: no offload_runs row of the table is still 'running' (a run killed mid-way leaves one
// until the next run of the table resolves it).
import type pg from 'pg';
import * as runs from '../state/runs.js';
import { check, failedCheck, type InvariantCheck } from './check.js';

export async function checkNoRunLeftRunning(pool: pg.Pool, tableName: string): Promise<InvariantCheck> {
  try {
    const running = await runs.findRunning(pool, tableName);
    const all = await runs.list(pool, { table: tableName, limit: 100_000 });
    const by = (st: runs.RunStatus) => all.filter((r) => r.status === st).length;
    return check(
      'no-run-left-running',
      running.length === 0,
      { running: running.length, committed: by('committed'), aborted: by('aborted'), failed: by('failed'), upToDate: by('up_to_date') },
      running.length === 0
        ? `${all.length} runs recorded, none left running`
        : `${running.length} run(s) still marked running: ${running.map((r) => r.runId).join(', ')}`,
    );
  } catch (err) {
    return failedCheck('no-run-left-running', err);
  }
}
