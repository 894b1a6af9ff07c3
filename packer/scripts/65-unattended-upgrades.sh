#!/usr/bin/env bash
# Updates on nodes. Ubuntu's unattended upgrades stay on, so nodes take security fixes daily
# (Ubuntu's defaults: the security pocket, no automatic reboot). The cluster's own packages
# never move under running pods: they are held (20-, 30- and 40-*.sh), which apt-get upgrade
# honours, and listed in Unattended-Upgrade::Package-Blacklist as well. They change when the
# image is rebuilt, or when an operator unholds them for a kubeadm upgrade. needrestart,
# which restarts services whose libraries an upgrade replaced, leaves containerd and kubelet
# alone: restart those by hand, after draining the node.
set -euo pipefail
: "${UNATTENDED_UPGRADES_CONF:=/etc/apt/apt.conf.d/51podnet-unattended-upgrades}"
: "${NEEDRESTART_CONF:=/etc/needrestart/conf.d/90-podnet.conf}"

cluster_packages=(containerd runc kubelet kubeadm kubectl cri-tools kubernetes-cni)
cluster_services=(containerd.service kubelet.service)

held=$(apt-mark showhold)
for package in "${cluster_packages[@]}"; do
  grep -qxF -- "$package" <<<"$held" || { echo "unattended-upgrades: $package is not held" >&2; exit 1; }
done

{
  echo "// Kubernetes node with the podnet CNI plugin (written by the image build):"
  echo "// the cluster's packages change with the image, never unattended."
  echo "APT::Periodic::Update-Package-Lists \"1\";"
  echo "APT::Periodic::Unattended-Upgrade \"1\";"
  echo "Unattended-Upgrade::Package-Blacklist {"
  printf '  "^%s$";\n' "${cluster_packages[@]}"
  echo "};"
} >"$UNATTENDED_UPGRADES_CONF"
chmod 0644 "$UNATTENDED_UPGRADES_CONF"

install -d -m 0755 "$(dirname "$NEEDRESTART_CONF")"
{
  echo "# Kubernetes node with the podnet CNI plugin (written by the image build):"
  echo "# restart these by hand after draining the node, never from an apt run."
  # shellcheck disable=SC2016 # perl, written as is
  printf '$nrconf{override_rc}{qr(^%s$)} = 0;\n' "${cluster_services[@]//./\\.}"
} >"$NEEDRESTART_CONF"
chmod 0644 "$NEEDRESTART_CONF"

for setting in APT::Periodic::Unattended-Upgrade APT::Periodic::Update-Package-Lists; do
  value=$(apt-config shell v "$setting")
  [[ $value == "v='1'" ]] || { echo "unattended-upgrades: apt reads $setting as ${value:-unset}, want 1" >&2; exit 1; }
done
echo "unattended-upgrades: on; held and blacklisted: ${cluster_packages[*]}; needrestart skips ${cluster_services[*]}"
