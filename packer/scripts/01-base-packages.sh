#!/usr/bin/env bash
# Base system: once cloud-init's first boot and Ubuntu's periodic apt jobs are done (apt_get
# waits for them and keeps them off for the rest of the build), brings the Ubuntu image up
# to date and installs the tools kubeadm, kubelet and the podnet plugin call (ip, nsenter,
# iptables, conntrack, socat, ethtool), openssl for the stack's bootstrap scripts, and what
# the next scripts use (curl, gpg).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# shellcheck source=SCRIPTDIR/../lib/apt.sh
. "${PODNET_APT_HELPER:?PODNET_APT_HELPER must name packer/lib/apt.sh as uploaded}"

apt_get update
apt_get full-upgrade
apt_get install --no-install-recommends \
  ca-certificates curl gpg openssl \
  iproute2 iptables util-linux conntrack socat ethtool

for tool in curl gpg openssl ip nsenter iptables iptables-save iptables-restore conntrack socat ethtool; do
  command -v "$tool" >/dev/null || { echo "base: $tool missing after install" >&2; exit 1; }
done
echo "base: packages up to date"
