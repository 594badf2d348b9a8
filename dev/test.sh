#!/usr/bin/env bash
# The README's test command (`npm test`): installs what is missing and builds, runs the static checks
# (format, lint, import boundaries, types: dev/check.sh) and stops there if one fails, brings up the local
# stack (with its Iceberg REST catalog when a test to run needs it), installs the Python verification readers
# and Prometheus (for the monitoring tests), and runs every test with node's test runner.
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
# The REST catalog's tests are the stack tests named *rest*; the server (Java 17 + jars from Maven Central,
# installed once) starts only when one of them is to run, and never against OFFLOAD_STACK_REST=0.
paths=()
for a in "$@"; do case $a in --unit | --e2e) paths=(/nonexistent) && break ;; -*) ;; *) paths+=("$a") ;; esac; done
if [ "${OFFLOAD_STACK_REST:-}" != 0 ] && [ -n "$(find "${paths[@]:-test}" -name '*rest*.stack.test.ts' 2>/dev/null | head -n 1)" ]; then
  export OFFLOAD_STACK_REST=1
fi
dev/stack.sh up
dev/python-env.sh
dev/prefect-env.sh
dev/prometheus-env.sh
exec dev/run-tests.sh "$@"
