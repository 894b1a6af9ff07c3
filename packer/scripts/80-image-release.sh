#!/usr/bin/env bash
# Records what this image holds, with exact versions, in /etc/podnet/image-release
# (KEY=value lines, shell- and systemd-readable) and in the build log. KERNEL is the kernel
# nodes boot: the full upgrade may install a newer one than the build instance started
# with, so node.pkr.hcl reboots before this script, and the boot id it saved before the
# reboot shows that this is the boot after it.
set -euo pipefail
: "${IMAGE_NAME:?}" "${PODNET_PLUGIN_PATH:?}" "${PODNET_PLUGIN_SHA256:?}" "${PODNET_BOOT_ID_BEFORE_REBOOT:?}" "${BUN_DIR:?}"
release=${IMAGE_RELEASE_FILE:-/etc/podnet/image-release}

boot_id=$(cat /proc/sys/kernel/random/boot_id)
if [[ ! -s $PODNET_BOOT_ID_BEFORE_REBOOT ]]; then
  echo "image-release: $PODNET_BOOT_ID_BEFORE_REBOOT is missing: the reboot provisioner must run before this script" >&2
  exit 1
fi
if [[ $(cat "$PODNET_BOOT_ID_BEFORE_REBOOT") == "$boot_id" ]]; then
  echo "image-release: still in the boot before the reboot ($boot_id): uname -r would not be the kernel nodes boot" >&2
  exit 1
fi

deb() { dpkg-query -W -f='${Version}' "$1"; }
# shellcheck source=/dev/null
ubuntu=$(. /etc/os-release && echo "$VERSION")

install -d -m 0755 "$(dirname "$release")"
cat >"$release" <<RELEASE
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
BUN=$(env -i "$BUN_DIR/bun" --version)
PODNET_PLUGIN_PATH=${PODNET_PLUGIN_PATH}
PODNET_PLUGIN_SHA256=${PODNET_PLUGIN_SHA256}
RELEASE
chmod 0644 "$release"
cat "$release"
