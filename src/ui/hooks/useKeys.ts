// Ink hands over keys that arrive in one read as one string ("jj\r" when keys are typed fast or sent
// by a script); the key map wants them one at a time.
import { useInput, type Key } from 'ink';
import { NO_KEY } from '../keys.js';

function keyOf(ch: string): [string, Key] {
  switch (ch) {
    case '\r':
    case '\n':
      return ['', { ...NO_KEY, return: true }];
    case '\t':
      return ['', { ...NO_KEY, tab: true }];
    case '\x7f':
    case '\b':
      return ['', { ...NO_KEY, backspace: true }];
    case '\x1b':
      return ['', { ...NO_KEY, escape: true, meta: true }];
    default:
      return [ch, { ...NO_KEY, shift: /[A-Z]/.test(ch) }];
  }
}

/** One input event as single keys: plain text of several characters becomes one key per character. */
export function splitKeys(input: string, key: Key): Array<[string, Key]> {
  if (input.length <= 1 || key.ctrl || key.meta) return [[input, key]];
  return [...input].map(keyOf);
}

export function useKeys(handler: (input: string, key: Key) => void): void {
  useInput((input, key) => {
    for (const [i, k] of splitKeys(input, key)) handler(i, k);
  });
}
