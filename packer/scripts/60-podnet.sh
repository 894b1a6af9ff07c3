#!/usr/bin/env bash
# The podnet plugin: the bundle the file provisioner uploaded, checked against the sha256
# the AMI is tagged with, installed as the CNI binary runtimes exec, and run once.
set -euo pipefail
: "${PODNET_PLUGIN_UPLOAD:?}" "${PODNET_PLUGIN_PATH:?}" "${PODNET_PLUGIN_SHA256:?}" "${BUN_DIR:?}"

actual=$(sha256sum "$PODNET_PLUGIN_UPLOAD" | cut -d' ' -f1)
if [[ $actual != "$PODNET_PLUGIN_SHA256" ]]; then
  echo "podnet: uploaded bundle has sha256 $actual, the image is tagged $PODNET_PLUGIN_SHA256" >&2
  exit 1
fi

install -D -m 0755 -o root -g root "$PODNET_PLUGIN_UPLOAD" "$PODNET_PLUGIN_PATH"
rm -f -- "$PODNET_PLUGIN_UPLOAD"

# What the plugin calls on the node (bun from BUN_DIR first, as the shebang looks).
for tool in bun ip nsenter iptables iptables-save iptables-restore; do
  PATH=$BUN_DIR:$PATH command -v "$tool" >/dev/null || { echo "podnet: $tool missing, the plugin calls it" >&2; exit 1; }
done

# As containerd would: CNI VERSION with systemd's default PATH, which lacks BUN_DIR, so
# this also shows the shebang finds the pinned Bun by itself.
reply=$(printf '{"cniVersion":"1.0.0"}' |
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=VERSION "$PODNET_PLUGIN_PATH")
if [[ $reply != *'"supportedVersions"'* ]]; then
  echo "podnet: CNI_COMMAND=VERSION answered: $reply" >&2
  exit 1
fi
echo "podnet: $PODNET_PLUGIN_PATH installed, sha256 $actual, VERSION: $reply"
