// A transient step: the run talks to one service through the fault proxy (fault-proxy.ts): S3 errors or
// stalls, a PostgreSQL COMMIT whose answer is lost, a ClickHouse response reset mid-stream. It must retry
// what is safe to retry or fail cleanly; the next run recovers; then every invariant is checked.
import { UsageError } from '../../core/errors.js';
import { FAULT_SIMULATES, type TransientFault } from '../catalogue.js';
import { isCleanEnd } from '../child.js';
import { FaultProxy, postgresQueryMessage, targetOf, throughProxy, type ProxyFault } from '../fault-proxy.js';
import { brokenChecks, outcomeOfChecks, type ChildRun, type DrillStep } from '../report.js';
import type { DrillSession, SandboxTable } from '../sandbox.js';

type Env = Record<string, string | undefined>;

/** The proxy a transient fault needs: which service, and what it does. */
export function proxyFaultOf(fault: TransientFault): {
  service: 'ClickHouse' | 'PostgreSQL' | 'S3';
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
  }
}

export async function transientStep(
  session: DrillSession,
  index: number,
  s: SandboxTable,
  fault: TransientFault,
  cutoffSec: number | null,
): Promise<DrillStep> {
  const began = performance.now();
  const lagMs = cutoffSec === null ? null : session.lagFor(s.table, cutoffSec);
  const spec = proxyFaultOf(fault);
  const env = session.options.env;
  const serviceUrl =
    spec.service === 'ClickHouse'
      ? env.CLICKHOUSE_URL
      : spec.service === 'PostgreSQL'
        ? env.DATABASE_URL
        : (env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
  if (!serviceUrl)
    throw new UsageError(
      `the ${fault} drill needs ${spec.service === 'ClickHouse' ? 'CLICKHOUSE_URL' : spec.service === 'PostgreSQL' ? 'DATABASE_URL' : 'AWS_ENDPOINT_URL_S3'} (the proxy goes in front of it)`,
    );
  const proxy = await FaultProxy.start({ target: targetOf(serviceUrl), protocol: spec.protocol, fault: spec.fault });
  proxy.onInjected((f) => session.emit({ kind: 'fault-injected', index, detail: `${spec.service}: ${f.detail}` }));
  const runsOut: ChildRun[] = [];
  let faulty: ChildRun;
  try {
    const override: Env =
      spec.service === 'ClickHouse'
        ? { CLICKHOUSE_URL: throughProxy(serviceUrl, proxy) }
        : spec.service === 'PostgreSQL'
          ? { DATABASE_URL: throughProxy(serviceUrl, proxy) }
          : { AWS_ENDPOINT_URL_S3: `http://${proxy.address}` };
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
    simulates: FAULT_SIMULATES[fault],
    runs: runsOut,
    injected,
    verification,
    outcome,
    note,
    elapsedMs: Math.round(performance.now() - began),
  };
}
