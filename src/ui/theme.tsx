// Colours by meaning, one place. With NO_COLOR set (https://no-color.org) every colour is dropped;
// states stay readable because each is also written out as a word and a glyph.
import { createContext, useContext } from 'react';
import { processEnv, type Env } from '../config/env.js';
import { TABLE_STATE_LABEL } from '../pipeline/status-model.js';
import type { RowState } from './store.js';

type Color = string | undefined;

export interface Theme {
  isColor: boolean;
  state: Record<RowState, Color>;
  accent: Color;
  error: Color;
  warn: Color;
  ok: Color;
  muted: Color;
}

export const STATE_GLYPH: Record<RowState, string> = {
  'up-to-date': '✓',
  pending: '•',
  running: '▶',
  failed: '✗',
  busy: '⊘',
  unknown: '?',
};

/** The same words `offload status` prints. */
export const STATE_LABEL: Record<RowState, string> = TABLE_STATE_LABEL;

const COLORS: Theme = {
  isColor: true,
  state: { 'up-to-date': 'green', pending: 'yellow', running: 'cyan', failed: 'red', busy: 'magenta', unknown: 'gray' },
  accent: 'cyan',
  error: 'red',
  warn: 'yellow',
  ok: 'green',
  muted: 'gray',
};

const MONO: Theme = {
  isColor: false,
  state: { 'up-to-date': undefined, pending: undefined, running: undefined, failed: undefined, busy: undefined, unknown: undefined },
  accent: undefined,
  error: undefined,
  warn: undefined,
  ok: undefined,
  muted: undefined,
};

export function themeFromEnv(env: Env = processEnv()): Theme {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '' ? MONO : COLORS;
}

export const ThemeContext = createContext<Theme>(COLORS);

export function useTheme(): Theme {
  return useContext(ThemeContext);
}
