#!/usr/bin/env bash
# Records what this image holds, with exact versions, in /etc/podnet/image-release
# (KEY=value lines, shell- and systemd-readable) and in the build log.
set -euo pipefail
: "${IMAGE_NAME:?}" "${PODNET_PLUGIN_PATH:?}" "${PODNET_PLUGIN_SHA256:?}"

deb() { dpkg-query -W -f='${Version}' "$1"; }
# shellcheck source=/dev/null
ubuntu=$(. /etc/os-release && echo "$VERSION")

install -d -m 0755 /etc/podnet
cat >/etc/podnet/image-release <<RELEASE
IMAGE_NAME=${IMAGE_NAME}
UBUNTU="${ubuntu}"
KERNEL=$(uname -r)
KUBERNETES_VERSION=$(kubeadm version -o short)
KUBELET=$(deb kubelet)
KUBEADM=$(deb kubeadm)
KUBECTL=$(deb kubectl)
CRI_TOOLS=$(deb cri-tools)
KUBERNETES_CNI=$(deb kubernetes-cni)
CONTAINERD=$(deb containerd)
RUNC=$(deb runc)
NODEJS=$(deb nodejs)
PODNET_PLUGIN_PATH=${PODNET_PLUGIN_PATH}
PODNET_PLUGIN_SHA256=${PODNET_PLUGIN_SHA256}
RELEASE
chmod 0644 /etc/podnet/image-release
cat /etc/podnet/image-release
