#!/usr/bin/env bash
# Builds the podnet node AMI: `npm run image` runs `npm run build` and then this.
# Needs Packer 1.10+ and AWS credentials (environment, profile or instance role).
# Extra arguments go to `packer build`, e.g. npm run image -- -var arch=arm64
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bundle=$(cd "$here/.." && pwd)/dist/podnet
min_packer=1.10.0

if [[ ! -f $bundle ]]; then
  echo "image: $bundle is missing: run npm run build first (npm run image does)" >&2
  exit 1
fi
if ! command -v packer >/dev/null; then
  echo "image: packer not found: install Packer $min_packer or later" >&2
  exit 1
fi
packer_version=$(packer version)
packer_version=${packer_version%%$'\n'*}
packer_version=${packer_version#Packer v}
lowest=$(printf '%s\n%s\n' "$min_packer" "$packer_version" | sort -V)
if [[ ${lowest%%$'\n'*} != "$min_packer" ]]; then
  echo "image: packer $packer_version is too old: the template needs $min_packer or later (packer init)" >&2
  exit 1
fi

sha256=$(node -e 'const {createHash} = require("node:crypto");
process.stdout.write(createHash("sha256").update(require("node:fs").readFileSync(process.argv[1])).digest("hex"));' "$bundle")
echo "image: plugin bundle $bundle, sha256 $sha256"
packer init "$here"
packer build -var "plugin_bundle=$bundle" "$@" "$here"
echo "image: done; AMI id and name in $here/manifest.json"
