// `--log-format json`: every line a command prints becomes one JSON object on the same stream —
// {time, level, event, table?, runId?, message, …} — so log shippers read the CLI without parsing prose.
// Commands that know more about a line (its table, run, event) say so through `logLine` (output.ts);
// any other line (help, a table header, a library's notice) still arrives as a record, event "message".
import { Writable } from 'node:stream';

export const LOG_FORMATS = ['human', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = 'info' | 'warn' | 'error';

/** What a record says besides its message; further keys are copied as they are. */
export interface LogFields {
  level?: LogLevel;
  /** The OffloadEvent kind, or what kind of message this is ("message" when nothing more is known). */
  event?: string;
  table?: string;
  runId?: string;
  /** ISO time of what happened, when it is not now. */
  time?: string;
  [key: string]: unknown;
}

const bigintAsText = (_key: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/** One record as its line of JSON: time, level, event, table, runId and message first, other fields after. */
export function formatLogRecord(message: string, fields: LogFields, now: Date): string {
  const { time, level = 'info', event = 'message', table, runId, ...rest } = fields;
  const record: Record<string, unknown> = { time: time ?? now.toISOString(), level, event };
  if (table) record.table = table;
  if (runId) record.runId = runId;
  record.message = message;
  for (const [k, v] of Object.entries(rest)) if (v !== undefined && !(k in record)) record[k] = v;
  return JSON.stringify(record, bigintAsText);
}

/** The log format the command line asks for, read before commander parses it (so its own errors follow it too). */
export function logFormatOf(argv: readonly string[]): LogFormat {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a === '--log-format') return argv[i + 1] === 'json' ? 'json' : 'human';
    if (a.startsWith('--log-format=')) return a.slice('--log-format='.length) === 'json' ? 'json' : 'human';
  }
  return 'human';
}

/**
 * The first argument after the program name that is not `--log-format` or its value: the verb, or the
 * operator screen's own option. The global option may stand before the verb (`offload --log-format json status`).
 */
export function firstArgumentBesideLogFormat(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--log-format') i++;
    else if (!a.startsWith('--log-format=')) return a;
  }
  return undefined;
}

/**
 * A stream that writes each line written to it as a JSON record onto `target`; `record` writes one with
 * fields, `document` a command's --json result as it is (compact, one line).
 */
export class JsonLogStream extends Writable {
  private partial = '';

  constructor(
    private readonly target: Writable,
    private readonly defaults: LogFields = {},
    private readonly clock: () => Date = () => new Date(),
  ) {
    super({ decodeStrings: false });
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.partial += String(chunk);
    const lines = this.partial.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.lineOf(line);
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.flush();
    done();
  }

  /** One record; an unfinished line written before it goes first. */
  record(message: string, fields: LogFields = {}): void {
    this.flush();
    this.target.write(`${formatLogRecord(message.replace(/^\n+|\n+$/g, ''), { ...this.defaults, ...fields }, this.clock())}\n`);
  }

  /** A --json result document: one line, its shape untouched (scripts parse it as before). */
  document(value: unknown): void {
    this.flush();
    this.target.write(`${JSON.stringify(value, bigintAsText)}\n`);
  }

  /** Writes out an unfinished line (no newline yet) as a record of its own. */
  flush(): void {
    const rest = this.partial;
    this.partial = '';
    if (rest) this.lineOf(rest);
  }

  private lineOf(line: string): void {
    // Blank separator lines and a terminal's line erasing carry nothing in a log.
    const text = line
      // biome-ignore lint/suspicious/noControlCharactersInRegex: a terminal's erase-line code, matched on purpose
      .replace(/\r?\x1b\[K/g, '')
      .replace(/\r/g, '')
      .trimEnd();
    if (text.trim() === '') return;
    this.target.write(`${formatLogRecord(text, this.defaults, this.clock())}\n`);
  }
}

export function isJsonLog(out: Writable): out is JsonLogStream {
  return out instanceof JsonLogStream;
}
