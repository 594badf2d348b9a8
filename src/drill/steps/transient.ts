// A transient step: the run talks to one service through the fault proxy (fault-proxy.ts): S3 errors or
// stalls, a PostgreSQL COMMIT whose answer is lost, a ClickHouse response reset mid-stream, a REST catalog
// commit whose answer is lost after the catalog applied it. It must retry what is safe to retry, settle what
// is ambiguous, or fail cleanly; the next run recovers; then every invariant is checked.
import { UsageError } from '../../core/errors.js';
import { faultSimulates, type TransientFault } from '../catalogue.js';
import { isCleanEnd } from '../child.js';
import { FaultProxy, postgresQueryMessage, targetOf, throughProxy, type ProxyFault } from '../fault-proxy.js';
import { brokenChecks, outcomeOfChecks, type ChildRun, type DrillStep } from '../report.js';
import type { DrillSession, SandboxTable } from '../sandbox.js';
import { RestCatalog } from '../../iceberg/rest-catalog.js';
import { parseIdentifier } from '../../iceberg/types.js';

type Env = Record<string, string | undefined>;

/**
 * The proxy a transient fault needs: which service, and what it does. `restCommit`: the request line of the
 * sandbox table's REST commit (`POST /v1/…/tables/<t>`), which rest-drop cuts the answer of.
 */
export function proxyFaultOf(
  fault: TransientFault,
  restCommit = 'POST /v1/',
): {
  service: 'ClickHouse' | 'PostgreSQL' | 'S3' | 'REST catalog';
  protocol: 'tcp' | 'http';
  fault: ProxyFault;
} {
  switch (fault) {
    case 's3-500':
      return {
        service: 'S3',
        protocol: 'http',
        fault: { kind: 'http-error', status: 500, requests: 3, match: { method: 'PUT', pathIncludes: '/data/' } },
      };
    case 's3-503':
      return { service: 'S3', protocol: 'http', fault: { kind: 'http-error', status: 503, requests: 3 } };
    case 's3-timeout':
      return {
        service: 'S3',
        protocol: 'http',
        fault: { kind: 'http-stall', requests: 2, stallMs: 3000, match: { method: 'PUT', pathIncludes: '/data/' } },
      };
    case 'pg-drop':
      return {
        service: 'PostgreSQL',
        protocol: 'tcp',
        fault: { kind: 'drop-on-message', match: postgresQueryMessage('COMMIT'), when: 'after-reply', times: 1 },
      };
    case 'ch-reset':
      return { service: 'ClickHouse', protocol: 'tcp', fault: { kind: 'reset-after-bytes', bytes: 16 * 1024, times: 1 } };
    case 'rest-drop':
      return {
        service: 'REST catalog',
        protocol: 'tcp',
        fault: { kind: 'drop-on-message', match: Buffer.from(`${restCommit} HTTP/1.1\r\n`, 'latin1'), when: 'after-reply', times: 1 },
      };
  }
}

/** The environment variable naming each service's URL (the proxy goes in front of it). */
const SERVICE_URL_VARIABLE = {
  ClickHouse: 'CLICKHOUSE_URL',
  PostgreSQL: 'DATABASE_URL',
  S3: 'AWS_ENDPOINT_URL_S3',
  'REST catalog': 'OFFLOAD_CATALOG_URI',
} as const;

export async function transientStep(
  session: DrillSession,
  index: number,
  s: SandboxTable,
  fault: TransientFault,
  cutoffSec: number | null,
): Promise<DrillStep> {
  const began = performance.now();
  const lagMs = cutoffSec === null ? null : session.lagFor(s.table, cutoffSec);
  const catalog = session.catalog;
  if (fault === 'rest-drop' && !(catalog instanceof RestCatalog))
    throw new UsageError(`the ${fault} drill needs a REST catalog (OFFLOAD_CATALOG=rest, OFFLOAD_CATALOG_URI)`);
  const restCommit = catalog instanceof RestCatalog ? await catalog.commitRequestLine(parseIdentifier(s.table.target)) : undefined;
  const spec = proxyFaultOf(fault, restCommit);
  const env = session.options.env;
  const variable = SERVICE_URL_VARIABLE[spec.service];
  const serviceUrl = spec.service === 'S3' ? (env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL) : env[variable];
  if (!serviceUrl) throw new UsageError(`the ${fault} drill needs ${variable} (the proxy goes in front of it)`);
  const proxy = await FaultProxy.start({ target: targetOf(serviceUrl), protocol: spec.protocol, fault: spec.fault });
  proxy.onInjected((f) => session.emit({ kind: 'fault-injected', index, detail: `${spec.service}: ${f.detail}` }));
  const runsOut: ChildRun[] = [];
  let faulty: ChildRun;
  try {
    const override: Env =
      spec.service === 'S3' ? { AWS_ENDPOINT_URL_S3: `http://${proxy.address}` } : { [variable]: throughProxy(serviceUrl, proxy) };
    faulty = await session.offload(index, 'faulty', s, { lagMs, env: override });
    runsOut.push(faulty);
  } finally {
    await proxy.close();
  }
  const injected = proxy.snapshot().injected;
  // After the fault: a run without faults must recover and end cleanly.
  const recovery = await session.offload(index, 'recovery', s, { lagMs });
  runsOut.push(recovery);
  const verification = await session.verify(index, s);
  let outcome = outcomeOfChecks(verification);
  let note = faulty.exitCode === 0 ? `the run got past the fault (${faulty.outcome})` : `the run failed cleanly: ${faulty.outcome}`;
  if (!isCleanEnd(faulty)) {
    outcome = 'broken';
    note = `the run under the fault did not end cleanly: ${faulty.outcome}`;
  } else if (recovery.exitCode !== 0) {
    outcome = 'broken';
    note = `the recovery run did not succeed: ${recovery.outcome}`;
  } else if (injected === 0 && outcome !== 'broken') {
    outcome = 'inconclusive';
    note = `the fault was never injected (the run made no request it applies to): ${faulty.outcome}`;
  }
  if (outcome === 'broken' && verification.checks.some((c) => c.status === 'broken')) note = `${note}; ${brokenChecks(verification)}`;
  return {
    index,
    kind: 'transient',
    table: s.original.name,
    fault,
    simulates: faultSimulates(fault, session.catalog.kind),
    runs: runsOut,
    injected,
    verification,
    outcome,
    note,
    elapsedMs: Math.round(performance.now() - began),
  };
}
