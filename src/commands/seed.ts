// `offload seed`: realistic trades into the local stack's bronze tables (the views fill silver and the
// candles), and with --follow a live trickle until Ctrl-C / SIGTERM.
import { InvalidArgumentError, type Command } from 'commander';
import { clickhouseFromEnv } from '../config/env.js';
import { durationMs } from '../config/duration.js';
import { UsageError } from '../errors.js';
import { applySeedSchema, SEED_DATABASE } from '../dev/schema.js';
import { DEFAULT_SEED, followTrades, seedTrades, type SeedResult } from '../dev/seed.js';
import { formatCount, formatInstant, formatSeconds, printJson, println, type CommandContext } from './output.js';

export interface SeedOptions {
  rows?: number;
  start?: Date;
  end?: Date;
  seed: string;
  database: string;
  follow?: boolean;
  rate: number;
  json?: boolean;
}

/** `2026-11-20`, `2026-11-20T10:00:00Z`, `now`, or a duration meaning "that long ago" (`2d`, `36h`). */
export function parseTime(text: string, now = Date.now()): Date {
  if (text === 'now') return new Date(now);
  const ago = durationMs(text);
  if (ago !== null) return new Date(now - ago);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    // A time without a zone is UTC: the seed schema's DateTime columns are UTC.
    const iso = /[T ]\d{2}:\d{2}/.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? `${text.replace(' ', 'T')}Z` : text;
    const d = new Date(iso);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new InvalidArgumentError('expected an ISO time (2026-11-20T10:00:00Z), "now", or a duration ago (2d, 36h)');
}

function positiveInteger(text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of rows, e.g. 100000');
  return n;
}

function positiveNumber(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of trades per second');
  return n;
}

export async function seed(options: SeedOptions, ctx: CommandContext): Promise<void> {
  if (options.rows === undefined && !options.follow) throw new UsageError('seed: give --rows N, --follow, or both (see `offload seed --help`)');
  const { ClickHouseSource } = await import('../db/clickhouse.js');
  const source = new ClickHouseSource(clickhouseFromEnv(ctx.env), { env: ctx.env });
  try {
    if (!(await source.tableExists({ database: options.database, table: 'bronze_trades_binance' }))) {
      const n = await applySeedSchema(source, options.database);
      println(ctx.stderr, `seed: created the seed schema in ${options.database} (${n} statements)`);
    }

    if (options.rows !== undefined && options.rows > 0) {
      const result = await seedTrades(source, {
        rows: options.rows,
        start: options.start,
        end: options.end,
        seed: options.seed,
        database: options.database,
      });
      printSeeded(ctx, options, result);
    }

    if (options.follow) {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      println(ctx.stderr, `seed: following — about ${options.rate} trades/s into ${options.database} with current timestamps; Ctrl-C stops`);
      let lastReport = Date.now();
      try {
        const total = await followTrades(source, {
          rate: options.rate,
          seed: options.seed,
          database: options.database,
          signal: stop.signal,
          onBatch: (_rows, sum) => {
            if (Date.now() - lastReport >= 30_000) {
              lastReport = Date.now();
              println(ctx.stderr, `seed: ${formatCount(sum)} trades so far`);
            }
          },
        });
        if (options.json) printJson(ctx.stdout, { followed: total });
        else println(ctx.stdout, `stopped following after ${formatCount(total)} trades`);
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    }
  } finally {
    await source.close();
  }
}

function printSeeded(ctx: CommandContext, options: SeedOptions, r: SeedResult): void {
  const total = r.rows.binance + r.rows.kraken;
  if (options.json) {
    printJson(ctx.stdout, {
      database: options.database,
      seed: options.seed,
      rows: { total, ...r.rows },
      start: r.start.toISOString(),
      end: r.end.toISOString(),
      elapsedMs: Math.round(r.elapsedMs),
      rowsPerSec: Math.round(r.rowsPerSec),
    });
    return;
  }
  println(
    ctx.stdout,
    `seeded ${formatCount(total)} trades into ${options.database} (binance ${formatCount(r.rows.binance)}, kraken ${formatCount(r.rows.kraken)}), ` +
      `${formatInstant(r.start.toISOString())} → ${formatInstant(r.end.toISOString())} UTC, in ${formatSeconds(r.elapsedMs)} (${formatCount(r.rowsPerSec)} rows/s)`,
  );
}

export function registerSeed(program: Command, ctx: CommandContext): void {
  program
    .command('seed')
    .description('insert realistic trades (Binance + Kraken) into the k2 bronze tables; the seed schema\'s views fill silver and the candles')
    .option('-n, --rows <n>', 'trades to insert now (60 % Binance, 40 % Kraken)', positiveInteger)
    .option('--start <time>', 'first timestamp: ISO time, or a duration ago like 2d (default: 2 days before --end)', (t) => parseTime(t))
    .option('--end <time>', 'timestamps stay before this (default: now, so the newest rows are still inside the lag)', (t) => parseTime(t))
    .option('--seed <s>', 'random seed: the same seed on the same tables gives the same rows', DEFAULT_SEED)
    .option('--database <name>', 'ClickHouse database of the seed schema (created when missing)', SEED_DATABASE)
    .option('-f, --follow', 'then keep inserting trades with current timestamps until Ctrl-C or SIGTERM')
    .option('--rate <r>', 'trades per second with --follow', positiveNumber, 20)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  offload seed --rows 1000000 --seed 7\n  offload seed --rows 100000 --start 2026-11-01 --end 2026-11-08\n  offload seed --follow --rate 50')
    .action(async (options: SeedOptions) => {
      await seed(options, ctx);
    });
}
