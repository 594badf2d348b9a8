// `offload init`: PostgreSQL migrations, a watermark row at 1970-01-01 for every configured table, and,
// with --clickhouse-schema, the k2 seed schema on ClickHouse (the local stack's tables and views).
import type { Command } from 'commander';
import { clickhouseFromEnv, postgresFromEnv } from '../config/env.js';
import { applySeedSchema, SEED_DATABASE } from '../dev/schema.js';
import { printJson, println, type CommandContext } from './output.js';

export interface InitOptions {
  config?: string;
  clickhouseSchema?: boolean;
  clickhouseDatabase?: string;
  json?: boolean;
}

export interface InitResult {
  postgres: { url: string; schemaVersion: number; applied: string[] };
  watermarks: { configured: string[]; created: string[] };
  clickhouse: { url: string; database: string; statements: number } | null;
}

export async function init(options: InitOptions, ctx: CommandContext): Promise<InitResult> {
  // Loaded here, not with the CLI: `offload --help` and the other commands start without them.
  const [{ checkTablesAgainstClickHouse, loadTablesConfig }, { ClickHouseSource }, { migrate }, { connectPostgres, describePostgres }, watermarks] = await Promise.all([
    import('../config/tables.js'),
    import('../db/clickhouse.js'),
    import('../db/migrate.js'),
    import('../db/postgres.js'),
    import('../db/watermarks.js'),
  ]);
  const config = loadTablesConfig({ config: options.config, env: ctx.env });
  const pgConn = postgresFromEnv(ctx.env);
  const pool = await connectPostgres(pgConn, { env: ctx.env, max: 2, applicationName: 'offload init' });
  let result: InitResult;
  try {
    const migrated = await migrate(pool);
    const created = await watermarks.ensure(
      pool,
      config.tables.map((t) => ({ table: t.name, icebergTable: t.target })),
    );
    result = {
      postgres: { url: describePostgres(pgConn, ctx.env), schemaVersion: migrated.version, applied: migrated.applied.map((m) => m.file) },
      watermarks: { configured: config.tables.map((t) => t.name), created },
      clickhouse: null,
    };
  } finally {
    await pool.end();
  }

  if (options.clickhouseSchema) {
    const database = options.clickhouseDatabase ?? SEED_DATABASE;
    const source = new ClickHouseSource(clickhouseFromEnv(ctx.env), { env: ctx.env });
    try {
      const statements = await applySeedSchema(source, database);
      result.clickhouse = { url: source.url, database, statements };
      // The configuration must fit the tables it names (cursor and tie-break columns, queries that run):
      // checked for the tables that live in the database just created.
      await checkTablesAgainstClickHouse({ ...config, tables: config.tables.filter((t) => t.sourceTable?.database === database) }, source);
    } finally {
      await source.close();
    }
  }

  if (options.json) {
    printJson(ctx.stdout, result);
  } else {
    const p = result.postgres;
    println(
      ctx.stdout,
      `PostgreSQL  ${p.url}: schema version ${p.schemaVersion}` + (p.applied.length ? ` (applied ${p.applied.join(', ')})` : ' (up to date)'),
    );
    const w = result.watermarks;
    println(
      ctx.stdout,
      `watermarks  ${w.configured.length} tables configured in ${config.file}; ` +
        (w.created.length ? `${w.created.length} created at 1970-01-01 (${w.created.join(', ')})` : 'all present already'),
    );
    if (result.clickhouse) {
      const c = result.clickhouse;
      println(ctx.stdout, `ClickHouse  ${c.url}: seed schema in database ${c.database} (${c.statements} statements, all IF NOT EXISTS); ${config.file} matches it`);
    }
  }
  return result;
}

export function registerInit(program: Command, ctx: CommandContext): void {
  program
    .command('init')
    .description('prepare PostgreSQL (migrations, a watermark at 1970-01-01 per configured table); safe to run again')
    .option('-c, --config <file>', 'table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)')
    .option('--clickhouse-schema', 'also create the k2 seed schema on ClickHouse (dev/clickhouse/schema.sql: the local stack\'s tables and views) and check the configuration against it')
    .option('--clickhouse-database <name>', 'database for --clickhouse-schema', SEED_DATABASE)
    .option('--json', 'print what was done as JSON')
    .action(async (options: InitOptions) => {
      await init(options, ctx);
    });
}
