// `offload drill --clean`: leftover sandboxes, removed.
import * as runs from '../state/runs.js';
import * as watermarks from '../state/watermarks.js';
import { sandboxCreatedAt, tableLocation } from './sandbox.js';
import { openDrillServices } from './services.js';

type Env = Record<string, string | undefined>;

export interface SandboxCleanup {
  namespaces: string[];
  tables: number;
  files: number;
  watermarkRows: number;
  runRows: number;
}

/**
 * Removes what drills killed before their own cleanup left behind (a drill ended by SIGKILL, a machine
 * that went down): sandbox namespaces `drill_<id>` with their tables and files, and the sandbox tables'
 * watermark rows and run history — only sandboxes older than `minAgeMs` (default 1 hour), so a drill
 * running right now is never touched.
 */
export async function cleanLeftoverSandboxes(options: { env: Env; minAgeMs?: number }): Promise<SandboxCleanup> {
  const env = options.env;
  const minAgeMs = options.minAgeMs ?? 3_600_000;
  const isOld = (id: string) => {
    const at = sandboxCreatedAt(id);
    return at !== null && Date.now() - at >= minAgeMs;
  };
  const store = openDrillServices(env, 'drill --clean');
  const { pool, io, catalog, warehouse } = store;
  const out: SandboxCleanup = { namespaces: [], tables: 0, files: 0, watermarkRows: 0, runRows: 0 };
  try {
    for (const ns of await catalog.listNamespaces()) {
      const m = /^drill_([0-9a-z]+)$/.exec(ns);
      if (!m || !isOld(m[1])) continue;
      for (const ident of await catalog.listTables(ns)) {
        const location = await tableLocation(catalog, warehouse, ident);
        const files = location ? await io.list(`${location}/`) : [];
        await io.deleteMany(files.map((f) => f.uri));
        out.files += files.length;
        await catalog.dropTable(ident);
        out.tables++;
      }
      const rest = warehouse ? await io.list(`${warehouse}/${ns}/`) : [];
      await io.deleteMany(rest.map((f) => f.uri));
      out.files += rest.length;
      await catalog.dropNamespace(ns).catch(() => false);
      out.namespaces.push(ns);
    }
    const names = (await watermarks.list(pool))
      .map((w) => w.table)
      .filter((t) => {
        const m = /^drill_([0-9a-z]+)_/.exec(t);
        return m !== null && isOld(m[1]);
      });
    out.runRows = await runs.removeForTables(pool, names);
    out.watermarkRows = await watermarks.remove(pool, names);
  } finally {
    await store.close();
  }
  return out;
}
