// Test files are outside tsconfig.json, so the JSX transform is named here.
/** @jsxRuntime automatic @jsxImportSource react */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeApps, openApp, renderApp } from '../support/ui/app.js';
import { WATERMARK } from '../support/ui/fixtures.js';
import { MemoryBackend } from '../support/ui/memory-backend.js';
import { KEY, plain, resizeTerminal, waitForFrame } from '../support/ui/terminal.js';

const open = (size?: { columns: number; rows: number }) => openApp(new MemoryBackend(), size);

afterEach(closeApps);

describe('main screen', () => {
  it('shows one row a table with watermark, counts, Δ, state and last run, under a header of services', async () => {
    const { frame, rowOf } = await open({ columns: 160, rows: 30 });
    const f = frame();
    assert.match(f, /offload · 9 tables · sort: layer · updated just now, every 5s/);
    assert.match(f, /✓ ClickHouse http:\/\/default:\*\*\*@127\.0\.0\.1:18123 /);
    assert.match(f, /✓ PostgreSQL postgres:\/\/offload:\*\*\*@127\.0\.0\.1:15432\/offload/);
    assert.match(f, /✓ S3 http:\/\/127\.0\.0\.1:19900 s3:\/\/warehouse\/iceberg/, 'S3: its endpoint and the warehouse');
    for (const title of [
      'TABLE',
      'LAYER',
      'WATERMARK',
      'TIE-BREAK',
      'LAG',
      'CH ROWS',
      'CH ≤WM',
      'PENDING',
      'ICEBERG',
      'Δ',
      'STATE',
      'LAST RUN',
    ]) {
      assert.ok(f.includes(title), `column ${title}`);
    }
    assert.match(
      rowOf('bronze_trades_kraken'),
      /• bronze_trades_kraken\s+bronze 2026-02-11 12:04:59 0\s+5m\s+812,345\s+800,000\s+12,345\s+800,000\s+0 pending\s+✓ 9m ago 4\.2s/,
    );
    assert.match(rowOf('bronze_trades_binance'), /✓ bronze_trades_binance .* up to date/);
    assert.match(rowOf('silver_trades'), /✗ silver_trades .* failed\s+✗ failed 2m ago/);
    assert.match(rowOf('ohlcv_1m'), /⊘ ohlcv_1m .* busy/);
    assert.match(rowOf('ohlcv_5m'), /\? ohlcv_5m .*error\s+error\s+error\s+1,200\s+— unknown/, 'an unreachable service shows in its cells');
    assert.match(rowOf('ohlcv_1h'), /ohlcv_1h\s+gold\s+never\s+—.* no table .* never/);
    assert.match(
      f,
      /j\/k move {2}⏎ details {2}o offload {2}A all {2}v verify {2}c compact {2}d drill {2}\/ filter {2}s sort {2}r refresh {2}\? help {2}q quit/,
    );
  });

  it('fits 80×24: every line within 80 columns, the main columns kept, the frame one line short of the terminal', async () => {
    const { frame, rowOf } = await open({ columns: 80, rows: 24 });
    const lines = frame().split('\n');
    assert.ok(lines.length <= 23, `frame is ${lines.length} lines`);
    for (const l of lines) assert.ok(l.length <= 80, `line too wide (${l.length}): ${l}`);
    assert.match(lines[2], /TABLE\s+WATERMARK\s+PENDING\s+ICEBERG\s+Δ LAST RUN/);
    assert.match(rowOf('bronze_trades_kraken'), /bronze_trades_kraken\s+02-11 12:04:59\s+12,345\s+800,000\s+0 ✓ 9m ago 4\.2s/);
    assert.match(frame(), /\[1\/9\] wm 2026-02-11 12:05:00 #5012345678 · lag 5m/, 'the selected table in full, tie-break included');
  });

  it('keeps the header, list and hint bar in place at every size, loading or loaded', async () => {
    for (const [columns, rows] of [
      [80, 24],
      [100, 30],
      [132, 43],
      [200, 60],
    ]) {
      const backend = new MemoryBackend();
      let release!: () => void;
      backend.statusGate = new Promise((r) => (release = r));
      const { session, ui } = renderApp(backend, { columns, rows });
      const loading = session.refresh();
      for (const isLoaded of [false, true]) {
        if (isLoaded) {
          release();
          await loading;
        }
        const isResized = (x: string) => x.split('\n').length === rows - 1 && x.split('\n').every((l) => l.length <= columns);
        const f = await waitForFrame(ui, (x) => x.includes(isLoaded ? 'ohlcv_1d' : 'loading status…') && isResized(x)).catch(() =>
          plain(ui.lastFrame()),
        );
        const lines = f.split('\n');
        const at = `${columns}×${rows} ${isLoaded ? 'loaded' : 'loading'}`;
        assert.equal(lines.length, rows - 1, `${at}: one line short of the terminal`);
        assert.match(lines[0], /^offload · \d+ tables · sort: layer/, at);
        assert.match(lines[1], isLoaded ? /^✓ ClickHouse/ : /^services: …/, at);
        assert.match(lines.at(-1) ?? '', /^j\/k move/, at);
        for (const l of lines) assert.ok(l.length <= columns, `${at}: line too wide: ${l}`);
      }
      ui.unmount();
      await session.dispose();
    }
  });

  it('re-lays out when the terminal is resized', async () => {
    const { ui, frame } = await open({ columns: 80, rows: 24 });
    assert.doesNotMatch(frame(), /TIE-BREAK/);
    resizeTerminal(ui, 160, 40);
    await waitForFrame(ui, (f) => f.includes('TIE-BREAK') && f.includes('LAYER'));
    resizeTerminal(ui, 80, 24);
    await waitForFrame(ui, (f) => !f.includes('TIE-BREAK'));
    for (const l of frame().split('\n')) assert.ok(l.length <= 80);
  });

  it('j/k move the selection and the line under the list follows it', async () => {
    const { press, frame, rowOf } = await open();
    assert.match(rowOf('bronze_trades_binance'), /^›/);
    await press('j', 'j');
    assert.match(rowOf('silver_trades'), /^›/);
    assert.match(frame(), /\[3\/9\] last run: S3 PutObject: 503 Slow Down/, 'the failure of the selected table, in words');
    await press('G');
    assert.match(rowOf('ohlcv_1d'), /^›/);
    await press('k', KEY.up);
    assert.match(rowOf('ohlcv_30m'), /^›/);
    await press('j');
    assert.match(frame(), /\[7\/9\] ClickHouse: cannot reach ClickHouse|\[8\/9\]/);
  });

  it('? shows every key, scrolling when the screen is short; esc closes it', async () => {
    const { press, frame, ui } = await open({ columns: 100, rows: 60 });
    await press('?');
    const f = frame();
    for (const key of [
      'j / ↓',
      'k / ↑',
      'g / G',
      'enter',
      'o ',
      'A ',
      '/ ',
      's ',
      'r ',
      '? ',
      'q / ctrl-c',
      'tab',
      '1 2 3 4',
      'esc',
      'y / enter',
      'n / esc',
      'w ',
      'stop safely',
    ]) {
      assert.ok(f.includes(key), `help lists ${key}`);
    }
    await press(KEY.escape);
    await waitForFrame(ui, (x) => x.includes('TABLE'));
    resizeTerminal(ui, 80, 24);
    await press('?');
    await waitForFrame(ui, (x) => /j\/k scroll, \d+\/\d+/.test(x));
    await press('G');
    await waitForFrame(ui, (x) => x.includes('stop safely'));
  });

  it('? at 80×24 wraps long actions instead of cutting them, and scrolls through all of them', async () => {
    const { press, ui } = await open({ columns: 80, rows: 24 });
    await press('?');
    const seen: string[] = [];
    let f = await waitForFrame(ui, (x) => /j\/k scroll, \d+\/\d+/.test(x));
    const total = Number(/j\/k scroll, \d+\/(\d+)/.exec(f)?.[1]);
    for (let shown = 0; shown < total; ) {
      const body = f.split('\n').filter((l) => l.startsWith('│ ') && !l.includes('Keys ('));
      for (const l of body) {
        assert.ok(l.length <= 80, `fits: ${l}`);
        assert.doesNotMatch(l, /…/, `nothing cut: ${l}`);
        seen.push(l.slice(2, -1).trim());
      }
      shown = Number(/j\/k scroll, (\d+)\//.exec(f)?.[1]);
      if (shown >= total) break;
      await press(KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down);
      f = await waitForFrame(ui, (x) => Number(/j\/k scroll, (\d+)\//.exec(x)?.[1]) > shown);
    }
    const text = seen.join(' ').replace(/\s+/g, ' ');
    for (const action of [
      'offload all tables in layers: bronze → silver → gold (asks first)',
      'filter by name, layer, source or target (enter keeps, esc clears)',
      'quit dialog: stop safely (abort before commit; a commit under way completes), then quit',
    ]) {
      assert.ok(text.includes(action), `the help says: ${action}`);
    }
  });

  it('/ filters the rows as you type; esc clears the filter', async () => {
    const { press, frame, ui } = await open();
    await press('/', 'o', 'h', 'l', 'c', 'v', '_', '1');
    let f = frame();
    assert.match(f, /filter: ohlcv_1_/);
    assert.deepEqual(
      f.split('\n').flatMap((l) => /^[ ›][✓•✗⊘?▶] (\S+)/.exec(l)?.[1] ?? []),
      ['ohlcv_1m', 'ohlcv_15m', 'ohlcv_1h', 'ohlcv_1d'],
    );
    assert.doesNotMatch(f, /bronze_trades_binance /);
    await press(KEY.enter);
    await press('/', 'z', 'z', 'z', KEY.enter);
    f = await waitForFrame(ui, (x) => x.includes('no table matches "ohlcv_1zzz"'));
    await press(KEY.escape);
    await waitForFrame(ui, (x) => x.includes('bronze_trades_binance') && !x.includes('filter:'));
  });

  it('takes keys that arrive together one at a time', async () => {
    const { ui, rowOf } = await open();
    ui.stdin.write('jj');
    await waitForFrame(ui, () => /^›/.test(rowOf('silver_trades')));
    ui.stdin.write('j\r');
    await waitForFrame(ui, (x) => x.includes('SNAPSHOT ID'));
  });

  it('s cycles the sort and says which', async () => {
    const { press, ui } = await open();
    await press('s', 's');
    const f = await waitForFrame(ui, (x) => x.includes('sort: pending'));
    const first = f.split('\n').findIndex((l) => l.includes('bronze_trades_kraken'));
    const second = f.split('\n').findIndex((l) => l.includes('ohlcv_1h'));
    assert.ok(first < second, 'most pending rows first');
  });
});

describe('offloading from the main screen', () => {
  it('A asks before offloading all; n cancels, y starts the layered run', async () => {
    const { press, frame, backend, ui } = await open();
    await press('A');
    assert.match(frame(), /Offload all 9 tables in layers: bronze, then silver, then gold\?/);
    await press('n');
    await waitForFrame(ui, (x) => !x.includes('Offload all 9'));
    assert.equal(backend.runs.length, 0);
    await press('A', 'y');
    await waitForFrame(ui, (x) => x.includes('queued'));
    assert.equal(backend.runs.length, 1);
    assert.deepEqual(backend.runs[0].scope, { kind: 'all' });
  });

  it('o shows live progress in the row, several tables at once, and the new watermark when committed', async () => {
    const { press, frame, backend, ui, rowOf } = await open({ columns: 100, rows: 30 });
    await press('A', 'y');
    const run = backend.runs[0];
    const b = 'bronze_trades_binance';
    const k = 'bronze_trades_kraken';
    run.emit({ kind: 'phase', table: b, runId: 'r1', phase: 'extract' });
    run.emit({
      kind: 'planned',
      table: b,
      runId: 'r1',
      window: { lower: WATERMARK, upper: WATERMARK },
      estimatedRows: 200_000,
      batches: 1,
    });
    run.emit({ kind: 'progress', table: b, runId: 'r1', rows: 100_000, bytes: 5_242_880, files: 1, rowsPerSec: 50_000, etaSec: 2 });
    run.emit({ kind: 'phase', table: k, runId: 'r2', phase: 'write' });
    run.emit({ kind: 'progress', table: k, runId: 'r2', rows: 3000, bytes: 1000, files: 0, rowsPerSec: 1500, totalRows: 12_345 });
    const f = await waitForFrame(ui, (x) => x.includes('ETA 2.0s') && x.includes('1.50k rows/s'));
    assert.match(rowOf(b), /▶ extract 50%/);
    assert.match(f, /└ █+░+ {2}50% · extract · 100k\/200k rows · 5\.0 MB · 50.0k rows\/s · ETA 2\.0s/);
    assert.match(f, /└ █+░+ {2}24% · write · 3.00k\/12.3k rows · 1000 B · 1.50k rows\/s/);
    assert.match(rowOf('silver_trades'), /… silver_trades .* queued\s+queued/);
    assert.equal(f.split('\n').filter((l) => l.includes('└')).length, 2, 'a progress line for each running table, none for queued ones');

    backend.statusGate = new Promise(() => undefined); // the refresh after the commit is slow
    const outcome = {
      table: b,
      runId: 'r1',
      snapshotId: '8888',
      watermark: WATERMARK,
      rows: 200_000,
      files: 2,
      bytes: 9_000_000,
      durationMs: 4000,
    };
    run.emit({ kind: 'committed', ...outcome });
    await waitForFrame(ui, (x) => x.includes('committed 200,000 rows, 2 files'));
    assert.match(rowOf(b), /02-11 12:09:00 .*2.60M .*▶ /, 'new watermark and Iceberg rows without a refresh; the run goes on');
    run.emit({ kind: 'finished', ...outcome, batches: 1 });
    await waitForFrame(ui, () => /✓ \+200k rows/.test(rowOf(b)));
    assert.doesNotMatch(frame(), /50% · extract/);
  });

  it('q while offloading asks wait or stop; s stops safely and leaves', async () => {
    const { press, frame, backend, ui, session } = await open();
    await press('o');
    await waitForFrame(ui, (x) => x.includes('queued'));
    await press('q');
    const f = await waitForFrame(ui, (x) => x.includes('Quit how?'));
    assert.match(f, /1 offload queued\. Quit how\?/);
    assert.match(f, /w {2}wait for them to finish, then quit/);
    assert.match(f, /s {2}stop safely \(abort before commit; a commit under way completes\), then quit/);
    assert.match(f, /w wait, then quit {2}s stop safely, then quit {2}esc keep going$/m, 'the hint bar says the answers');
    let hasExited = false;
    void session.exited.then(() => (hasExited = true));
    await press('s');
    await session.exited;
    assert.equal(backend.runs[0].signal.aborted, true);
    assert.equal(hasExited, true);
    await waitForFrame(ui, (x) => x.includes('stopped before its commit'));
    assert.ok(frame().length > 0);
  });
});

describe('details screen', () => {
  it('enter shows the snapshots; tab, 3 and 4 show runs, partitions and config; esc goes back', async () => {
    const { press, ui, backend } = await open({ columns: 120, rows: 30 });
    await press('j', KEY.enter);
    let f = await waitForFrame(ui, (x) => x.includes('7301234567890123456'));
    assert.deepEqual(backend.detailsLoads, ['bronze_trades_kraken']);
    assert.match(f, /bronze_trades_kraken {2}k2\.bronze_trades_kraken → cold\.bronze_trades_kraken {2}\(bronze\)/);
    assert.match(f, /1 snapshots \(2\) .* 2 runs \(2\) .* 3 partitions \(2\) .* 4 config \(6\)/);
    assert.match(f, /SNAPSHOT ID\s+COMMITTED\s+OPERATION\s+ADDED ROWS\s+FILES\s+TOTAL ROWS\s+OFFLOAD\.WATERMARK/);
    assert.match(f, /7301234567890123456\s+2026-02-11 12:01:00\s+append\s+1,200\s+2\s+2,400\s+2026-02-11 12:00:00 #1001\s+run-b/);
    await press(KEY.tab);
    f = await waitForFrame(ui, (x) => x.includes('run-c'));
    assert.match(f, /run-c\s+2026-02-11 12:05:00\s+failed\s+0 .* S3 PutObject: 503 Slow Down/);
    assert.match(f, /run-b\s+2026-02-11 12:00:55\s+committed\s+1,200\s+2\s+46\.9 KB\s+4\.2s\s+2026-02-11 12:00:00 #1001/);
    await press('3');
    f = await waitForFrame(ui, (x) => x.includes('PARTITION'));
    assert.match(f, /exchange_timestamp_day=2026-02-11\s+1,500\s+2/);
    await press('4');
    f = await waitForFrame(ui, (x) => x.includes('SETTING'));
    assert.match(f, /partition spec\s+day\(exchange_timestamp\)/);
    await press(KEY.escape);
    await waitForFrame(ui, (x) => x.includes('LAST RUN'));
  });

  it('fits 80×24', async () => {
    const { press, ui, frame } = await open({ columns: 80, rows: 24 });
    await press(KEY.enter);
    await waitForFrame(ui, (x) => x.includes('7301234567890123456'));
    for (const l of frame().split('\n')) assert.ok(l.length <= 80, `line too wide: ${l}`);
    assert.match(frame(), /OFFLOAD\.WATERMARK/);
  });
});

describe('text from outside', () => {
  it('keeps messages with line breaks and escape codes on one line each', async () => {
    const { session, backend, ui, frame } = await open({ columns: 100, rows: 30 });
    session.execute({ kind: 'offload', table: 'ohlcv_1d' });
    backend.runs[0].emit({
      kind: 'log',
      level: 'warn',
      message: 'Warning: NodeVersionSupportWarning: The AWS SDK\nwill require node >=22.\n\nTo continue \x1b[31mreceiving\x1b[39m updates',
    });
    backend.runs[0].emit({
      kind: 'failed',
      table: 'ohlcv_1d',
      error: 'cannot reach ClickHouse at http://default:***@127.0.0.1:18123 (ECONNREFUSED).\n  Is the server running?',
    });
    const f = await waitForFrame(ui, (x) => x.includes('will require node'));
    assert.match(f, /^12:10:00 Warning: NodeVersionSupportWarning: The AWS SDK will require node >=22\. To continue receiv…$/m);
    assert.equal(f.split('\n').length, 29);
    assert.match(f, /^j\/k move/m);
    assert.ok(frame().includes('ohlcv_1d'));
  });
});

describe('refresh trouble', () => {
  it('a ClickHouse that stops answering shows in its cells and the header, and recovers on the next refresh', async () => {
    const { session, backend, ui, rowOf } = await open({ columns: 100, rows: 30 });
    const good = structuredClone(backend.report);
    const error = 'cannot reach ClickHouse at http://default:***@127.0.0.1:18123 (connection refused); is the server running?';
    backend.report.services[0] = { ...backend.report.services[0], ok: false, error, reason: 'connection refused', exitCode: 4 };
    delete backend.report.services[0].version;
    for (const t of backend.report.tables) {
      t.clickhouse = { ok: false, error: 'ClickHouse cannot be reached', exitCode: 4, service: 'ClickHouse' };
      t.delta = null;
    }
    await session.refresh();
    const f = await waitForFrame(ui, (x) => x.includes('✗ ClickHouse'));
    assert.match(rowOf('bronze_trades_kraken'), /\s+error\s+error\s+800,000\s+— unknown/);
    assert.match(f, /^✗ ClickHouse 127\.0\.0\.1:18123 \(connection refused\) {2}✓ PostgreSQL/m);
    backend.report = good;
    await session.refresh();
    await waitForFrame(ui, (x) => x.includes('✓ ClickHouse'));
    assert.match(rowOf('bronze_trades_kraken'), /800,000\s+12,345\s+800,000\s+0 pending/);
  });

  it('shows S3 with its bucket, ✗ and the reason when it cannot be reached', async () => {
    const { session, backend, ui } = await open({ columns: 120, rows: 30 });
    const s3 = backend.report.services.findIndex((s) => s.name === 'S3');
    backend.report.services[s3] = {
      name: 'S3',
      url: 'http://127.0.0.1:19900',
      location: 's3://warehouse/iceberg',
      ok: false,
      error: 'cannot reach S3 at http://127.0.0.1:19900 (connection refused); is the server running, and is AWS_ENDPOINT_URL_S3 right?',
      reason: 'connection refused',
      exitCode: 4,
    };
    await session.refresh();
    const wide = await waitForFrame(ui, (x) => x.includes('✗ S3'));
    assert.match(
      wide,
      /^✓ ClickHouse 127\.0\.0\.1:18123 {2}✓ PostgreSQL 127\.0\.0\.1:15432 {2}✗ S3 127\.0\.0\.1:19900\/warehouse \(connection refused\)$/m,
    );
    resizeTerminal(ui, 80, 24);
    const narrow = await waitForFrame(ui, (x) => /^✓ ClickHouse {2}✓ PostgreSQL {2}✗ S3/m.test(x));
    assert.match(
      narrow,
      /^✓ ClickHouse {2}✓ PostgreSQL {2}✗ S3 127\.0\.0\.1:19900\/warehouse \(connection refused\)$/m,
      'on 80 columns the reason still shows',
    );
  });

  it('says a refresh failed, keeps the last rows but no ✓ from before, and recovers', async () => {
    const { session, backend, ui, frame } = await open();
    backend.statusError = new Error('status did not answer within 15s');
    await session.refresh();
    const f = await waitForFrame(ui, (x) => x.includes('refresh failed: status did not answer'));
    assert.match(frame(), /bronze_trades_kraken/);
    assert.match(f, /^\? ClickHouse \S+ {2}\? PostgreSQL \S+ {2}\? S3/m, 'what the services are now is unknown');
    assert.doesNotMatch(f, /✓ (ClickHouse|PostgreSQL|S3)/);
    backend.statusError = null;
    await session.refresh();
    await waitForFrame(ui, (x) => x.includes('updated just now') && x.includes('✓ ClickHouse'));
  });
});
