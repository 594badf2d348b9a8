// `offload tui` (and `offload` with no arguments): the operator's screen. Thin: check the terminal,
// read the options, build the backend from the configuration, hand over to src/ui.
import type { Command } from 'commander';
import { ExitCode, UsageError } from '../core/errors.js';
import { logLine, type CommandContext } from './output.js';

export interface TuiOptions {
  config?: string;
  refresh: string;
}

export const DEFAULT_REFRESH_SEC = 5;

export const NO_TTY_HINT = 'offload: the TUI needs an interactive terminal; use `offload status` (or `offload status --json`) instead.';

export function parseRefresh(text: string): number {
  const sec = Number(text);
  if (!Number.isFinite(sec) || sec < 0 || sec > 3600) {
    throw new UsageError(`--refresh: "${text}" is not a number of seconds between 0 (never) and 3600`);
  }
  return sec;
}

export async function tui(options: TuiOptions, ctx: CommandContext): Promise<void> {
  if (!(process.stdin.isTTY && process.stdout.isTTY)) {
    logLine(ctx.stderr, NO_TTY_HINT, { level: 'error', event: 'usage-error' });
    ctx.exitCode = ExitCode.usage;
    return;
  }
  const refreshSec = parseRefresh(options.refresh);
  // Ink draws only the last frame when it believes it runs in CI (it reads these when imported); an
  // interactive terminal is not CI, whatever the environment says.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  // React's development build re-checks every render; the screen redraws many times a second.
  process.env.NODE_ENV ??= 'production';
  // Imported here so the other commands never load React and Ink.
  const { runTui } = await import('../ui/run.js');
  const { createPipelineBackend } = await import('../ui/pipeline-backend.js');
  // Configuration errors are printed before the screen opens.
  const backend = createPipelineBackend({ config: options.config, env: ctx.env });
  ctx.exitCode = await runTui({ backend, refreshSec });
}

export function registerTui(program: Command, ctx: CommandContext): void {
  program
    .command('tui')
    .description('open the operator screen (also `offload` alone): every table live, offload one or all, watch progress')
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .option('--refresh <seconds>', 'seconds between automatic refreshes (0: only on r)', String(DEFAULT_REFRESH_SEC))
    .addHelpText(
      'after',
      '\nNeeds an interactive terminal; without one it says so and exits with code 2 (use `offload status` instead).\nPress ? on the screen for every key.',
    )
    .action(async (options: TuiOptions) => {
      await tui(options, ctx);
    });
}
