// One class of error per failure kind, each mapped to one documented exit code (see `offload --help`).

export const ExitCode = {
  ok: 0,
  failed: 1, // an offload or check failed (details in the output)
  usage: 2, // bad command line
  config: 3, // bad configuration file or environment
  unavailable: 4, // a service (ClickHouse, PostgreSQL, S3) cannot be reached
  busy: 5, // another worker holds the table
  conflict: 6, // a concurrent commit won and re-planning did not succeed
  invariant: 7, // a drill or verify found an invariant broken
  internal: 70,
} as const;
export type ExitCodeName = keyof typeof ExitCode;

export class OffloadError extends Error {
  readonly exitCode: number = ExitCode.failed;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration file or environment variable is wrong: the message names file, key and expectation. */
export class ConfigError extends OffloadError {
  override readonly exitCode: number = ExitCode.config;
}

/** A bad command line (unknown table, conflicting flags). */
export class UsageError extends OffloadError {
  override readonly exitCode: number = ExitCode.usage;
}

/** A service cannot be reached; the message names the service and its redacted URL. */
export class ServiceUnavailable extends OffloadError {
  override readonly exitCode: number = ExitCode.unavailable;
  constructor(
    readonly service: 'ClickHouse' | 'PostgreSQL' | 'S3',
    readonly url: string,
    detail: string,
    hint = 'Is the server running? `npm run stack:status` shows the local stack.',
    options?: { cause?: unknown },
  ) {
    super(`cannot reach ${service} at ${url} (${detail}).\n  ${hint}`, options);
  }
}

/** Another worker holds the table's advisory lock. */
export class TableBusy extends OffloadError {
  override readonly exitCode: number = ExitCode.busy;
  constructor(readonly table: string) {
    super(`${table} is busy: another worker holds its lock; nothing was done.`);
  }
}

/** The catalog's metadata location changed under us (compare-and-set lost). */
export class CommitConflict extends OffloadError {
  override readonly exitCode: number = ExitCode.conflict;
  constructor(
    readonly table: string,
    readonly expected: string | null,
    readonly actual: string | null,
  ) {
    super(`commit conflict on ${table}: expected metadata ${expected ?? '(none)'}, found ${actual ?? '(none)'}`);
  }
}

/** A schema or value cannot be represented (e.g. an unsupported ClickHouse type). */
export class SchemaError extends OffloadError {}

/** A verification found rows lost or duplicated, or state that disagrees. */
export class InvariantViolation extends OffloadError {
  override readonly exitCode: number = ExitCode.invariant;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof OffloadError ? err.exitCode : ExitCode.internal;
}
