#!/usr/bin/env bash
# Installs everything the lab and the tests need on a fresh Debian 12 machine, as root:
# the kernel-networking tools, the real CNI runtimes the tests drive, packer
# and the shell linter, then the npm dependencies. Safe to run again: it skips what is present.
set -euo pipefail

APT_PACKAGES=(
  iproute2 iptables iputils-ping conntrack tcpdump iperf3 jq util-linux
  podman runc containerd containernetworking-plugins busybox-static
  packer shellcheck strace
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages ${missing[*]}; run as root (sudo) so they can be installed" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cd "$(dirname "$0")/.."
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
