// Puts generated trades into the bronze tables: `offload seed`. Rows travel as TSV bytes streamed over HTTP
// (`INSERT … FORMAT TabSeparated`), one INSERT per chunk, both exchanges in parallel; the materialized views
// of the seed schema fill silver and the candles from there.
import { Readable } from 'node:stream';
import type { ClickHouseSource } from '../clickhouse/client.js';
import { qualifiedName, quoteIdentifier } from '../clickhouse/sql.js';
import { UsageError } from '../core/errors.js';
import { SEED_DATABASE } from './schema.js';
import {
  BRONZE_COLUMNS,
  EXCHANGES,
  TradeFeed,
  initialPosition,
  splitRows,
  tradeTsv,
  type Exchange,
  type FeedPosition,
  type Trade,
} from './trades.js';

export const DEFAULT_SEED = 'k2';
/** Seeded history ends now and starts this long before (so the newest rows are still within the lag). */
export const DEFAULT_HISTORY_MS = 2 * 86_400_000;
/** Rows per INSERT (the server forms blocks of up to ~1M rows; the views run per block). */
export const DEFAULT_CHUNK_ROWS = 500_000;
/** TSV lines per buffer handed to the HTTP stream. */
const LINES_PER_BUFFER = 4096;

export function bronzeTable(exchange: Exchange): string {
  return `bronze_trades_${exchange}`;
}

/** Where each exchange's feed continues in `database`: next trade id, next offset, last price per symbol. */
export async function feedPosition(source: ClickHouseSource, exchange: Exchange, database = SEED_DATABASE): Promise<FeedPosition> {
  const table = qualifiedName({ database, table: bronzeTable(exchange) });
  const [totals] = await source.query<{ n: string; seq: string; off: string }>(
    `SELECT count() AS n, max(sequence_number) AS seq, max(kafka_offset) AS off FROM ${table}`,
  );
  const position = initialPosition();
  if (Number(totals?.n ?? 0) === 0) return position;
  position.nextOffset = Number(totals.off) + 1;
  if (exchange === 'binance') position.nextSequence = Math.max(position.nextSequence, Number(totals.seq) + 1);
  const last = await source.query<{ symbol: string; price: string }>(
    `SELECT symbol, toString(argMax(price, (exchange_timestamp, exchange_timestamp_ms, kafka_offset))) AS price FROM ${table} GROUP BY symbol`,
  );
  for (const row of last) position.lastPrices[row.symbol] = Number(row.price);
  return position;
}

