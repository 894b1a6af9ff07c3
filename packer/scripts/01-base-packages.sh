#!/usr/bin/env bash
# Base system: waits for cloud-init's first boot (it runs apt as well), brings the Ubuntu
# image up to date and installs the tools kubeadm, kubelet and the podnet plugin call
# (ip, nsenter, iptables, conntrack, socat, ethtool), openssl for the stack's bootstrap
# scripts, and what the next scripts use (curl, gpg).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt_get() {
  apt-get -q -y -o DPkg::Lock::Timeout=600 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

cloud-init status --wait >/dev/null || echo "base: cloud-init finished with status $?; continuing"

apt_get update
apt_get full-upgrade
apt_get install --no-install-recommends \
  ca-certificates curl gpg openssl \
  iproute2 iptables util-linux conntrack socat ethtool

for tool in curl gpg openssl ip nsenter iptables iptables-save iptables-restore conntrack socat ethtool; do
  command -v "$tool" >/dev/null || { echo "base: $tool missing after install" >&2; exit 1; }
done
echo "base: packages up to date"
