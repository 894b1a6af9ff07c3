#!/usr/bin/env bash
# kubeadm, kubelet and kubectl (and crictl) of the chosen minor from the Kubernetes apt
# repository (pkgs.k8s.io), held so unattended upgrades never move them.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
: "${KUBERNETES_MINOR:?KUBERNETES_MINOR (e.g. 1.35) must be set}"

# shellcheck source=SCRIPTDIR/../lib/apt.sh
. "${PODNET_APT_HELPER:?PODNET_APT_HELPER must name packer/lib/apt.sh as uploaded}"

repo="https://pkgs.k8s.io/core:/stable:/v${KUBERNETES_MINOR}/deb/"
keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg

install -d -m 0755 /etc/apt/keyrings
curl -fsSL --retry 5 "${repo}Release.key" | gpg --batch --yes --dearmor -o "$keyring"
chmod 0644 "$keyring"
echo "deb [signed-by=${keyring}] ${repo} /" >/etc/apt/sources.list.d/kubernetes.list

apt_get update
apt_get install --no-install-recommends kubelet kubeadm kubectl cri-tools
apt-mark hold kubelet kubeadm kubectl cri-tools

version=$(kubeadm version -o short)
if [[ $version != "v${KUBERNETES_MINOR}."* ]]; then
  echo "kubernetes: installed kubeadm $version, want v${KUBERNETES_MINOR}.x" >&2
  exit 1
fi
kubelet --version
kubectl version --client

# kubelet restarts in a loop until kubeadm init/join writes its config: enabled for boot,
# stopped for the rest of the build.
systemctl enable kubelet
systemctl stop kubelet
echo "kubernetes: kubeadm/kubelet/kubectl $version installed and held"
