#!/usr/bin/env bash
# Applies the formatter to the whole tree once, for one mechanical commit:
#   1. deletes the "pending-format-all" block from biome.jsonc (which keeps the tree's
#      pre-formatter layout and the rules with open findings out of `npm run lint`);
#   2. `biome check --write`: formats every file, sorts imports, applies Biome's safe fixes
#      (behaviour-preserving by Biome's definition; unsafe fixes are left for a person);
#   3. lists what is left for hand fixes, by file:line and rule.
# Then: review `git diff --stat`, run `flock /tmp/podnet-root.lock npm test`, commit.
set -euo pipefail
cd "$(dirname "$0")/.."

if grep -q 'BEGIN pending-format-all' biome.jsonc; then
  sed -i '/BEGIN pending-format-all/,/END pending-format-all/d' biome.jsonc
fi
# Biome's formatter settles some nested call chains only on a second pass: repeat until nothing changes.
for _ in 1 2 3; do
  out=$(npx biome check --write . 2>&1 || true)
  [[ $out == *"Fixed "[1-9]* ]] || break
done

if npx biome check --error-on-warnings . >/dev/null 2>&1; then
  echo "formatted; npm run lint passes"
else
  echo "formatted; findings left for hand fixes:"
  npx biome check --error-on-warnings --max-diagnostics=none --reporter=github . 2>&1 |
    sed -nE "s|^::(error\|warning\|notice) title=([^,]+),file=$PWD/([^,]+),line=([0-9]+),.*::(.*)$|  \3:\4  \2 (\1): \5|p"
  exit 1
fi
