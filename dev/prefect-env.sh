#!/usr/bin/env bash
# Creates .venv-prefect with Prefect (integrations/prefect/requirements.txt) for the Prefect flow and its
# tests. A venv of its own: Prefect's dependency pins never touch the verification venv (.venv).
# Idempotent: does nothing when the requirements have not changed since the last install.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${OFFLOAD_PREFECT_VENV:-$ROOT/.venv-prefect}
REQ=$ROOT/integrations/prefect/requirements.txt
stamp=$VENV/.requirements.sha256
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# The venv is a build product: keep it out of git without touching the project's .gitignore.
echo '*' >"$VENV/.gitignore"
echo "prefect-env: installing Prefect into $VENV" >&2
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
echo "$want" >"$stamp"
