#!/usr/bin/env bash
# The Node.js runtime the podnet bundle runs on (#!/usr/bin/env node, Node.js 18 or later):
# Ubuntu 24.04's own nodejs package, no npm.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt_get() {
  apt-get -q -y -o DPkg::Lock::Timeout=600 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

apt_get install --no-install-recommends nodejs

# containerd runs plugins with systemd's default PATH; the shebang must find node there.
major=$(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /usr/bin/env node -p 'process.versions.node.split(".")[0]')
if ((major < 18)); then
  echo "nodejs: node $major is too old, podnet needs 18 or later" >&2
  exit 1
fi
echo "nodejs: $(node --version)"
