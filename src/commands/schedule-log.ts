// A log line of the interval mode (pipeline/schedule.ts) as a --log-format json record: the line's own
// time, a level, the event (a table line's status — the OffloadEvent kind — or the line's own kind), the
// table and run when it has them, the human line as the message, and every other field of the line.
import { formatScheduleLine, type ScheduleLogLine } from '../pipeline/schedule.js';
import type { LogFields, LogLevel } from './log-format.js';

function levelOf(line: ScheduleLogLine): LogLevel {
  switch (line.event) {
    case 'table':
      return line.status === 'failed' ? 'error' : line.status === 'committed' || line.status === 'up-to-date' ? 'info' : 'warn';
    case 'log':
      return line.level;
    case 'tick-skipped':
      return 'warn';
    case 'tick-finished':
      return line.failed > 0 || line.error !== undefined ? 'warn' : 'info';
    default:
      return 'info';
  }
}

export function scheduleRecord(line: ScheduleLogLine): { message: string; fields: LogFields } {
  // The human line starts with the time, which the record carries in its own field.
  const message = formatScheduleLine(line).slice(line.time.length).trimStart();
  const { event, time, ...rest } = line;
  const fields: LogFields = { ...rest, time, level: levelOf(line), event: line.event === 'table' ? line.status : event };
  if (line.event === 'table' || line.event === 'log') delete fields.status;
  return { message, fields };
}
