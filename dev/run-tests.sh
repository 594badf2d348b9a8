#!/usr/bin/env bash
# Runs tests with node's test runner (via tsx). Test files mirror src/ under test/; the kind is in the name:
# x.test.ts(x) needs no service, x.stack.test.ts(x) needs the local stack (`npm run stack:up`; `npm test`
# brings it up), x.e2e.test.ts drives the built CLI in tmux.
# Usage: dev/run-tests.sh [--unit | --stack | --e2e] [--times] [files or dirs...]  (default: all of test/)
#   dev/run-tests.sh --unit               the unit tests only: no service needed
#   dev/run-tests.sh test/iceberg         one folder, every kind
#   dev/run-tests.sh --unit test/iceberg  one folder, its unit tests only
#   --times                               also print each file's time, slowest first
# TEST_CONCURRENCY: test files run at once (default 3: much of a stack test is waiting on services).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
kind=all
reporters=()
while [ $# -gt 0 ]; do
  case $1 in
    --unit | --stack | --e2e) kind=${1#--} ;;
    --times) reporters=(--test-reporter=spec --test-reporter-destination=stdout --test-reporter=./dev/test-times.mjs --test-reporter-destination=stderr) ;;
    -*) echo "run-tests: unknown option $1 (use --unit, --stack, --e2e, --times)" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(test)
mapfile -t found < <(find "${args[@]}" -type f \( -name '*.test.ts' -o -name '*.test.tsx' \) | sort)
files=()
for f in "${found[@]}"; do
  case "$kind:$f" in
    all:*) files+=("$f") ;;
    unit:*.stack.test.ts | unit:*.stack.test.tsx | unit:*.e2e.test.ts | unit:*.e2e.test.tsx) ;;
    unit:*) files+=("$f") ;;
    stack:*.stack.test.ts | stack:*.stack.test.tsx | e2e:*.e2e.test.ts | e2e:*.e2e.test.tsx) files+=("$f") ;;
  esac
done
[ ${#files[@]} -gt 0 ] || { echo "run-tests: no $kind test files under ${args[*]}" >&2; exit 1; }
# The CLI the tests drive is dist/: built once here when src/ is newer, not by test files racing each other.
if [ ! -f dist/cli.js ] || [ -n "$(find src -newer dist/cli.js -name '*.ts*' -print -quit)" ]; then
  npx tsc -p tsconfig.json >/dev/null || true # tsc emits even with type errors; the checks report those
fi
[ -f .stack/env ] && source .stack/env
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=${AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED:-true}
export OFFLOAD_VENV=${OFFLOAD_VENV:-$ROOT/.venv}
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-1800000}" \
  ${reporters[@]+"${reporters[@]}"} "${files[@]}"
