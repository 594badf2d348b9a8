#!/usr/bin/env node
// The built CLI lives in dist/ (`npm run build`, run by `npm install` via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The AWS SDK warns on every Node 20 process that its future versions need Node 22; we pin a version that
// supports Node 20, and the notice would land in the TUI's log and in --json consumers' stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(built)) {
  process.stderr.write('offload: the CLI is not built yet. Run `npm run build` in the project directory.\n');
  process.exit(70);
}
await import(built);
