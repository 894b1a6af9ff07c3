#!/usr/bin/env bash
# The JavaScript runtime the podnet plugin runs on: Bun at the version package.json pins,
# from the npm registry's tarball for this CPU (the one npm ci installs for the tests),
# checked against its sha512 integrity from package-lock.json before anything is unpacked.
# Installed as $BUN_DIR/bun, the first place dist/podnet's shebang looks.
set -euo pipefail
: "${BUN_VERSION:?}" "${BUN_DIR:?}" "${NPM_REGISTRY:?}"
: "${BUN_INTEGRITY_X64:?}" "${BUN_INTEGRITY_X64_BASELINE:?}" "${BUN_INTEGRITY_AARCH64:?}"

# x86_64 CPUs without AVX2 need the baseline build (as lab/bun.ts picks for the tests).
case $(uname -m) in
  x86_64)
    if grep -qw avx2 /proc/cpuinfo; then
      package=bun-linux-x64 integrity=$BUN_INTEGRITY_X64
    else
      package=bun-linux-x64-baseline integrity=$BUN_INTEGRITY_X64_BASELINE
    fi
    ;;
  aarch64) package=bun-linux-aarch64 integrity=$BUN_INTEGRITY_AARCH64 ;;
  *) echo "bun: no Bun build for $(uname -m)" >&2; exit 1 ;;
esac
if [[ $integrity != sha512-* ]]; then
  echo "bun: integrity for $package must be sha512-<base64> as in package-lock.json, not $integrity" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
url="${NPM_REGISTRY%/}/@oven/$package/-/$package-$BUN_VERSION.tgz"
curl -fsSL --retry 3 -o "$work/bun.tgz" "$url"

want=$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
actual=$(sha512sum "$work/bun.tgz" | cut -d' ' -f1)
if [[ $actual != "$want" ]]; then
  echo "bun: $url has sha512 $actual, package-lock.json pins $want" >&2
  exit 1
fi

tar -xzf "$work/bun.tgz" -C "$work" package/bin/bun
install -D -m 0755 -o root -g root "$work/package/bin/bun" "$BUN_DIR/bun"

version=$(env -i "$BUN_DIR/bun" --version)
if [[ $version != "$BUN_VERSION" ]]; then
  echo "bun: $BUN_DIR/bun reports $version, expected $BUN_VERSION" >&2
  exit 1
fi
echo "bun: $package $version in $BUN_DIR, sha512 verified"
