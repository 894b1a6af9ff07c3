#!/usr/bin/env bash
# Sysctls kubelet and podnet need, as a drop-in applied at every boot (systemd-sysctl runs
# after systemd-modules-load, so br_netfilter's keys exist): forwarding between the pod
# bridge and the node's interface, and bridged traffic through iptables.
set -euo pipefail

dropin=/etc/sysctl.d/90-podnet.conf
declare -A settings=(
  [net.ipv4.ip_forward]=1
  [net.bridge.bridge-nf-call-iptables]=1
  [net.bridge.bridge-nf-call-ip6tables]=1
)

{
  echo "# Kubernetes node with the podnet CNI plugin (written by the image build)."
  for key in "${!settings[@]}"; do
    echo "$key = ${settings[$key]}"
  done | sort
} >"$dropin"
chmod 0644 "$dropin"

sysctl --system >/dev/null
for key in "${!settings[@]}"; do
  value=$(sysctl -n "$key")
  [[ $value == "${settings[$key]}" ]] || { echo "sysctl: $key is $value, want ${settings[$key]}" >&2; exit 1; }
done
echo "sysctl: $(grep -vc '^#' "$dropin") settings in $dropin, applied"
