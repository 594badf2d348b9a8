#!/usr/bin/env bash
# Runs the test suite with node's test runner (via tsx). Integration tests need the local stack
# (`npm run stack:up`); `npm test` brings it up first. Usage: dev/run-tests.sh [files or dirs...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(test src)
mapfile -t files < <(find "${args[@]}" -type f \( -name '*.test.ts' -o -name '*.test.tsx' \) | sort)
[ ${#files[@]} -gt 0 ] || { echo "no test files under ${args[*]}" >&2; exit 1; }
[ -f .stack/env ] && source .stack/env
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=${AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED:-true}
export OFFLOAD_VENV=${OFFLOAD_VENV:-$ROOT/.venv}
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-1800000}" "${files[@]}"
