// The verification venv (dev/python-env.sh) for tests that ask an independent implementation
// (pyiceberg, fastavro) to check what we produce. Tests skip with this message when it is missing.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = `${process.env.OFFLOAD_VENV ?? `${ROOT}.venv`}/bin/python`;

function probe(): string | false {
  if (!existsSync(PYTHON)) return `no Python venv at ${PYTHON}: run dev/python-env.sh to verify against pyiceberg/fastavro`;
  try {
    execFileSync(PYTHON, ['-c', 'import fastavro, pyiceberg'], { stdio: 'pipe' });
    return false;
  } catch {
    return `the venv at ${PYTHON} lacks fastavro/pyiceberg: run dev/python-env.sh`;
  }
}

/** false when the venv is usable, else the reason to skip. */
export const pythonSkip: string | false = probe();

/** Runs a Python script with JSON on stdin and returns its JSON stdout. */
export function runPython<T>(script: string, input: unknown): T {
  const out = execFileSync(PYTHON, ['-c', script], {
    input: JSON.stringify(input, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.toString('utf8')) as T;
}
