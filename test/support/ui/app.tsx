/** @jsxRuntime automatic @jsxImportSource react */
// The whole TUI on ink-testing-library's fake terminal, driven by a memory backend: the one render
// harness of the UI's tests. `openApp` renders the app at a size and waits for the first status
// (`renderApp` does not wait); `closeApps` (in afterEach) unmounts every app and disposes its session.
import { cleanup, render } from 'ink-testing-library';
import { App } from '../../../src/ui/App.js';
import { TuiSession } from '../../../src/ui/session.js';
import { createTuiStore } from '../../../src/ui/store.js';
import { type Theme, ThemeContext } from '../../../src/ui/theme.js';
import { NOW } from './fixtures.js';
import type { MemoryBackend } from './memory-backend.js';
import { plain, resizeTerminal, tick, waitForFrame } from './terminal.js';

export interface OpenApp<B extends MemoryBackend> {
  backend: B;
  session: TuiSession;
  ui: ReturnType<typeof render>;
  /** Types keys one after the other, letting Ink render between them. */
  press(...keys: string[]): Promise<void>;
  /** The last frame without colour codes. */
  frame(): string;
  /** The line of the tables screen that shows `table` ('' when none does). */
  rowOf(table: string): string;
  /** Polls the frame until `predicate` holds (fails with the frame after a deadline). */
  until(predicate: (frame: string) => boolean): Promise<string>;
}

const sessions: TuiSession[] = [];

/** The app rendered at a size, its first status not loaded yet (`session.refresh()` loads it). */
export function renderApp<B extends MemoryBackend>(
  backend: B,
  size: { columns: number; rows: number } = { columns: 100, rows: 30 },
  options: { theme?: Theme } = {},
): OpenApp<B> {
  const session = new TuiSession(createTuiStore(), backend, { refreshSec: 0, now: () => NOW });
  sessions.push(session);
  const app = <App session={session} refreshSec={5} clock={() => NOW} />;
  const ui = render(options.theme ? <ThemeContext.Provider value={options.theme}>{app}</ThemeContext.Provider> : app);
  resizeTerminal(ui, size.columns, size.rows);
  const frame = () => plain(ui.lastFrame());
  return {
    backend,
    session,
    ui,
    async press(...keys) {
      for (const k of keys) {
        ui.stdin.write(k);
        await tick(15);
      }
    },
    frame,
    rowOf: (table) =>
      frame()
        .split('\n')
        .find((l) => l.includes(` ${table} `)) ?? '',
    until: (predicate) => waitForFrame(ui, predicate),
  };
}

/** The app rendered at a size, showing its first status. */
export async function openApp<B extends MemoryBackend>(
  backend: B,
  size?: { columns: number; rows: number },
  options: { theme?: Theme } = {},
): Promise<OpenApp<B>> {
  const app = renderApp(backend, size, options);
  await app.session.refresh();
  await app.until((f) => f.includes('ohlcv_1d'));
  return app;
}

export async function closeApps(): Promise<void> {
  cleanup();
  await Promise.all(sessions.splice(0).map((s) => s.dispose()));
}
