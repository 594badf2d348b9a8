// The local stack's Iceberg REST catalog server (dev/rest-catalog.sh), for the tests that run the core paths
// on it too. One server is shared by every test: each keeps its tables in a namespace of its own and drops
// it afterwards. In CI (CI=true) a missing server fails those tests instead of skipping them.
import type { RestCatalogSettings } from '../../src/config/catalog.js';
import type { Catalog } from '../../src/iceberg/catalog.js';
import type { FileIO } from '../../src/iceberg/io.js';
import { stackEnv } from './stack.js';

const uri = stackEnv().OFFLOAD_STACK_REST_URI;

/** Why the REST tests cannot run here, or false. */
export const restCatalogSkip: string | false = await (async () => {
  if (process.env.CI === 'true') return false;
  if (!uri) return 'the stack has no REST catalog: OFFLOAD_STACK_REST=1 dev/stack.sh up (or dev/rest-catalog.sh up)';
  const answers = await fetch(`${uri}/v1/config`)
    .then((r) => r.ok)
    .catch(() => false);
  return answers ? false : `the stack's REST catalog at ${uri} does not answer: dev/rest-catalog.sh status`;
})();

/** The stack's REST catalog as the offload's settings (no authentication: the test server checks none). */
export function restCatalogSettings(): RestCatalogSettings {
  if (!uri)
    throw new Error('the stack has no REST catalog (OFFLOAD_STACK_REST_URI is not in .stack/env): OFFLOAD_STACK_REST=1 dev/stack.sh up');
  return { kind: 'rest', uri, warehouse: null, auth: { kind: 'none' } };
}

/** The one setting that points a fresh installation's CLI at the stack's REST catalog (a URI alone means rest). */
export function restCatalogEnv(): Record<string, string> {
  return { OFFLOAD_CATALOG_URI: restCatalogSettings().uri };
}

/** Drops a test's namespace from the shared server: its tables, their files, the namespace. */
export async function dropRestNamespace(catalog: Catalog, io: FileIO, namespace: string): Promise<void> {
  for (const ident of await catalog.listTables(namespace).catch(() => [])) {
    const table = await catalog.loadTable(ident);
    if (table) await io.deleteMany((await io.list(`${table.metadata.location.replace(/\/+$/, '')}/`)).map((f) => f.uri));
    await catalog.dropTable(ident);
  }
  await catalog.dropNamespace(namespace);
}
