// The drill's offload processes: every offload a drill makes is a real `offload run --table T --json` child
// process, started here, its progress forwarded line by line, and how it ended classified (killed at its
// fault, ended cleanly, busy, failed) from its exit and its --json output.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { FAULT_ENV } from '../pipeline/faults.js';
import type { CrashFault } from './catalogue.js';
import type { ChildRun } from './report.js';

type Env = Record<string, string | undefined>;

/** How to start this build's `offload`: the built dist/cli.js, or src/cli.ts through tsx when running from source. */
export function defaultOffloadCommand(): string[] {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts'))
    return [process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../cli.ts', import.meta.url))];
  return [process.execPath, fileURLToPath(new URL('../cli.js', import.meta.url))];
}

export interface ChildOffload {
  /** The command that starts `offload`. */
  command: string[];
  /** The sandbox table to offload (`--table`). */
  table: string;
  /** The configured table it copies: what the run is reported under. */
  reportedAs: string;
  role: ChildRun['role'];
  /** The environment the child gets, and nothing else (OFFLOAD_CONFIG included). */
  env: Env;
  /** The crash fault armed in the child, if any. */
  fault: CrashFault | null;
  timeoutMs: number;
  cwd: string;
  /** Secrets out of every line the child printed. */
  scrub: (text: string) => string;
  onStarted?: (pid: number | null) => void;
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
}

/** Runs one `offload run --table <table> --json` to its end (SIGKILL on the time limit) and classifies it. */
export async function runChildOffload(o: ChildOffload): Promise<ChildRun> {
  // NODE_NO_WARNINGS: the runtime's notices (an SDK's Node version advice) are not the run's output.
  const env: Env = { ...o.env, NODE_NO_WARNINGS: '1' };
  delete env[FAULT_ENV];
  if (o.fault) env[FAULT_ENV] = o.fault;
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const began = performance.now();
  const child = execa(o.command[0], [...o.command.slice(1), 'run', '--table', o.table, '--json'], {
    env: clean,
    extendEnv: false,
    reject: false,
    timeout: o.timeoutMs,
    killSignal: 'SIGKILL',
    stdin: 'ignore',
    cwd: o.cwd,
  });
  const pid = child.pid ?? null;
  o.onStarted?.(pid);
  const forward = (stream: 'stdout' | 'stderr') => {
    let partial = '';
    child[stream]?.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) o.onLine?.(stream, o.scrub(line));
    });
  };
  // stderr carries the run's progress lines; stdout only its closing JSON document.
  forward('stderr');
  const result = await child;
  return classifyChild(o.role, o.reportedAs, o.fault, {
    pid,
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut: result.timedOut,
    stdout: String(result.stdout ?? ''),
    stderr: o.scrub(String(result.stderr ?? '')),
    durationMs: Math.round(performance.now() - began),
  });
}

/** How a child process ended, as the runtime saw it. */
export interface ChildResult {
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** `--json` output: one document or JSON lines; the objects, in order. */
export function parseJsonOutput(stdout: string): Array<Record<string, unknown>> {
  const text = stdout.trim();
  if (!text) return [];
  try {
    const doc = JSON.parse(text) as unknown;
    if (Array.isArray(doc)) return doc.filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null);
    return typeof doc === 'object' && doc !== null ? [doc as Record<string, unknown>] : [];
  } catch {
    /* JSON lines */
  }
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* not a document */
    }
  }
  return out;
}

/** Every value of `key` anywhere in the documents. */
function valuesOf(docs: unknown[], key: string): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 6 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      if (k === key) out.push(x);
      walk(x, depth + 1);
    }
  };
  for (const d of docs) walk(d, 0);
  return out;
}

/** The run as a drill reports it: its outcome in words, the run ids and rows it reported. */
export function classifyChild(role: ChildRun['role'], table: string, fault: string | null, r: ChildResult): ChildRun {
  const docs = parseJsonOutput(r.stdout);
  const runIds = [...new Set(valuesOf(docs, 'runId').filter((x): x is string => typeof x === 'string'))];
  const rowsValue = valuesOf(docs, 'rows').find((x) => typeof x === 'number');
  const statusValue = [...valuesOf(docs, 'status'), ...valuesOf(docs, 'outcome')].find((x) => typeof x === 'string') as string | undefined;
  // The error a person sees: the JSON document's, else the last `offload: …` line on stderr, else its last line.
  const jsonError = valuesOf(docs, 'error').find((x): x is string => typeof x === 'string');
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l.trim() && !/fault point .* reached/.test(l));
  const lastError = (jsonError ?? [...lines].reverse().find((l) => l.startsWith('offload:')) ?? lines[lines.length - 1] ?? '')
    .split('\n')[0]
    .replace(/^offload:\s*/, '');
  let outcome: string;
  if (r.timedOut) outcome = `did not finish within the time limit (killed)`;
  else if (r.signal === 'SIGKILL')
    outcome = fault ? `killed at ${fault}${r.stderr.includes(fault) ? '' : ' (no fault message seen)'}` : 'killed';
  else if (r.signal) outcome = `ended by ${r.signal}`;
  else if (r.exitCode === 0) outcome = statusValue ?? 'ok';
  else if (r.exitCode === 5) outcome = 'busy';
  else outcome = `failed (exit ${r.exitCode}): ${lastError || statusValue || 'no message'}`;
  return {
    role,
    table,
    fault,
    pid: r.pid,
    exitCode: r.exitCode,
    signal: r.timedOut ? 'timeout' : r.signal,
    durationMs: r.durationMs,
    outcome,
    runIds,
    rows: typeof rowsValue === 'number' ? rowsValue : null,
  };
}

export function isKilledAtFault(r: ChildRun): boolean {
  return r.signal === 'SIGKILL';
}

/** A run that ended on its own: success, up to date, or a clean (documented, non-internal) failure. */
export function isCleanEnd(r: ChildRun): boolean {
  return r.signal === null && r.exitCode !== null && r.exitCode !== 70;
}
