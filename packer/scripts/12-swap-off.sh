#!/usr/bin/env bash
# Swap off for good: kubelet refuses to start with swap on (failSwapOn), so turn off what is
# active, comment out fstab swap entries and mask swap.target against swap units.
set -euo pipefail

swapoff -a
sed -ri 's@^([^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$@# swap off for kubelet: \1@' /etc/fstab
systemctl mask swap.target

if [[ -n $(swapon --show --noheadings) ]]; then
  echo "swap-off: swap still active" >&2
  exit 1
fi
echo "swap-off: no swap, swap.target masked"