/** TSV bytes of a trade iterator, in buffers of a few thousand lines. */
export function tsvChunks(trades: Iterable<Trade>, onRows?: (n: number) => void): Readable {
  async function* buffers(): AsyncGenerator<Buffer> {
    let lines: string[] = [];
    for (const t of trades) {
      lines.push(tradeTsv(t));
      if (lines.length === LINES_PER_BUFFER) {
        yield Buffer.from(lines.join(''));
        onRows?.(lines.length);
        lines = [];
        // Generating is synchronous work: give the event loop a turn between buffers, or responses and
        // timers of other requests wait (a keep-alive socket then looks fresh to the client while the
        // server has already closed it).
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (lines.length > 0) {
      yield Buffer.from(lines.join(''));
      onRows?.(lines.length);
    }
  }
  return Readable.from(buffers(), { objectMode: false });
}

/** Inserts a trade iterator into its bronze table in one INSERT. */
export async function insertTrades(
  source: ClickHouseSource,
  exchange: Exchange,
  trades: Iterable<Trade>,
  database = SEED_DATABASE,
  onRows?: (n: number) => void,
): Promise<void> {
  const table = qualifiedName({ database, table: bronzeTable(exchange) });
  await source.run(
    (c) =>
      c.insert({
        table,
        values: tsvChunks(trades, onRows),
        format: 'TabSeparated',
        columns: BRONZE_COLUMNS.map(quoteIdentifier) as [string, ...string[]],
      }),
    `inserting into ${database}.${bronzeTable(exchange)}`,
  );
}

export interface SeedOptions {
  rows: number;
  /** First exchange timestamp (default: `end` − 2 days). */
  start?: Date;
  /** Timestamps stay before this instant (default: now). */
  end?: Date;
  seed?: string;
  database?: string;
  chunkRows?: number;
  /** Called as rows are handed to the server (running total). */
  onProgress?: (rowsSent: number) => void;
}

export interface SeedResult {
  rows: Record<Exchange, number>;
  start: Date;
  end: Date;
  elapsedMs: number;
  rowsPerSec: number;
}

/**
 * Generates `rows` trades (60 % Binance, 40 % Kraken) with timestamps in [start, end) and inserts them.
 * Deterministic for a seed and the tables' prior content (ids, offsets and prices continue from it).
 */
export async function seedTrades(source: ClickHouseSource, options: SeedOptions): Promise<SeedResult> {
  const database = options.database ?? SEED_DATABASE;
  const end = options.end ?? new Date();
  const start = options.start ?? new Date(end.getTime() - DEFAULT_HISTORY_MS);
  if (!(end.getTime() > start.getTime()))
    throw new UsageError(`--start (${start.toISOString()}) must be before the end (${end.toISOString()})`);
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const split = splitRows(options.rows);
  const began = performance.now();
  let sent = 0;
  const onRows = (n: number) => {
    sent += n;
    options.onProgress?.(sent);
  };

  await settleAll(
    EXCHANGES.map(async (exchange) => {
      const feed = new TradeFeed(exchange, options.seed ?? DEFAULT_SEED, await feedPosition(source, exchange, database));
      // One stream over the whole range, cut into INSERTs of chunkRows: the rows do not depend on the chunk size.
      const trades = feed.trades(split[exchange], start.getTime(), end.getTime());
      for (let done = 0; done < split[exchange]; done += chunkRows) {
        await insertTrades(source, exchange, take(trades, chunkRows), database, onRows);
      }
    }),
  );

  const elapsedMs = performance.now() - began;
  return { rows: split, start, end, elapsedMs, rowsPerSec: options.rows / Math.max(elapsedMs / 1000, 1e-9) };
}

export interface FollowOptions {
  /** Trades per second, both exchanges together (default 20). */
  rate?: number;
  seed?: string;
  database?: string;
  /** How often a batch is inserted (default 1000 ms). */
  intervalMs?: number;
  signal: AbortSignal;
  onBatch?: (rows: number, total: number) => void;
}

/**
 * Keeps inserting a trickle of trades stamped with the current time until `signal` aborts; the batch in
 * flight is finished first, so a stop never leaves half an INSERT. Returns the rows inserted.
 */
export async function followTrades(source: ClickHouseSource, options: FollowOptions): Promise<number> {
  const database = options.database ?? SEED_DATABASE;
  const rate = options.rate ?? 20;
  const intervalMs = options.intervalMs ?? 1000;
  if (!(rate > 0)) throw new UsageError(`--rate must be a positive number of trades per second (got ${rate})`);
  const seed = `${options.seed ?? DEFAULT_SEED}/follow/${Date.now()}`;
  const feeds = new Map<Exchange, TradeFeed>();
  for (const exchange of EXCHANGES) feeds.set(exchange, new TradeFeed(exchange, seed, await feedPosition(source, exchange, database)));
  let total = 0;
  let owed = 0; // fractional rows carried between batches so the average rate is exact
  let from = Date.now();
  while (!options.signal.aborted) {
    await sleep(intervalMs, options.signal);
    const to = Date.now();
    if (to <= from) continue;
    owed += (rate * (to - from)) / 1000;
    const rows = Math.floor(owed);
    owed -= rows;
    if (rows > 0) {
      const split = splitRows(rows);
      await settleAll(
        EXCHANGES.filter((e) => split[e] > 0).map((e) => insertTrades(source, e, feeds.get(e)!.trades(split[e], from, to), database)),
      );
      total += rows;
      options.onBatch?.(rows, total);
    }
    from = to;
  }
  return total;
}

/** Waits for every promise (no INSERT is left running unobserved), then throws the first failure. */
async function settleAll(work: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The next `n` items of an iterator, leaving the rest in it. */
function* take<T>(iterator: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const next = iterator.next();
    if (next.done) return;
    yield next.value;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
