// What every command shares for printing: where output goes, numbers and instants as people read them,
// aligned tables, and stable JSON. With `--log-format json` the streams are JsonLogStreams (log-format.ts).
import type { Writable } from 'node:stream';
import { processEnv, type Env } from '../config/env.js';
import { isJsonLog, type LogFields } from './log-format.js';

/** Instants as every command prints them (core/watermark.ts, shared with the pipeline's messages). */
export { formatInstant } from '../core/watermark.js';

/** A command's surroundings; tests and the CLI pass the real process streams and environment. */
export interface CommandContext {
  env: Env;
  stdout: Writable;
  stderr: Writable;
  /** The exit code the command asks for when it completes without throwing (default 0). */
  exitCode: number;
}

export function defaultContext(): CommandContext {
  return { env: processEnv(), stdout: process.stdout, stderr: process.stderr, exitCode: 0 };
}

export function println(out: Writable, line = ''): void {
  out.write(`${line}\n`);
}

/** A line that knows what it is about: a record with these fields under --log-format json, else the line. */
export function logLine(out: Writable, message: string, fields: LogFields): void {
  if (isJsonLog(out)) out.record(message, fields);
  else println(out, message);
}

/** `{…}` on one document, two-space indented, newline-terminated (one compact line under --log-format json). */
export function printJson(out: Writable, value: unknown): void {
  if (isJsonLog(out)) {
    out.document(value);
    return;
  }
  out.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

/** 1234567 → "1,234,567". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Columns padded to their widest cell; `right` lists the columns aligned to the right (numbers). */
export function alignedTable(header: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/**
 * An aligned table on `out`. Under --log-format json each row is one record (event "row") with its cells
 * by lower-case header, the TABLE column as `table` and the RUN column as `runId`.
 */
export function printTable(
  out: Writable,
  header: string[],
  rows: string[][],
  right: ReadonlySet<number> = new Set(),
  rowFields?: (row: number) => LogFields,
): void {
  const lines = alignedTable(header, rows, right);
  if (!isJsonLog(out)) {
    for (const line of lines) println(out, line);
    return;
  }
  rows.forEach((row, i) => {
    const columns = Object.fromEntries(
      header.map((h, c) => [
        h
          .toLowerCase()
          .replace('δ', 'delta')
          .replace(/[^a-z0-9]+/g, '_'),
        row[c] ?? '',
      ]),
    );
    const cell = (name: string) => row[header.indexOf(name)] || undefined;
    out.record(lines[i + 1].replace(/\s{2,}/g, '  '), {
      event: 'row',
      table: cell('TABLE'),
      runId: cell('RUN'),
      columns,
      ...rowFields?.(i),
    });
  });
}
