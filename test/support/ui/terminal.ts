// Helpers for the UI's tests on ink-testing-library's fake terminal: give it a size (it has no rows
// and is fixed at 100 columns), and wait for a frame instead of sleeping.
import type { EventEmitter } from 'node:events';

export interface FakeTerminal {
  stdout: EventEmitter;
  lastFrame: () => string | undefined;
}

/** Sets the fake terminal's size and tells Ink, as a real resize would. */
export function resizeTerminal(ui: FakeTerminal, columns: number, rows: number): void {
  Object.defineProperty(ui.stdout, 'columns', { value: columns, configurable: true });
  Object.defineProperty(ui.stdout, 'rows', { value: rows, configurable: true });
  ui.stdout.emit('resize');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches terminal escape codes and control characters on purpose
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function plain(frame: string | undefined): string {
  return (frame ?? '').replace(ANSI, '');
}

/** Polls the last frame until `predicate` holds; fails with the frame after `timeoutMs`. */
export async function waitForFrame(ui: FakeTerminal, predicate: (frame: string) => boolean, timeoutMs = 3000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = plain(ui.lastFrame());
    if (predicate(frame)) return frame;
    if (Date.now() > deadline) throw new Error(`frame did not match within ${timeoutMs}ms; last frame:\n${frame}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Lets Ink process pending input and render. */
export function tick(ms = 30): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export const KEY = {
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  enter: '\r',
  escape: '\x1b',
  tab: '\t',
  backspace: '\x7f',
  ctrlC: '\x03',
} as const;
