#!/usr/bin/env bash
# The README's first command (`npm run demo`): installs what is missing, brings up the local stack
# (ClickHouse, PostgreSQL, S3), applies migrations and the ClickHouse seed schema, seeds trades once,
# keeps a trickle of new trades arriving, and opens the TUI. Quitting the TUI stops the trickle;
# the stack keeps running (`npm run stack:down` stops it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STACK_DIR=${OFFLOAD_STACK_DIR:-$ROOT/.stack}
FOLLOW_PID=$STACK_DIR/demo-follow.pid
dev/ensure-node-deps.sh
dev/stack.sh up
# shellcheck disable=SC1091
source "$STACK_DIR/env"
offload() { node "$ROOT/bin/offload.js" "$@"; }
offload init --clickhouse-schema
if [ "$(offload status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);const t=r.tables.find(t=>t.name==="bronze_trades_binance");console.log(t&&t.clickhouse.ok?t.clickhouse.value.totalRows:0)})')" = 0 ]; then
  offload seed --rows "${DEMO_ROWS:-200000}" --seed 1
fi

# Stops the trickle whose pid is in $FOLLOW_PID, if that process is still our `seed --follow`.
stop_follower() {
  [ -f "$FOLLOW_PID" ] || return 0
  local pid; pid=$(cat "$FOLLOW_PID")
  if grep -qa -- '--follow' "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$FOLLOW_PID"
}
# A demo that was killed before it could stop its trickle left it running: stop it first.
stop_follower
mkdir -p "$STACK_DIR/logs"
# node itself in the background, so $! is the trickle (a shell function would run in a subshell, whose
# pid is not node's: killing it left the trickle running).
node "$ROOT/bin/offload.js" seed --follow --rate "${DEMO_RATE:-20}" >>"$STACK_DIR/logs/demo-follow.log" 2>&1 &
echo $! >"$FOLLOW_PID"
trap stop_follower EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
offload tui
