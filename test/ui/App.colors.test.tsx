// Test files are outside tsconfig.json, so the JSX transform is named here.
/** @jsxRuntime automatic @jsxImportSource react */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

// Colours are decided when chalk loads, so force them before Ink is imported.
process.env.FORCE_COLOR = '1';
const { closeApps, openApp } = await import('../support/ui/app.js');
const { themeFromEnv } = await import('../../src/ui/theme.js');
const { MemoryBackend } = await import('../support/ui/memory-backend.js');

after(closeApps);

async function rawFrame(env: Record<string, string>): Promise<string> {
  const { backend, session, ui, until } = await openApp(new MemoryBackend(), { columns: 100, rows: 30 }, { theme: themeFromEnv(env) });
  session.execute({ kind: 'offload', table: 'ohlcv_1d' });
  backend.runs[0].emit({ kind: 'phase', table: 'ohlcv_1d', runId: 'r', phase: 'extract' });
  await until((f) => f.includes('▶ extract'));
  return ui.lastFrame() ?? '';
}

/** The SGR colour code in force where `word` first appears on the line of `table`. */
function colourOf(frame: string, table: string, word: string): string | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches terminal escape codes and control characters on purpose
  const line = frame.split('\n').find((l) => new RegExp(`^[ ›]\\S ${table} `).test(l.replace(/\x1b\[[0-9;]*m/g, ''))) ?? '';
  const at = line.indexOf(word, line.indexOf(table) + table.length);
  const before = line.slice(0, at);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches terminal escape codes and control characters on purpose
  const codes = [...before.matchAll(/\x1b\[(\d+)m/g)].map((m) => m[1]);
  for (let i = codes.length - 1; i >= 0; i--) {
    if (codes[i] === '39') return null;
    if (/^3[0-7]$|^9[0-7]$/.test(codes[i])) return codes[i];
  }
  return null;
}

describe('colours', () => {
  it('colours each state: up to date green, pending yellow, running cyan, failed red, busy magenta', async () => {
    const f = await rawFrame({});
    assert.equal(colourOf(f, 'bronze_trades_binance', 'up to date'), '32');
    assert.equal(colourOf(f, 'bronze_trades_kraken', 'pending'), '33');
    assert.equal(colourOf(f, 'ohlcv_1d', 'running'), '36');
    assert.equal(colourOf(f, 'silver_trades', 'failed'), '31');
    assert.equal(colourOf(f, 'ohlcv_1m', 'busy'), '35');
  });

  it('uses no colour at all with NO_COLOR, and still says every state in words', async () => {
    const f = await rawFrame({ NO_COLOR: '1' });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matches terminal escape codes and control characters on purpose
    assert.doesNotMatch(f, /\x1b\[(3[0-7]|9[0-7]|38;[0-9;]+|4[0-7])m/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matches terminal escape codes and control characters on purpose
    const text = f.replace(/\x1b\[[0-9;]*m/g, '');
    for (const word of ['up to date', 'pending', 'running', 'failed', 'busy']) assert.ok(text.includes(word), word);
  });
});
