// --log-format json, the pure part: how a line becomes a record, how a stream of writes is cut into
// records, how --log-format is read from argv, and how schedule lines and aligned tables map to records.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { firstArgumentBesideLogFormat, formatLogRecord, JsonLogStream, logFormatOf } from '../../src/commands/log-format.js';
import { logLine, printJson, printTable } from '../../src/commands/output.js';
import { scheduleRecord } from '../../src/commands/schedule-log.js';

const NOW = new Date('2026-02-11T12:00:00.000Z');

function sink(): { out: Writable; lines: () => string[] } {
  let text = '';
  const out = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { out, lines: () => text.split('\n').filter(Boolean) };
}

describe('log records', () => {
  it('time, level, event, table, runId and message come first; other fields follow; empty ones are left out', () => {
    const line = formatLogRecord(
      'bronze: committed 10 rows',
      { event: 'committed', table: 'bronze', runId: 'r1', rows: 10, snapshotId: 7n, skipped: undefined },
      NOW,
    );
    assert.equal(
      line,
      '{"time":"2026-02-11T12:00:00.000Z","level":"info","event":"committed","table":"bronze","runId":"r1","message":"bronze: committed 10 rows","rows":10,"snapshotId":"7"}',
    );
    const plain = JSON.parse(formatLogRecord('hello', {}, NOW));
    assert.deepEqual(Object.keys(plain), ['time', 'level', 'event', 'message']);
    assert.equal(plain.event, 'message');
  });

  it('a JsonLogStream turns every written line into one record, whatever the chunks, and flushes an unfinished line', () => {
    const { out, lines } = sink();
    const s = new JsonLogStream(out, {}, () => NOW);
    s.write('first li');
    s.write('ne\nsecond line\n\n   \nthird');
    s.record('with fields', { level: 'error', event: 'error', exitCode: 3 });
    s.write('\r\x1b[Kfourth\n');
    s.flush();
    const records = lines().map((l) => JSON.parse(l));
    assert.deepEqual(
      records.map((r) => r.message),
      ['first line', 'second line', 'third', 'with fields', 'fourth'],
    );
    assert.deepEqual(records[3], { time: NOW.toISOString(), level: 'error', event: 'error', message: 'with fields', exitCode: 3 });
  });

  it('printJson writes a --json document as it is, on one line; logLine writes a record, or the line in human format', () => {
    const json = sink();
    const s = new JsonLogStream(json.out, {}, () => NOW);
    printJson(s, { results: [{ table: 't', rows: 1n }] });
    logLine(s, 't: busy', { level: 'warn', event: 'busy', table: 't' });
    assert.deepEqual(JSON.parse(json.lines()[0]), { results: [{ table: 't', rows: '1' }] });
    assert.deepEqual(JSON.parse(json.lines()[1]), {
      time: NOW.toISOString(),
      level: 'warn',
      event: 'busy',
      table: 't',
      message: 't: busy',
    });
    const human = sink();
    logLine(human.out, 't: busy', { level: 'warn', event: 'busy', table: 't' });
    assert.deepEqual(human.lines(), ['t: busy']);
  });

  it('an aligned table becomes one record per row with its cells; the TABLE and RUN columns fill table and runId', () => {
    const { out, lines } = sink();
    printTable(
      new JsonLogStream(out, {}, () => NOW),
      ['TABLE', 'ROWS', 'RUN', 'Δ'],
      [
        ['a', '1', 'r1', '0'],
        ['bb', '22', '', '3'],
      ],
      new Set([1]),
      (i) => ({ busy: i === 1 }),
    );
    const records = lines().map((l) => JSON.parse(l));
    assert.equal(records.length, 2);
    assert.deepEqual(records[0], {
      time: NOW.toISOString(),
      level: 'info',
      event: 'row',
      table: 'a',
      runId: 'r1',
      message: 'a  1  r1  0',
      columns: { table: 'a', rows: '1', run: 'r1', delta: '0' },
      busy: false,
    });
    assert.equal(records[1].runId, undefined);
    assert.equal(records[1].busy, true);
  });

  it('--log-format is read from anywhere before "--"; anything but json is the human format', () => {
    assert.equal(logFormatOf(['node', 'offload', 'status', '--log-format', 'json']), 'json');
    assert.equal(logFormatOf(['node', 'offload', '--log-format=json', 'runs']), 'json');
    assert.equal(logFormatOf(['node', 'offload', 'status', '--log-format', 'human']), 'human');
    assert.equal(logFormatOf(['node', 'offload', 'status']), 'human');
    assert.equal(logFormatOf(['node', 'offload', 'seed', '--', '--log-format', 'json']), 'human');
  });

  it('the verb is found after a --log-format given before it; none means the operator screen', () => {
    assert.equal(firstArgumentBesideLogFormat(['node', 'offload', '--log-format', 'json', 'status']), 'status');
    assert.equal(firstArgumentBesideLogFormat(['node', 'offload', '--log-format=json', 'runs', '--json']), 'runs');
    assert.equal(firstArgumentBesideLogFormat(['node', 'offload', 'gc', '--log-format', 'json']), 'gc');
    assert.equal(firstArgumentBesideLogFormat(['node', 'offload', '--log-format', 'json', '--refresh', '2']), '--refresh');
    assert.equal(firstArgumentBesideLogFormat(['node', 'offload', '--log-format', 'json']), undefined);
    assert.equal(firstArgumentBesideLogFormat(['node', 'offload']), undefined);
  });

  it("schedule lines: the line's time, the table status as the event, levels by outcome, the human line without its time", () => {
    const committed = scheduleRecord({
      event: 'table',
      time: '2026-02-11T12:00:01.000Z',
      tick: 3,
      table: 'bronze',
      layer: 'bronze',
      status: 'committed',
      rows: 10,
      files: 1,
      runId: 'r1',
      watermark: { timestamp: '2026-02-11T11:00:00.000000Z', tieBreak: null },
      durationMs: 1200,
    });
    assert.equal(committed.message, 'tick 3  bronze (bronze)  committed  10 rows, 1 files, watermark 2026-02-11T11:00:00.000000Z, 1.20 s');
    assert.deepEqual(
      { ...committed.fields, watermark: undefined },
      {
        time: '2026-02-11T12:00:01.000Z',
        level: 'info',
        event: 'committed',
        tick: 3,
        table: 'bronze',
        layer: 'bronze',
        rows: 10,
        files: 1,
        runId: 'r1',
        durationMs: 1200,
        watermark: undefined,
      },
    );
    const failed = scheduleRecord({
      event: 'table',
      time: '2026-02-11T12:00:01.000Z',
      tick: 3,
      table: 'bronze',
      layer: 'bronze',
      status: 'failed',
      error: 'cannot reach S3',
    });
    assert.equal(failed.fields.level, 'error');
    assert.equal(failed.fields.event, 'failed');
    const skipped = scheduleRecord({
      event: 'tick-skipped',
      time: '2026-02-11T12:00:02.000Z',
      tick: 4,
      runningTick: 3,
      runningForMs: 1000,
    });
    assert.equal(skipped.fields.level, 'warn');
    assert.equal(skipped.fields.event, 'tick-skipped');
    assert.equal(skipped.message, 'tick 4  skipped: tick 3 still running (for 1.00 s)');
  });
});
