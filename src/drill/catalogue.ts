// What a drill can do to an offload: the crash faults (the pipeline's own fault points, armed in a child by
// FAULT_ENV), the transient faults (injected by the fault proxy), what each one simulates, and the choices
// the TUI's drill screen offers.
import type { OffloadConfig } from '../config/tables.js';
import { FAULT_POINTS, type FaultPoint } from '../pipeline/faults.js';

/** The crash fault points, in protocol order (named in pipeline/faults.ts, armed in a child by FAULT_ENV). */
export const CRASH_FAULTS = FAULT_POINTS;
export type CrashFault = FaultPoint;

/** The transient faults of every catalog. */
export const TRANSIENT_FAULTS = ['s3-500', 's3-503', 's3-timeout', 'pg-drop', 'ch-reset'] as const;
/** The transient faults only a REST catalog has: the answer to its commit lost. */
export const REST_TRANSIENT_FAULTS = ['rest-drop'] as const;
export type TransientFault = (typeof TRANSIENT_FAULTS)[number] | (typeof REST_TRANSIENT_FAULTS)[number];

/** Which catalog the drilled offloads commit to (iceberg/catalog.ts `kind`): the commit step, and so some faults, differ. */
export type CatalogKind = 'jdbc' | 'rest';

/** The transient faults a drill on this catalog injects (`--all-faults`). */
export function transientFaultsFor(kind: CatalogKind): TransientFault[] {
  return kind === 'rest' ? [...TRANSIENT_FAULTS, ...REST_TRANSIENT_FAULTS] : [...TRANSIENT_FAULTS];
}

/** What each fault simulates, for reports, the TUI and docs/drills.md. */
export const FAULT_SIMULATES: Record<CrashFault | TransientFault, string> = {
  'after-plan': 'the process dies right after planning its window: the run is recorded as running, nothing is written yet',
  'mid-extract': 'the process dies while rows stream from ClickHouse: a partial extract on local disk, nothing in the table',
  'after-data-upload': 'the process dies after its Parquet data files reached S3, before any manifest names them: orphan data files',
  'after-manifests': 'the process dies after writing manifests and the manifest list, before the metadata file: orphan data and manifests',
  'after-metadata-file':
    'the process dies after writing the next metadata.json, which the catalog does not point at: a complete but uncommitted version',
  'before-commit': 'the process dies with everything staged, just before the commit transaction begins',
  'inside-commit':
    'the process dies inside the commit transaction (catalog pointer and watermark updated, COMMIT not sent): PostgreSQL rolls it back',
  'after-commit': 'the process dies right after COMMIT, before anything that follows it: the commit stands, the run must not be repeated',
  's3-500': 'S3 answers the first 3 uploads of data files with 500 InternalError',
  's3-503': 'S3 answers the first 3 requests of the run (whatever they are) with 503 SlowDown (throttling)',
  's3-timeout': 'S3 holds the first 2 uploads of data files for 3 s and then drops the connection without an answer (a timeout)',
  'pg-drop':
    "the commit transaction's COMMIT reaches PostgreSQL and commits, but the connection drops before the answer: an ambiguous commit",
  'ch-reset': 'the ClickHouse connection is reset after 16 KiB of a response: the extract stream is cut mid-way',
  'rest-drop':
    'the REST commit reaches the catalog and is applied, but the connection drops before the answer: an ambiguous commit, settled from the reloaded table',
};

/** Where a REST catalog's commit (pipeline/commit.ts) makes a fault mean something else than with the JDBC catalog. */
const ON_REST: Partial<Record<CrashFault | TransientFault, string>> = {
  'after-metadata-file':
    'the process dies after writing the manifest list (a REST catalog writes the metadata file itself): a complete but uncommitted version',
  'before-commit': 'the process dies with everything staged, just before the REST commit is sent',
  'inside-commit':
    'the process dies after the REST catalog applied the commit and before PostgreSQL recorded it: the table holds the run, the watermark is one run behind until recovery records it from the snapshot summary',
  'after-commit':
    'the process dies right after the REST commit and its record in PostgreSQL, before anything that follows: the commit stands, the run must not be repeated',
  'pg-drop': 'the PostgreSQL transaction recording a REST commit reaches COMMIT and commits, but the connection drops before the answer',
};

/** What a fault simulates with this catalog. */
export function faultSimulates(fault: CrashFault | TransientFault, kind: CatalogKind): string {
  return (kind === 'rest' ? ON_REST[fault] : undefined) ?? FAULT_SIMULATES[fault];
}

/** What a person can pick on the TUI's drill screen, in order: crash points, transient faults, two workers, random. */
export interface DrillChoiceOption {
  id: string;
  kind: 'crash' | 'transient' | 'concurrent' | 'random';
  label: string;
  simulates: string;
}

export const RANDOM_KILLS_IN_TUI = 10;

export function drillChoices(catalog: CatalogKind = 'jdbc'): DrillChoiceOption[] {
  return [
    ...CRASH_FAULTS.map((f) => ({ id: f, kind: 'crash' as const, label: f, simulates: faultSimulates(f, catalog) })),
    ...transientFaultsFor(catalog).map((f) => ({ id: f, kind: 'transient' as const, label: f, simulates: faultSimulates(f, catalog) })),
    {
      id: 'concurrent',
      kind: 'concurrent' as const,
      label: 'two workers',
      simulates:
        'two workers on one table: the one holding it dies at mid-extract, the other must be turned away meanwhile, then two race to recover',
    },
    {
      id: 'random',
      kind: 'random' as const,
      label: `random (${RANDOM_KILLS_IN_TUI} kills)`,
      simulates: `${RANDOM_KILLS_IN_TUI} kills at random fault points across repeated offloads, while new trades arrive when the source is the seed schema`,
    },
  ];
}

export function isCrashFault(f: string): f is CrashFault {
  return (CRASH_FAULTS as readonly string[]).includes(f);
}
export function isTransientFault(f: string): f is TransientFault {
  return (TRANSIENT_FAULTS as readonly string[]).includes(f) || (REST_TRANSIENT_FAULTS as readonly string[]).includes(f);
}

/** The tables a drill takes by default: the first configured table of each layer. */
export function defaultDrillTables(config: OffloadConfig): string[] {
  const out: string[] = [];
  for (const layer of ['bronze', 'silver', 'gold'] as const) {
    const t = config.tables.find((x) => x.layer === layer);
    if (t) out.push(t.name);
  }
  return out;
}
