// The `offload` command line: parses argv, picks a command, and turns every failure into one line on stderr
// (and, under --json, a JSON document on stdout) and the documented exit code. Commands live in
// src/commands/, one file per verb.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { secretsOf, type Env } from './config/env.js';
import { scrubSecrets } from './config/redact.js';
import { ExitCode, OffloadError, UsageError, exitCodeOf, failureDocument } from './core/errors.js';
import { registerCompact } from './commands/compact.js';
import { registerDrill } from './commands/drill.js';
import { registerExpire } from './commands/expire.js';
import { registerInit } from './commands/init.js';
import { registerGc } from './commands/gc.js';
import { registerRepair } from './commands/repair.js';
import { registerRun } from './commands/run.js';
import { registerRuns } from './commands/runs.js';
import { firstArgumentBesideLogFormat, isJsonLog, JsonLogStream, LOG_FORMATS, logFormatOf } from './commands/log-format.js';
import { defaultContext, printJson, type CommandContext } from './commands/output.js';
import { registerSeed } from './commands/seed.js';
import { registerServeMetrics } from './commands/serve-metrics.js';
import { registerStatus } from './commands/status.js';
import { registerTui } from './commands/tui.js';
import { registerVerify } from './commands/verify.js';

const EXIT_CODES = `
Exit codes:
  0   success
  1   an offload or check failed (details in the output)
  2   bad command line
  3   bad configuration, environment or credentials (a retry will not help; also: the metrics port is in use)
  4   a service (ClickHouse, PostgreSQL, S3) cannot be reached (a retry may help)
  5   another worker holds the table
  6   a concurrent commit won and re-planning did not succeed
  7   a drill found an invariant broken
  70  internal error (set OFFLOAD_DEBUG=1 for the stack trace)
Every failure is one line on stderr naming the service, what failed and what to check; with --json also
a document {"error", "exitCode", "kind", "service"} on stdout. Several failures: 3 if any is 3, else 4 if
any is 4, else their common code, else 1.

Connections come from CLICKHOUSE_URL, DATABASE_URL (or PGHOST and the PG* variables) and OFFLOAD_WAREHOUSE,
all required, and the AWS_* variables; tables from offload.config.json (--config / OFFLOAD_CONFIG).
\`source .stack/env\` sets them for the local stack.`;

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('offload')
    .description('Moves ClickHouse rows into Apache Iceberg tables exactly once; watermarks in PostgreSQL.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => {
        const text = s.replace(/^error: /, '');
        if (isJsonLog(ctx.stderr)) ctx.stderr.record(text.trim(), { level: 'error', event: 'usage-error', exitCode: ExitCode.usage });
        else write(`offload: ${text}`);
      },
    })
    .addOption(
      new Option('--log-format <format>', 'human lines, or json: one JSON object a line (time, level, event, table, runId, message)')
        .choices(LOG_FORMATS)
        .default('human'),
    )
    .addHelpText('after', EXIT_CODES);
  // Subcommands created with .command() inherit exitOverride and the output configuration above.
  registerInit(program, ctx);
  registerSeed(program, ctx);
  registerRun(program, ctx);
  registerRuns(program, ctx);
  registerGc(program, ctx);
  registerCompact(program, ctx);
  registerVerify(program, ctx);
  registerRepair(program, ctx);
  registerExpire(program, ctx);
  registerStatus(program, ctx);
  registerTui(program, ctx);
  registerDrill(program, ctx);
  registerServeMetrics(program, ctx);
  return program;
}

/** The line a person sees for an error: secrets scrubbed, a stack only with OFFLOAD_DEBUG=1. */
export function describeError(err: unknown, env: Env): string {
  return scrubSecrets(errorText(err, env.OFFLOAD_DEBUG === '1'), secretsOf(env));
}

function errorText(err: unknown, debug: boolean): string {
  if (err instanceof OffloadError) return err.message;
  if (!(err instanceof Error)) return `internal error: ${String(err)}`;
  const text = `internal error: ${err.message}${debug ? '' : ' (set OFFLOAD_DEBUG=1 for the stack trace)'}`;
  return debug && err.stack ? `${text}\n${err.stack.split('\n').slice(1).join('\n')}` : text;
}

/** `--json` among the arguments (before a `--`): the caller reads stdout as one JSON document. */
function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--json');
}

/** Under --log-format json every line the command prints, on either stream, becomes a JSON record. */
function withLogFormat(argv: string[], ctx: CommandContext): CommandContext {
  if (logFormatOf(argv) !== 'json') return ctx;
  return { ...ctx, stdout: new JsonLogStream(ctx.stdout), stderr: new JsonLogStream(ctx.stderr) };
}

export async function main(argv: string[], given: CommandContext = defaultContext()): Promise<number> {
  const ctx = withLogFormat(argv, given);
  try {
    return await runProgram(argv, ctx);
  } finally {
    for (const out of [ctx.stdout, ctx.stderr]) if (isJsonLog(out)) out.flush();
  }
}

async function runProgram(argv: string[], ctx: CommandContext): Promise<number> {
  const program = buildProgram(ctx);
  // No command opens the operator screen (`offload`, `offload --refresh 2`); without a terminal it says
  // to use `offload status`.
  const first = firstArgumentBesideLogFormat(argv);
  const isTuiDefault = first === undefined || (first.startsWith('-') && !['-h', '--help', '-V', '--version'].includes(first));
  const args = isTuiDefault ? [...argv.slice(0, 2), 'tui', ...argv.slice(2)] : argv;
  try {
    await program.parseAsync(args);
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with exit code 0; everything else commander rejects is a usage error
      // (it has already printed the message).
      if (err.exitCode === 0) return ExitCode.ok;
      if (wantsJson(args)) printJson(ctx.stdout, failureDocument(new UsageError(err.message), err.message.replace(/^error: /, '')));
      return ExitCode.usage;
    }
    const line = describeError(err, ctx.env);
    if (isJsonLog(ctx.stderr)) ctx.stderr.record(line, { level: 'error', event: 'error', exitCode: exitCodeOf(err) });
    else ctx.stderr.write(`offload: ${line}\n`);
    if (wantsJson(args)) printJson(ctx.stdout, failureDocument(err, describeError(err, { ...ctx.env, OFFLOAD_DEBUG: undefined })));
    return exitCodeOf(err);
  }
}

const code = await main(process.argv);
// Exit explicitly once output is flushed: a lingering keep-alive socket must not keep a finished command alive.
process.stdout.write('', () => process.exit(code));
