#!/usr/bin/env bash
# Installs the Node dependencies when node_modules is missing or older than package-lock.json, then builds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
# `npm ci` runs `prepare` (the build); build again only when a source file is newer than dist.
if [ ! -f dist/cli.js ] || [ -n "$(find src -newer dist/cli.js -name '*.ts*' -print -quit 2>/dev/null)" ]; then
  echo "deps: building" >&2
  npx tsc -p tsconfig.json
fi
