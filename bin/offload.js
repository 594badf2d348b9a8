#!/usr/bin/env node
// The built CLI lives in dist/ (`npm run build`, run by `npm install` via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(built)) {
  process.stderr.write('offload: the CLI is not built yet. Run `npm run build` in the project directory.\n');
  process.exit(70);
}
await import(built);
