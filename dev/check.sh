#!/usr/bin/env bash
# The static checks `npm test` runs before the suite (and `npm run check` alone): formatting (Biome),
# lint (Biome's recommended rules, biome.jsonc), import boundaries (the layers of docs/architecture.md,
# .dependency-cruiser.cjs) and the type check of src, test and bench (tsconfig.check.json). They run
# side by side; each prints one line, and a failing one its tool's report first. Exit 1 when any fails.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

names=(format lint boundaries typecheck)
fixes=('npm run format' 'npm run lint' 'npm run lint:boundaries' 'npm run typecheck')
commands=(
  'npx biome format .'
  'npx biome lint --error-on-warnings .'
  'npx depcruise --config .dependency-cruiser.cjs --output-type err src test bench'
  'npx tsc -p tsconfig.check.json'
)
for i in "${!names[@]}"; do
  (
    start=$SECONDS
    bash -c "${commands[$i]}" >"$out/$i.log" 2>&1
    echo "$? $((SECONDS - start))" >"$out/$i.rc"
  ) &
done
wait

failed=0
for i in "${!names[@]}"; do
  read -r rc secs <"$out/$i.rc"
  if [ "$rc" = 0 ]; then
    printf 'check: %-10s ok (%ss)\n' "${names[$i]}" "$secs" >&2
  else
    tail -n 60 "$out/$i.log" >&2
    printf 'check: %-10s FAILED (%s): see above, or run `%s`\n' "${names[$i]}" "${commands[$i]}" "${fixes[$i]}" >&2
    failed=1
  fi
done
exit $failed
