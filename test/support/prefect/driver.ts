// Runs the Prefect flow for the tests through flow_driver.py in the Prefect venv (.venv-prefect): one
// Python process per test file, so Prefect's temporary local server starts once. Prefect runs in its
// local mode: PREFECT_HOME in a temp dir, no PREFECT_API_URL, nothing installed beyond the PyPI package.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../stack.js';

/** The Python of the Prefect venv, or undefined when it is not installed (`dev/prefect-env.sh`). */
export function prefectPython(): string | undefined {
  const venv = process.env.OFFLOAD_PREFECT_VENV ?? join(ROOT, '.venv-prefect');
  const py = join(venv, 'bin/python');
  return existsSync(py) ? py : undefined;
}

export interface TaskRunInfo {
  name: string;
  state: string; // COMPLETED, FAILED, …
  stateName: string;
  message: string | null;
  start: string | null;
  end: string | null;
  runCount: number;
  waitFor: string[];
}

export interface TableOutcome {
  table: string;
  layer: string;
  status: string;
  exit_code?: number;
  rows: number;
  files?: number | null;
  snapshot_id?: string | null;
  watermark?: string | null;
  error?: string | null;
}

export interface FlowRunAnswer {
  flowRun: { id: string; name: string; state: string; message: string | null };
  tasks: TaskRunInfo[];
  taskIds: Record<string, string>;
  logs: Array<{ level: number; message: string; task: string | null }>;
  seconds: number;
  result: { tables: Record<string, TableOutcome> } | null;
}

export interface DeploymentAnswer extends FlowRunAnswer {
  deployment: {
    name: string;
    entrypoint: string;
    workPool: string;
    pullSteps: Array<Record<string, Record<string, string>>>;
    parameters: Record<string, unknown>;
    schedules: Array<{ interval: number | null; timezone: string | null; active: boolean }>;
    concurrency: { limit: number | null; collisionStrategy: string | null };
    scheduledRunSpacingSeconds: number[];
  };
  deployOutput: string;
  workerExitCode: number;
  workerOutput: string;
}

export class PrefectDriver {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly answers: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private stderrTail = '';
  readonly home: string;

  constructor(python: string, env: Record<string, string>) {
    this.home = mkdtempSync(join(tmpdir(), 'offload-prefect-home-'));
    const childEnv: Record<string, string> = {
      ...env,
      PREFECT_HOME: this.home,
      // Prefect's temporary server migrates a new SQLite database first: give it time on a busy machine.
      PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: '300',
      PREFECT_SERVER_ANALYTICS_ENABLED: 'false',
      DO_NOT_TRACK: '1',
      PYTHONUNBUFFERED: '1',
    };
    delete childEnv.PREFECT_API_URL;
    delete childEnv.PREFECT_PROFILES_PATH;
    this.child = spawn(python, [join(ROOT, 'test/support/prefect/flow_driver.py')], { cwd: ROOT, env: childEnv });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(line);
      } else this.answers.push(line);
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-20_000);
    });
    this.child.on('exit', () => {
      const w = this.waiting;
      this.waiting = null;
      w?.(null);
    });
  }

  /** Prefect's own console output (the tail), for assertion messages. */
  get console(): string {
    return this.stderrTail;
  }

  private next(timeoutMs: number): Promise<string> {
    const queued = this.answers.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`the Prefect driver did not answer within ${timeoutMs} ms\n${this.stderrTail.slice(-4000)}`));
      }, timeoutMs);
      this.waiting = (line) => {
        clearTimeout(timer);
        if (line === null) reject(new Error(`the Prefect driver exited\n${this.stderrTail.slice(-4000)}`));
        else resolve(line);
      };
    });
  }

  async ready(timeoutMs = 120_000): Promise<void> {
    const line = JSON.parse(await this.next(timeoutMs));
    if (!line.ready) throw new Error(`unexpected first line from the Prefect driver: ${JSON.stringify(line)}`);
  }

  /** Runs the flow once with these parameters; `env` is set in the flow's process (and so reaches the CLI). */
  async run(parameters: Record<string, unknown>, env: Record<string, string | null> = {}, timeoutMs = 600_000): Promise<FlowRunAnswer> {
    this.child.stdin.write(`${JSON.stringify({ parameters, env })}\n`);
    const answer = JSON.parse(await this.next(timeoutMs));
    if (answer.error)
      throw new Error(`the Prefect driver failed: ${answer.error}\n${answer.traceback ?? ''}\n${this.stderrTail.slice(-4000)}`);
    return answer as FlowRunAnswer;
  }

  /**
   * Deploys integrations/prefect/prefect.yaml with Prefect's CLI to this driver's Prefect server, triggers
   * one run of the deployment by hand with `parameters`, and lets a process worker execute it.
   */
  async deploy(
    parameters: Record<string, unknown>,
    env: Record<string, string | null> = {},
    timeoutMs = 900_000,
  ): Promise<DeploymentAnswer> {
    this.child.stdin.write(`${JSON.stringify({ deploy: parameters, env })}\n`);
    const answer = JSON.parse(await this.next(timeoutMs));
    if (answer.error)
      throw new Error(`the Prefect driver failed: ${answer.error}\n${answer.traceback ?? ''}\n${this.stderrTail.slice(-4000)}`);
    return answer as DeploymentAnswer;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) {
      rmSync(this.home, { recursive: true, force: true });
      return;
    }
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGTERM'), 60_000);
    await exited;
    clearTimeout(timer);
    rmSync(this.home, { recursive: true, force: true });
  }
}
