#!/usr/bin/env bash
# Builds the podnet node AMI: `npm run image` runs `npm run build` and then this.
# Needs a Packer that meets required_version in plugins.pkr.hcl, and AWS credentials
# (environment, profile or instance role).
# Extra arguments go to `packer build`, e.g. npm run image -- -var arch=arm64
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bundle=$(cd "$here/.." && pwd)/dist/podnet

# One source of truth: the constraint Packer itself enforces, e.g. ">= 1.10.0, < 2.0.0".
required=$(sed -n 's/^[[:space:]]*required_version[[:space:]]*=[[:space:]]*"\(.*\)"[[:space:]]*$/\1/p' "$here/plugins.pkr.hcl")
if [[ -z $required ]]; then
  echo "image: no required_version in $here/plugins.pkr.hcl" >&2
  exit 1
fi

# True when version $1 meets one constraint such as ">= 1.10.0" (operators >=, >, <=, <, =).
meets() {
  local version=$1 op=${2%% *} want=${2##* } lowest
  lowest=$(printf '%s\n%s\n' "$version" "$want" | sort -V | head -n 1)
  case $op in
    ">=") [[ $lowest == "$want" ]] ;;
    ">") [[ $lowest == "$want" && $version != "$want" ]] ;;
    "<=") [[ $lowest == "$version" ]] ;;
    "<") [[ $lowest == "$version" && $version != "$want" ]] ;;
    "=") [[ $version == "$want" ]] ;;
    *) echo "image: cannot read the constraint '$2' in plugins.pkr.hcl" >&2 && exit 1 ;;
  esac
}

if [[ ! -f $bundle ]]; then
  echo "image: $bundle is missing: run npm run build first (npm run image does)" >&2
  exit 1
fi
if ! command -v packer >/dev/null; then
  echo "image: packer not found: install a Packer release that meets $required (plugins.pkr.hcl)" >&2
  exit 1
fi
packer_version=$(packer version)
packer_version=${packer_version%%$'\n'*}
packer_version=${packer_version#Packer v}
IFS=, read -ra constraints <<<"$required"
for constraint in "${constraints[@]}"; do
  read -r constraint <<<"$constraint" # trims the blanks around it
  if ! meets "$packer_version" "$constraint"; then
    echo "image: packer $packer_version does not meet required_version \"$required\" of plugins.pkr.hcl: install a Packer release that does (https://developer.hashicorp.com/packer/install)" >&2
    exit 1
  fi
done

sha256=$(node -e 'const {createHash} = require("node:crypto");
process.stdout.write(createHash("sha256").update(require("node:fs").readFileSync(process.argv[1])).digest("hex"));' "$bundle")
echo "image: packer $packer_version, plugin bundle $bundle, sha256 $sha256"
packer init "$here"
packer build -var "plugin_bundle=$bundle" "$@" "$here"
echo "image: done; AMI id and name in $here/manifest.json"
