#!/usr/bin/env bash
# Creates .venv with the independent readers the tests use (pyiceberg, pyarrow, DuckDB, chdb).
# Idempotent: does nothing when the requirements have not changed since the last install.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${OFFLOAD_VENV:-$ROOT/.venv}
REQ=$ROOT/dev/python-requirements.txt
stamp=$VENV/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
echo "python-env: installing verification packages into $VENV" >&2
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
echo "$want" >"$stamp"
