// Test files are outside tsconfig.json, so the JSX transform is named here.
/** @jsxRuntime automatic @jsxImportSource react */
// The TUI's service line on the real stack: each service reached through a loopback proxy that the test
// closes (the service is gone: connections refused) and opens again. Every refresh asks each service anew,
// so the header shows ✗ with the reason while it is gone and ✓ again once it is back — never a ✓ from before.
// And each service given a wrong password (S3: a wrong secret key): ✗ with the refusal, the secret never shown.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, render } from 'ink-testing-library';
import { FaultProxy, targetOf, throughProxy } from '../../src/drill/fault-proxy.js';
import { App } from '../../src/ui/App.js';
import { createPipelineBackend } from '../../src/ui/pipeline-backend.js';
import { TuiSession } from '../../src/ui/session.js';
import { createTuiStore } from '../../src/ui/store.js';
import { resizeTerminal, waitForFrame } from '../support/ui/terminal.js';
import { freshCliStack, type CliStack } from '../support/cli-stack.js';

let stack: CliStack;
before(async () => {
  stack = await freshCliStack('header');
});
after(async () => {
  cleanup();
  await stack?.drop();
});

type Name = 'ClickHouse' | 'PostgreSQL' | 'S3';
const VARIABLE: Record<Name, string> = { ClickHouse: 'CLICKHOUSE_URL', PostgreSQL: 'DATABASE_URL', S3: 'AWS_ENDPOINT_URL_S3' };

describe('the TUI header on the real services', () => {
  it('follows each service going away and coming back: ✗ with the reason, then ✓', async () => {
    const proxies = new Map<Name, FaultProxy>();
    for (const name of Object.keys(VARIABLE) as Name[]) {
      proxies.set(name, await FaultProxy.start({ target: targetOf(stack.env[VARIABLE[name]]), protocol: 'tcp' }));
    }
    const env = { ...stack.env };
    for (const [name, proxy] of proxies) env[VARIABLE[name]] = throughProxy(stack.env[VARIABLE[name]], proxy);
    const backend = createPipelineBackend({ config: stack.configFile, env });
    const session = new TuiSession(createTuiStore(), backend, { refreshSec: 0 });
    const ui = render(<App session={session} refreshSec={0} />);
    resizeTerminal(ui, 120, 30);
    const serviceLine = (frame: string) => frame.split('\n')[1] ?? '';
    try {
      await session.refresh();
      await waitForFrame(ui, (f) => /^✓ ClickHouse .* {2}✓ PostgreSQL .* {2}✓ S3 /.test(serviceLine(f)), 30_000);
      for (const name of Object.keys(VARIABLE) as Name[]) {
        const proxy = proxies.get(name)!;
        await proxy.close();
        await session.refresh();
        const down = serviceLine(await waitForFrame(ui, (f) => serviceLine(f).includes(`✗ ${name}`), 30_000));
        assert.match(down, new RegExp(`✗ ${name} \\S+ \\([^)]+\\)`), down);
        for (const other of Object.keys(VARIABLE).filter((n) => n !== name)) assert.ok(down.includes(`✓ ${other}`), down);
        proxies.set(name, await FaultProxy.start({ target: targetOf(stack.env[VARIABLE[name]]), protocol: 'tcp', port: proxy.port }));
        await session.refresh();
        await waitForFrame(ui, (f) => serviceLine(f).includes(`✓ ${name}`) && !serviceLine(f).includes('✗'), 30_000);
      }
    } finally {
      await session.dispose();
      await backend.close();
      for (const p of proxies.values()) await p.close();
    }
  });

  it('shows a service that refuses the credentials as ✗ with the refusal, and never the password', async () => {
    const WRONG = 'Wrong-Pw-5d2';
    const withPassword = (url: string) => {
      const u = new URL(url);
      u.password = WRONG;
      return u.toString();
    };
    const wrong: Record<Name, Record<string, string>> = {
      ClickHouse: { CLICKHOUSE_URL: withPassword(stack.env.CLICKHOUSE_URL) },
      PostgreSQL: { DATABASE_URL: withPassword(stack.env.DATABASE_URL) },
      S3: { AWS_SECRET_ACCESS_KEY: WRONG },
    };
    const serviceLine = (frame: string) => frame.split('\n')[1] ?? '';
    for (const name of Object.keys(wrong) as Name[]) {
      const backend = createPipelineBackend({ config: stack.configFile, env: { ...stack.env, ...wrong[name] } });
      const session = new TuiSession(createTuiStore(), backend, { refreshSec: 0 });
      const ui = render(<App session={session} refreshSec={0} />);
      resizeTerminal(ui, 120, 30);
      try {
        await session.refresh();
        const frame = await waitForFrame(ui, (f) => serviceLine(f).includes(`✗ ${name}`), 30_000);
        const line = serviceLine(frame);
        assert.match(line, new RegExp(`✗ ${name} \\S+ \\((login|access) refused \\(`), line);
        for (const other of Object.keys(wrong).filter((n) => n !== name)) assert.ok(line.includes(`✓ ${other}`), line);
        assert.ok(!frame.includes(WRONG), `${name}: the password is on the screen:\n${frame}`);
      } finally {
        ui.unmount();
        await session.dispose();
        await backend.close();
      }
    }
  });
});
