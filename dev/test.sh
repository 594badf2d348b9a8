#!/usr/bin/env bash
# The README's test command (`npm test`): installs what is missing and builds, runs the static checks
# (format, lint, import boundaries, types: dev/check.sh) and stops there if one fails, brings up the local
# stack, installs the Python verification readers and Prometheus (for the monitoring tests), and runs every
# test with node's test runner.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if ! command -v tmux >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "test: installing tmux (apt-get)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux) >/dev/null
  else
    echo "test: tmux is missing (needed by the TUI end-to-end test): sudo apt-get install -y tmux" >&2
  fi
fi
dev/ensure-node-deps.sh
dev/check.sh || { echo "test: the static checks failed (above); the suite did not run" >&2; exit 1; }
dev/stack.sh up
dev/python-env.sh
dev/prefect-env.sh
dev/prometheus-env.sh
exec dev/run-tests.sh "$@"
