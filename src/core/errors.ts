// One class of error per failure kind, each mapped to one documented exit code (see `offload --help`). The
// clients classify their own failures into these kinds (state/pool.ts, clickhouse/client.ts, iceberg/io.ts);
// this file is the one place that says which code each kind exits with.

export const ExitCode = {
  ok: 0,
  failed: 1, // an offload or check failed (details in the output)
  usage: 2, // bad command line
  config: 3, // bad configuration, environment or credentials; a retry will not help
  unavailable: 4, // a service (ClickHouse, PostgreSQL, S3) cannot be reached; a retry may help
  busy: 5, // another worker holds the table
  conflict: 6, // a concurrent commit won and re-planning did not succeed
  invariant: 7, // a drill found an invariant broken
  internal: 70,
} as const;
export type ExitCodeName = keyof typeof ExitCode;

/** The services the tool talks to, as messages and `offload status` name them. */
export type ServiceName = 'ClickHouse' | 'PostgreSQL' | 'S3';

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

/**
 * A service answered but will not work with these settings: credentials refused or missing, a database or
 * bucket that does not exist. A retry will not help, so it exits like a configuration error.
 */
export class ServiceRefused extends ConfigError {
  constructor(
    readonly service: ServiceName,
    readonly url: string,
    /** What was refused, in a few words (`login refused (…)`, `bucket "x" does not exist`). */
    readonly reason: string,
    hint: string,
    options?: { cause?: unknown },
  ) {
    super(`${service} at ${url}: ${reason}; ${hint}`, options);
  }
}

/** A bad command line (conflicting flags, a value that is not a number). */
export class UsageError extends OffloadError {
  override readonly exitCode: number = ExitCode.usage;
}

/** A service cannot be reached; the message names the service, its redacted URL and what to check. */
export class ServiceUnavailable extends OffloadError {
  override readonly exitCode: number = ExitCode.unavailable;
  constructor(
    readonly service: ServiceName,
    readonly url: string,
    /** Why, in a few words (`connection refused`). */
    readonly reason: string,
    hint = 'is the server running?',
    options?: { cause?: unknown },
  ) {
    super(`cannot reach ${service} at ${url} (${reason}); ${hint}`, options);
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

// When several failures happened, the one reported first is the one that asks for action: settings to fix
// (3) before a service to wait for (4); failures of other kinds agree on their code, or make it 1.
const URGENT_FIRST: readonly number[] = [ExitCode.config, ExitCode.unavailable];

/** The exit code for several failures' codes (0 for none): 3 if any is 3, else 4 if any is 4, else their common code, else 1. */
export function overallExitCode(codes: readonly number[]): number {
  if (codes.length === 0) return ExitCode.ok;
  const urgent = URGENT_FIRST.find((c) => codes.includes(c));
  if (urgent !== undefined) return urgent;
  return codes.every((c) => c === codes[0]) ? codes[0] : ExitCode.failed;
}

/** Of several failures, the one whose exit code overallExitCode picks (the first of them). */
export function mostUrgent(errors: readonly unknown[]): unknown {
  const code = overallExitCode(errors.map(exitCodeOf));
  return errors.find((e) => exitCodeOf(e) === code) ?? errors[0];
}

/** The name of an exit code (`unavailable` for 4), for JSON documents; `internal` for codes not listed. */
export function exitCodeName(code: number): ExitCodeName {
  return (Object.keys(ExitCode) as ExitCodeName[]).find((k) => ExitCode[k] === code) ?? 'internal';
}

/** The service a failure concerns, when it is about one. */
export function serviceOf(err: unknown): ServiceName | undefined {
  return err instanceof ServiceUnavailable || err instanceof ServiceRefused ? err.service : undefined;
}

/** A failure as `--json` prints it: the one line a person reads, the exit code and its name, the service. */
export interface FailureDocument {
  error: string;
  exitCode: number;
  kind: ExitCodeName;
  service?: ServiceName;
}

export function failureDocument(err: unknown, message: string): FailureDocument {
  const exitCode = exitCodeOf(err);
  const service = serviceOf(err);
  return { error: message, exitCode, kind: exitCodeName(exitCode), ...(service ? { service } : {}) };
}
