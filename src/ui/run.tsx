// Starts the TUI on the real terminal and guarantees the terminal is given back as it was found:
// on quit, on SIGTERM/SIGHUP, and on a crash (alternate screen left, cursor shown, raw mode off).
import { render } from 'ink';
import { App } from './App.js';
import type { OffloadBackend } from './backend.js';
import { TuiSession } from './session.js';
import { appendLog, createTuiStore } from './store.js';
import { ThemeContext, themeFromEnv } from './theme.js';

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';
const SHOW_CURSOR = '\x1b[?25h';

export interface RunTuiOptions {
  backend: OffloadBackend;
  refreshSec: number;
}

/** Runs until the operator quits; resolves with the process exit code. */
export async function runTui({ backend, refreshSec }: RunTuiOptions): Promise<number> {
  const stdout = process.stdout;
  const stdin = process.stdin;
  let isRestored = false;
  const restoreTerminal = () => {
    if (isRestored) return;
    isRestored = true;
    try {
      if (stdin.isTTY) stdin.setRawMode(false);
    } catch {
      /* stdin already closed */
    }
    // Shown on both screens: terminals differ on whether leaving the alternate screen restores it.
    stdout.write(SHOW_CURSOR + LEAVE_ALT_SCREEN + SHOW_CURSOR);
  };

  const store = createTuiStore();
  const session = new TuiSession(store, backend, { refreshSec });
  const log = (level: 'info' | 'warn' | 'error', message: string) =>
    store.setState((s) => ({ ...s, log: appendLog(s.log, { at: Date.now(), level, message }) }));

  // Anything the libraries print would tear the screen: it goes to the log pane instead.
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
  const asText = (args: unknown[]) =>
    args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  console.log = console.info = console.debug = (...args: unknown[]) => log('info', asText(args));
  console.warn = (...args: unknown[]) => log('warn', asText(args));
  console.error = (...args: unknown[]) => log('error', asText(args));
  const warningListeners = process.listeners('warning');
  process.removeAllListeners('warning');
  const onWarning = (w: Error) => log('warn', `${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  const restoreConsole = () => {
    Object.assign(console, saved);
    process.off('warning', onWarning);
    for (const l of warningListeners) process.on('warning', l);
  };

  const onCrash = (err: unknown) => {
    restoreConsole();
    restoreTerminal();
    process.stderr.write(`offload: the TUI crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(70);
  };
  const onStopSignal = () => {
    store.setState((s) => ({ ...s, overlay: null, quitting: 'stopping' }));
    session.execute({ kind: 'stop-then-exit' });
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  process.on('exit', restoreTerminal);
  for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.on(sig, onStopSignal);

  stdout.write(ENTER_ALT_SCREEN);
  const ink = render(
    <ThemeContext.Provider value={themeFromEnv()}>
      <App session={session} refreshSec={refreshSec} />
    </ThemeContext.Provider>,
    { exitOnCtrlC: false, patchConsole: false },
  );
  session.start();
  try {
    await session.exited;
  } finally {
    ink.unmount();
    // On the way out the terminal is given back whatever Ink or closing the connections report.
    await ink.waitUntilExit().catch(() => undefined);
    await session.dispose().catch(() => undefined);
    restoreConsole();
    restoreTerminal();
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    process.off('exit', restoreTerminal);
    for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.off(sig, onStopSignal);
  }
  return 0;
}
