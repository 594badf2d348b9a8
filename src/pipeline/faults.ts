// Every fault point of the offload, named in one list. A drill arms one with OFFLOAD_FAULT=<point> (or
// <point>@<table>, to hit only that table; `<point>:<n>` fires on the n-th time the point is reached), and
// the process then kills itself with SIGKILL at that point — a real crash, not an exception, so nothing
// gets to clean up. Unarmed, a fault point costs one comparison.
//
// Where each one sits (in protocol order), and the step file that fires it:
//   after-plan          plan.ts    the run is recorded as running and its window planned; nothing written yet
//   mid-extract         extract.ts rows are streaming from ClickHouse into the first slice's file
//   after-data-upload   upload.ts  every data file of the run is in the table location; no metadata yet
//   after-manifests     stage.ts   the manifest adding the files is written; no manifest list or metadata file
//   after-metadata-file stage.ts   the manifest list and the next metadata.json are written; the catalog is unchanged
//                                  (REST catalog: the manifest list only; the server writes the metadata file)
//   before-commit       stage.ts   everything staged; the PostgreSQL transaction (REST: the commit request) has not begun
//   inside-commit       commit.ts  JDBC catalog: compare-and-set, watermark and run record done inside the
//                                  transaction, COMMIT not sent. REST catalog: after the REST commit was applied,
//                                  before the PostgreSQL update — the table holds the run, the watermark is one run
//                                  behind, and the next run's recovery records it from the snapshot summary
//   after-commit        commit.ts  committed (REST: and recorded in PostgreSQL); the process dies before reporting it
import { writeSync } from 'node:fs';
import { processEnv, type Env } from '../config/env.js';

export const FAULT_POINTS = [
  'after-plan',
  'mid-extract',
  'after-data-upload',
  'after-manifests',
  'after-metadata-file',
  'before-commit',
  'inside-commit',
  'after-commit',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

export const FAULT_ENV = 'OFFLOAD_FAULT';

interface Armed {
  point: FaultPoint;
  table: string | null;
  /** Fire on the n-th hit (1 = first). */
  nth: number;
  hits: number;
}

let armed: Armed | null | undefined;

/** Parses `point[@table][:n]`; throws on an unknown point so a typo never silently disarms a drill. */
export function parseFault(text: string): Omit<Armed, 'hits'> {
  const m = /^([a-z-]+)(?:@([A-Za-z0-9_]+))?(?::(\d+))?$/.exec(text.trim());
  if (!m || !(FAULT_POINTS as readonly string[]).includes(m[1])) {
    throw new Error(`${FAULT_ENV}="${text}": unknown fault point (known: ${FAULT_POINTS.join(', ')}; form point[@table][:n])`);
  }
  return { point: m[1] as FaultPoint, table: m[2] ?? null, nth: m[3] ? Math.max(1, Number(m[3])) : 1 };
}

/** Arms from the environment (once per process); returns the armed fault, if any. */
export function armFromEnv(env: Env = processEnv()): Omit<Armed, 'hits'> | null {
  const text = env[FAULT_ENV];
  armed = text ? { ...parseFault(text), hits: 0 } : null;
  return armed;
}

/** Disarms (tests). */
export function disarm(): void {
  armed = null;
}

/** The process dies here, with SIGKILL, if this point is armed (for this table). */
export function faultPoint(point: FaultPoint, table?: string): void {
  if (armed === undefined) armFromEnv();
  if (!armed || armed.point !== point) return;
  if (armed.table !== null && armed.table !== table) return;
  armed.hits += 1;
  if (armed.hits < armed.nth) return;
  // Synchronous: the message must be out before the process is gone.
  writeSync(2, `offload: fault point ${point}${table ? ` (${table})` : ''} reached: killing this process (SIGKILL)\n`);
  process.kill(process.pid, 'SIGKILL');
}
