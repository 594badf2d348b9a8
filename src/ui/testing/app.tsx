// The whole TUI on ink-testing-library's fake terminal, for the UI's tests: a session on a memory backend
// at a fixed clock, keys typed one by one, the last frame as plain text.
import { cleanup, render } from 'ink-testing-library';
import { App } from '../App.js';
import { TuiSession } from '../session.js';
import { createTuiStore } from '../store.js';
import { NOW } from './fixtures.js';
import type { MemoryBackend } from './memory-backend.js';
import { plain, resizeTerminal, tick, waitForFrame } from './terminal.js';

const sessions: TuiSession[] = [];

/** Opens the TUI on `backend`, loaded and showing its tables. */
export async function openApp<B extends MemoryBackend>(backend: B, size: { columns: number; rows: number }) {
  const session = new TuiSession(createTuiStore(), backend, { refreshSec: 0, now: () => NOW });
  sessions.push(session);
  const ui = render(<App session={session} refreshSec={5} clock={() => NOW} />);
  resizeTerminal(ui, size.columns, size.rows);
  await session.refresh();
  await waitForFrame(ui, (f) => f.includes('ohlcv_1d'));
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      ui.stdin.write(k);
      await tick(15);
    }
  };
  const frame = () => plain(ui.lastFrame());
  const rowOf = (table: string) =>
    frame()
      .split('\n')
      .find((l) => l.includes(` ${table} `)) ?? '';
  const until = (p: (f: string) => boolean) => waitForFrame(ui, p);
  return { backend, session, ui, press, frame, rowOf, until };
}

/** Unmounts every TUI opened and ends its session (after each test). */
export async function closeApps(): Promise<void> {
  cleanup();
  await Promise.all(sessions.splice(0).map((s) => s.dispose()));
}
