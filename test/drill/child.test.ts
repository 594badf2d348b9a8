// A drill's child offload: how its --json output is read and how its end is classified.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyChild, isCleanEnd, isKilledAtFault, parseJsonOutput, type ChildResult } from '../../src/drill/child.js';

const ended = (over: Partial<ChildResult>): ChildResult => ({
  pid: 42,
  exitCode: 0,
  signal: null,
  timedOut: false,
  stdout: '',
  stderr: '',
  durationMs: 1234,
  ...over,
});

describe('child offload', () => {
  it("reads a child's --json output, whole or as JSON lines", () => {
    assert.deepEqual(parseJsonOutput('{"results":[{"table":"t","status":"committed"}]}'), [
      { results: [{ table: 't', status: 'committed' }] },
    ]);
    assert.deepEqual(parseJsonOutput('{"a":1}\nnot json\n{"b":2}\n'), [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(parseJsonOutput('[{"a":1},2,null]'), [{ a: 1 }]);
    assert.deepEqual(parseJsonOutput(''), []);
  });

  it('classifies a run that committed: its status, run ids and rows from the JSON document', () => {
    const stdout = JSON.stringify({ results: [{ table: 't', status: 'committed', runId: 'r1', rows: 1200 }, { runId: 'r1' }] });
    const run = classifyChild('recovery', 'bronze', null, ended({ stdout }));
    assert.deepEqual(run, {
      role: 'recovery',
      table: 'bronze',
      fault: null,
      pid: 42,
      exitCode: 0,
      signal: null,
      durationMs: 1234,
      outcome: 'committed',
      runIds: ['r1'],
      rows: 1200,
    });
    assert.ok(isCleanEnd(run) && !isKilledAtFault(run));
  });

  it('classifies a kill at the armed fault, and says when the fault message was never seen', () => {
    const killed = classifyChild(
      'killed',
      't',
      'inside-commit',
      ended({ exitCode: null, signal: 'SIGKILL', stderr: 'offload: fault point inside-commit reached\n' }),
    );
    assert.equal(killed.outcome, 'killed at inside-commit');
    assert.ok(isKilledAtFault(killed) && !isCleanEnd(killed));
    assert.equal(
      classifyChild('killed', 't', 'after-plan', ended({ exitCode: null, signal: 'SIGKILL' })).outcome,
      'killed at after-plan (no fault message seen)',
    );
    assert.equal(classifyChild('run', 't', null, ended({ exitCode: null, signal: 'SIGKILL' })).outcome, 'killed');
  });

  it('classifies a time-out, another signal, busy, and a failure with its message', () => {
    const late = classifyChild('racer', 't', null, ended({ exitCode: null, signal: 'SIGKILL', timedOut: true }));
    assert.deepEqual([late.outcome, late.signal], ['did not finish within the time limit (killed)', 'timeout']);
    assert.equal(classifyChild('run', 't', null, ended({ exitCode: null, signal: 'SIGTERM' })).outcome, 'ended by SIGTERM');
    const busy = classifyChild('second-worker', 't', null, ended({ exitCode: 5 }));
    assert.equal(busy.outcome, 'busy');
    assert.ok(isCleanEnd(busy));
    const stderr = 'planning…\noffload: S3 upload failed: 500 InternalError\nfault point x reached\nretrying\n';
    assert.equal(
      classifyChild('faulty', 't', null, ended({ exitCode: 1, stderr })).outcome,
      'failed (exit 1): S3 upload failed: 500 InternalError',
    );
    assert.equal(
      classifyChild('faulty', 't', null, ended({ exitCode: 1, stdout: '{"error":"offload: the JSON says why"}', stderr })).outcome,
      'failed (exit 1): the JSON says why',
    );
    const internal = classifyChild('faulty', 't', null, ended({ exitCode: 70 }));
    assert.equal(internal.outcome, 'failed (exit 70): no message');
    assert.ok(!isCleanEnd(internal), 'an internal error is not a clean end');
  });
});
