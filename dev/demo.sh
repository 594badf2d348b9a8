#!/usr/bin/env bash
# The README's first command (`npm run demo`): installs what is missing, brings up the local stack
# (ClickHouse, PostgreSQL, S3), applies migrations and the ClickHouse seed schema, seeds trades once,
# keeps a trickle of new trades arriving, and opens the TUI. Quitting the TUI stops the trickle;
# the stack keeps running (`npm run stack:down` stops it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
dev/ensure-node-deps.sh
dev/stack.sh up
# shellcheck disable=SC1091
source .stack/env
offload() { node "$ROOT/bin/offload.js" "$@"; }
offload init --clickhouse-schema
if [ "$(offload status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);const t=r.tables.find(t=>t.name==="bronze_trades_binance");console.log(t&&t.clickhouse.ok?t.clickhouse.value.totalRows:0)})')" = 0 ]; then
  offload seed --rows "${DEMO_ROWS:-200000}" --seed 1
fi
mkdir -p .stack/logs
offload seed --follow --rate "${DEMO_RATE:-20}" >>.stack/logs/demo-follow.log 2>&1 &
follower=$!
trap 'kill "$follower" 2>/dev/null || true' EXIT INT TERM
offload tui
