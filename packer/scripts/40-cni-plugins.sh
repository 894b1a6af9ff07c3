#!/usr/bin/env bash
# The reference CNI binaries kubelet's runtime needs beside podnet: loopback for every
# pod's lo, portmap which the podnet conflist chains for hostPort. From the Kubernetes
# repository's kubernetes-cni package (checked to land in CNI_BIN_DIR), held like kubelet.
# The config dir is left empty: the Pulumi stack writes the node's podnet conflist there.
set -euo pipefail
shopt -s nullglob
export DEBIAN_FRONTEND=noninteractive
: "${CNI_BIN_DIR:?}" "${CNI_CONF_DIR:?}"

# shellcheck source=SCRIPTDIR/../lib/apt.sh
. "${PODNET_APT_HELPER:?PODNET_APT_HELPER must name packer/lib/apt.sh as uploaded}"

apt_get install --no-install-recommends kubernetes-cni
apt-mark hold kubernetes-cni

for plugin in loopback portmap; do
  [[ -x $CNI_BIN_DIR/$plugin ]] || { echo "cni-plugins: $CNI_BIN_DIR/$plugin missing" >&2; exit 1; }
done

install -d -m 0755 "$CNI_CONF_DIR"
for leftover in "$CNI_CONF_DIR"/*; do
  echo "cni-plugins: removing $leftover: the node's only network is podnet's"
  rm -rf -- "$leftover"
done
echo "cni-plugins: kubernetes-cni $(dpkg-query -W -f='${Version}' kubernetes-cni) in $CNI_BIN_DIR, $CNI_CONF_DIR empty"
