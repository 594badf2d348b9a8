import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Key } from 'ink';
import { DETAILS_KEYS, NO_KEY, TABLE_KEYS, handleKey, type KeyResult } from '../../src/ui/keys.js';
import { initialState, reduceRunRequested, reduceStatus, type TuiState } from '../../src/ui/store.js';
import { NOW, sampleReport } from '../support/ui/fixtures.js';

const CTX = { pageSize: 5, detailsPageSize: 5, helpLineCount: 30, helpPageSize: 10 };

function press(state: TuiState, input: string, key: Partial<Key> = {}): KeyResult {
  return handleKey(state, input, { ...NO_KEY, ...key }, CTX);
}

/** Presses several keys in a row and collects every command they asked for. */
function type(state: TuiState, ...keys: Array<string | [string, Partial<Key>]>): KeyResult {
  let s = state;
  const commands: KeyResult['commands'] = [];
  for (const k of keys) {
    const r = typeof k === 'string' ? press(s, k) : press(s, k[0], k[1]);
    s = r.state;
    commands.push(...r.commands);
  }
  return { state: s, commands };
}

const loaded = () => reduceStatus(initialState(), sampleReport(), NOW, NOW);

describe('keys on the tables screen', () => {
  it('j/k and the arrows move, g/G jump to the ends', () => {
    assert.equal(type(loaded(), 'j', 'j').state.selected, 'silver_trades');
    assert.equal(
      type(loaded(), ['', { downArrow: true }], ['', { downArrow: true }], ['', { upArrow: true }]).state.selected,
      'bronze_trades_kraken',
    );
    assert.equal(type(loaded(), 'G').state.selected, 'ohlcv_1d');
    assert.equal(type(loaded(), 'G', 'g').state.selected, 'bronze_trades_binance');
    assert.equal(type(loaded(), ['', { pageDown: true }]).state.selected, 'ohlcv_15m');
  });

  it('o offloads the selected table, r refreshes, enter opens its details', () => {
    assert.deepEqual(type(loaded(), 'j', 'o').commands, [{ kind: 'offload', table: 'bronze_trades_kraken' }]);
    assert.deepEqual(type(loaded(), 'r').commands, [{ kind: 'refresh' }]);
    const r = type(loaded(), 'j', ['', { return: true }]);
    assert.equal(r.state.screen, 'details');
    assert.equal(r.state.details?.table, 'bronze_trades_kraken');
    assert.deepEqual(r.commands, [{ kind: 'load-details', table: 'bronze_trades_kraken' }]);
  });

  it('A asks first; y confirms, n and esc cancel', () => {
    const asked = press(loaded(), 'A');
    assert.equal(asked.state.overlay, 'confirm-all');
    assert.deepEqual(asked.commands, []);
    assert.deepEqual(press(asked.state, 'y').commands, [{ kind: 'offload-all' }]);
    assert.deepEqual(press(asked.state, '', { return: true }).commands, [{ kind: 'offload-all' }]);
    for (const cancel of [press(asked.state, 'n'), press(asked.state, '', { escape: true })]) {
      assert.equal(cancel.state.overlay, null);
      assert.deepEqual(cancel.commands, []);
    }
    assert.deepEqual(press(asked.state, 'o').commands, [], 'other keys do nothing while the question is open');
  });

  it('/ edits the filter: letters type, backspace deletes, enter keeps, esc clears', () => {
    let r = type(loaded(), '/', 'o', 'h', 'l', 'c', 'v', '_', '1', 'x', ['', { backspace: true }]);
    assert.equal(r.state.filter, 'ohlcv_1');
    assert.equal(r.state.isEditingFilter, true);
    assert.deepEqual(r.commands, [], 'o and q type into the filter instead of acting');
    r = press(r.state, '', { return: true });
    assert.equal(r.state.isEditingFilter, false);
    assert.equal(r.state.filter, 'ohlcv_1');
    assert.equal(r.state.selected, 'ohlcv_1m');
    r = press(r.state, '', { escape: true });
    assert.equal(r.state.filter, '', 'esc outside the filter clears it');
    const cleared = type(loaded(), '/', 'g', 'o', ['', { escape: true }]);
    assert.equal(cleared.state.filter, '');
    assert.equal(cleared.state.isEditingFilter, false);
  });

  it('s cycles the sort, ? opens the help and esc closes it', () => {
    assert.equal(press(loaded(), 's').state.sort, 'name');
    const help = press(loaded(), '?');
    assert.equal(help.state.overlay, 'help');
    assert.deepEqual(press(help.state, 'o').commands, []);
    assert.equal(press(help.state, 'j').state.helpScroll, 1);
    assert.equal(press(help.state, 'G').state.helpScroll, 20);
    assert.equal(press(help.state, '', { escape: true }).state.overlay, null);
  });

  it('q quits at once when nothing runs', () => {
    assert.deepEqual(press(loaded(), 'q').commands, [{ kind: 'exit' }]);
    assert.deepEqual(press(loaded(), 'c', { ctrl: true }).commands, [{ kind: 'exit' }]);
  });

  it('q while an offload runs asks: w waits, s stops safely, esc goes back', () => {
    const running = reduceRunRequested(loaded(), ['bronze_trades_kraken'], NOW);
    const asked = press(running, 'q');
    assert.equal(asked.state.overlay, 'quit');
    assert.deepEqual(asked.commands, []);
    const wait = press(asked.state, 'w');
    assert.equal(wait.state.quitting, 'waiting');
    assert.deepEqual(wait.commands, [{ kind: 'wait-then-exit' }]);
    assert.deepEqual(press(wait.state, 's').commands, [{ kind: 'stop-then-exit' }], 'waiting can still become a stop');
    assert.deepEqual(press(wait.state, 'q').commands, []);
    const stop = press(asked.state, 's');
    assert.equal(stop.state.quitting, 'stopping');
    assert.deepEqual(stop.commands, [{ kind: 'stop-then-exit' }]);
    assert.deepEqual(press(stop.state, 's').commands, [], 'a second stop asks nothing more');
    assert.equal(press(asked.state, '', { escape: true }).state.overlay, null);
  });
});

describe('keys on the details screen', () => {
  const details = () => type(loaded(), ['', { return: true }]).state;

  it('tab, arrows and 1-4 switch sections; esc goes back', () => {
    assert.equal(press(details(), '', { tab: true }).state.details?.section, 'runs');
    assert.equal(press(details(), '', { tab: true, shift: true }).state.details?.section, 'config');
    assert.equal(press(details(), '', { rightArrow: true }).state.details?.section, 'runs');
    assert.equal(press(details(), '3').state.details?.section, 'partitions');
    assert.equal(press(details(), '', { escape: true }).state.screen, 'tables');
  });

  it('o offloads the table shown and r reloads it', () => {
    assert.deepEqual(press(details(), 'o').commands, [{ kind: 'offload', table: 'bronze_trades_binance' }]);
    assert.deepEqual(press(details(), 'r').commands, [{ kind: 'load-details', table: 'bronze_trades_binance' }]);
  });
});

describe('the key table', () => {
  it('documents every key the handler answers to', () => {
    const documented = [...TABLE_KEYS, ...DETAILS_KEYS].map((k) => k.keys).join(' ');
    for (const key of ['j', 'k', 'g', 'G', 'enter', 'esc', 'o', 'A', '/', 's', 'r', '?', 'q', 'tab', 'PgDn']) {
      assert.ok(documented.includes(key), `${key} is in the help`);
    }
  });
});
