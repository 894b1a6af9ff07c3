#!/usr/bin/env bash
# Kernel modules, loaded now and at every boot (systemd-modules-load): overlay for
# containerd's overlayfs snapshotter, br_netfilter so traffic between pods on the podnet
# bridge goes through iptables (Service DNAT, masquerade).
set -euo pipefail

modules=(overlay br_netfilter)

{
  echo "# Kubernetes node with the podnet CNI plugin (written by the image build)."
  printf '%s\n' "${modules[@]}"
} >/etc/modules-load.d/podnet.conf
chmod 0644 /etc/modules-load.d/podnet.conf

for module in "${modules[@]}"; do
  modprobe "$module"
  grep -q "^${module} " /proc/modules || { echo "kernel-modules: $module not loaded" >&2; exit 1; }
done
echo "kernel-modules: ${modules[*]} loaded and listed in /etc/modules-load.d/podnet.conf"
