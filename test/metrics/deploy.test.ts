// The shipped monitoring files: the alert rules pass `promtool check rules` and behave as documented
// (`promtool test rules` on synthetic series), the example Prometheus configuration passes `promtool check
// config`, and the Grafana dashboard has the fields Grafana needs, queries that parse, and names only
// metrics the offload exports. Needs promtool (dev/prometheus-env.sh installs it), no service.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { z } from 'zod';
import { createOffloadMetrics } from '../../src/metrics/registry.js';
import { requirePrometheus } from '../support/prometheus.js';
import { ROOT } from '../support/stack.js';

const ALERTS = join(ROOT, 'deploy/prometheus/alerts.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/offload.json');

async function promtool(args: string[], cwd = ROOT) {
  await requirePrometheus();
  return execa('promtool', args, { cwd, reject: false });
}

/** The metric names the offload exports (prom-client's process metrics included). */
async function exported(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await createOffloadMetrics().registry.getMetricsAsJSON()) {
    names.add(m.name);
    // prom-client's typings declare `type` a numeric enum; at run time it is the exposition name.
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

const referenced = (expr: string) => [...expr.matchAll(/\b(offload_[a-z_]+)\b/g)].map((m) => m[1]);

// The parts of Grafana's dashboard model an import needs (Grafana fills the rest with defaults).
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own placeholder, not a template
const datasourceRef = z.object({ type: z.literal('prometheus'), uid: z.literal('${datasource}') });
const gridPos = z.object({
  h: z.number().int().positive(),
  w: z.number().int().min(1).max(24),
  x: z.number().int().min(0).max(23),
  y: z.number().int().min(0),
});
const panel = z.discriminatedUnion('type', [
  z.object({
    id: z.number().int(),
    type: z.literal('row'),
    title: z.string().min(1),
    gridPos,
    collapsed: z.boolean(),
    panels: z.array(z.unknown()),
  }),
  ...(['timeseries', 'stat'] as const).map((type) =>
    z.object({
      id: z.number().int(),
      type: z.literal(type),
      title: z.string().min(1),
      gridPos,
      datasource: datasourceRef,
      targets: z
        .array(z.object({ refId: z.string().min(1), expr: z.string().min(1), datasource: datasourceRef, legendFormat: z.string() }))
        .min(1),
      fieldConfig: z.object({ defaults: z.record(z.string(), z.unknown()), overrides: z.array(z.unknown()) }),
      options: z.record(z.string(), z.unknown()),
    }),
  ),
]);
const dashboardSchema = z.object({
  uid: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(36),
  version: z.number().int(),
  editable: z.boolean(),
  time: z.object({ from: z.string(), to: z.string() }),
  refresh: z.string(),
  tags: z.array(z.string()),
  annotations: z.object({ list: z.array(z.unknown()) }),
  templating: z.object({
    list: z.array(
      z
        .object({
          name: z.string().min(1),
          type: z.enum(['datasource', 'query', 'custom', 'interval', 'constant', 'textbox']),
          query: z.unknown(),
        })
        .passthrough(),
    ),
  }),
  panels: z.array(panel).min(1),
});

describe('deploy/prometheus', () => {
  it('alerts.yml passes promtool check rules and names only exported metrics', async () => {
    const r = await promtool(['check', 'rules', ALERTS]);
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(String(r.stdout), /SUCCESS: 8 rules found/);
    const names = await exported();
    const doc = YAML.parse(readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    for (const rule of doc.groups.flatMap((g) => g.rules))
      for (const n of referenced(rule.expr)) assert.ok(names.has(n), `${rule.alert}: ${n} is not exported`);
  });

  it('the freshness, failure and stuck-run alerts fire on the series they describe and stay quiet otherwise (promtool test rules)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'offload-rules-'));
    // The rules as shipped, less their annotations (texts for people; promtool check rules parses their templates).
    const shipped = YAML.parse(readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: Array<Record<string, unknown>> }> };
    for (const rule of shipped.groups.flatMap((g) => g.rules)) delete rule.annotations;
    writeFileSync(join(dir, 'alerts.yml'), YAML.stringify(shipped));
    const lagged = (table: string, pending: number) => [
      { series: `offload_freshness_lag_seconds{table="${table}", layer="bronze"}`, values: '3000+60x30' },
      { series: `offload_expected_lag_seconds{table="${table}", layer="bronze"}`, values: '300x30' },
      { series: `offload_pending_rows{table="${table}", layer="bronze"}`, values: `${pending}x30` },
    ];
    const tests = {
      rule_files: ['alerts.yml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            ...lagged('behind', 10),
            ...lagged('quiet', 0), // far behind, but the source has nothing new: no alert
            { series: 'offload_runs_total{table="behind", layer="bronze", outcome="failed"}', values: '0 1 2 3 4 5 6 7 8 9 10' },
            { series: 'offload_run_in_progress_seconds{table="behind", layer="bronze"}', values: '3400+60x20' },
          ],
          alert_rule_test: [
            // Lag − expected lag passes 2700 s at minute 0 (3000 − 300 = 2700 is not above), so from minute 1; firing after `for: 5m`.
            { eval_time: '4m', alertname: 'OffloadFreshnessLagHigh', exp_alerts: [] },
            {
              eval_time: '10m',
              alertname: 'OffloadFreshnessLagHigh',
              exp_alerts: [{ exp_labels: { severity: 'warning', table: 'behind', layer: 'bronze' } }],
            },
            {
              eval_time: '10m',
              alertname: 'OffloadRepeatedFailures',
              exp_alerts: [{ exp_labels: { severity: 'critical', table: 'behind', layer: 'bronze', outcome: 'failed' } }],
            },
            { eval_time: '1m', alertname: 'OffloadRunStuck', exp_alerts: [] },
            {
              eval_time: '10m',
              alertname: 'OffloadRunStuck',
              exp_alerts: [{ exp_labels: { severity: 'warning', table: 'behind', layer: 'bronze' } }],
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'alerts.test.yml'), YAML.stringify(tests));
    const r = await promtool(['test', 'rules', 'alerts.test.yml'], dir);
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  });

  it('prometheus.example.yml passes promtool check config (with its rule file)', async () => {
    const r = await promtool(['check', 'config', join(ROOT, 'deploy/prometheus/prometheus.example.yml')]);
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  });
});

describe('deploy/grafana/offload.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));

  it('has the fields Grafana needs: schemaVersion ≥ 36, the datasource as a template variable, panels with positions and targets', () => {
    const parsed = dashboardSchema.safeParse(dashboard);
    assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 5), null, 2));
    const ds = dashboard.templating.list.find((v: { type: string }) => v.type === 'datasource');
    assert.equal(ds?.name, 'datasource');
    assert.equal(ds?.query, 'prometheus');
    const ids = dashboard.panels.map((p: { id: number }) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of dashboard.panels) assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
  });

  it('every panel query parses (promtool) and names only exported metrics; the panels cover lag, rows/s, outcomes, durations, files', async () => {
    const names = await exported();
    const exprs: Array<{ title: string; expr: string }> = dashboard.panels.flatMap(
      (p: { title: string; targets?: Array<{ expr: string }> }) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })),
    );
    for (const { title, expr } of exprs) for (const n of referenced(expr)) assert.ok(names.has(n), `${title}: ${n} is not exported`);
    // Grafana's variables as Prometheus would receive them, each expression as a recording rule for promtool.
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: exprs.map((e, i) => ({
            record: `dashboard_panel_${i}`,
            expr: e.expr.replaceAll('$__rate_interval', '1m').replaceAll('$table', '.*').replaceAll('$layer', '.*'),
          })),
        },
      ],
    };
    const dir = mkdtempSync(join(tmpdir(), 'offload-dashboard-'));
    writeFileSync(join(dir, 'panels.yml'), YAML.stringify(rules));
    const r = await promtool(['check', 'rules', join(dir, 'panels.yml')]);
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    const all = exprs.map((e) => e.expr).join('\n');
    for (const metric of [
      'offload_freshness_lag_seconds',
      'offload_rows_total',
      'offload_runs_total',
      'offload_run_duration_seconds_bucket',
      'offload_iceberg_data_files',
      'offload_iceberg_small_file_ratio',
    ]) {
      assert.ok(all.includes(metric), `a panel shows ${metric}`);
    }
  });
});
