#!/usr/bin/env bash
# containerd 2.x and runc from Ubuntu (24.04's updates ship containerd 2.2 and runc 1.3),
# configured for kubeadm: the systemd cgroup driver (what kubelet uses by default), the pause
# image of the installed kubeadm, and CNI binaries and configs where kubelet's runtime looks
# for them. Needs kubeadm (20-kubernetes.sh).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
: "${CNI_BIN_DIR:?}" "${CNI_CONF_DIR:?}"
# Where containerd and crictl read their configs (the image test writes elsewhere).
config=${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
crictl_config=${CRICTL_CONFIG:-/etc/crictl.yaml}

# shellcheck source=SCRIPTDIR/../lib/apt.sh
. "${PODNET_APT_HELPER:?PODNET_APT_HELPER must name packer/lib/apt.sh as uploaded}"

apt_get install --no-install-recommends containerd runc
apt-mark hold containerd runc

package_version=$(dpkg-query -W -f='${Version}' containerd)
upstream=${package_version#*:}
# The config below is version 3, which only containerd 2.x reads: 1.x loads it without an
# error and ignores every key in it (the image test shows this with Debian's 1.6).
if [[ ${upstream%%.*} -lt 2 ]]; then
  echo "containerd: Ubuntu's package is ${package_version}; this image writes a version 3 config, which needs containerd 2.x" >&2
  exit 1
fi

kubeadm_version=$(kubeadm version -o short)
images=$(kubeadm config images list --kubernetes-version "$kubeadm_version")
pause_image=$(grep -E '/pause:' <<<"$images")
if [[ -z $pause_image || $pause_image == *$'\n'* ]]; then
  echo "containerd: cannot tell the pause image from: $images" >&2
  exit 1
fi

install -d -m 0755 "$(dirname "$config")"
cat >"$config" <<TOML
# containerd ${upstream} for kubeadm ${kubeadm_version} (written by the image build).
version = 3

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = '${pause_image}'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ['${CNI_BIN_DIR}']
  conf_dir = '${CNI_CONF_DIR}'
TOML
chmod 0644 "$config"

# The effective configuration must say what we asked for, whatever the package's defaults.
effective=$(containerd --config "$config" config dump)
for want in "SystemdCgroup = true" "$pause_image" "$CNI_BIN_DIR" "$CNI_CONF_DIR"; do
  grep -qF -- "$want" <<<"$effective" || { echo "containerd: effective config lacks '$want'" >&2; exit 1; }
done

cat >"$crictl_config" <<'YAML'
runtime-endpoint: unix:///run/containerd/containerd.sock
image-endpoint: unix:///run/containerd/containerd.sock
timeout: 30
YAML

systemctl enable containerd
systemctl restart containerd
for _ in $(seq 30); do
  crictl info >/dev/null 2>&1 && break
  sleep 1
done
crictl info >/dev/null
echo "containerd: ${package_version}, runc $(dpkg-query -W -f='${Version}' runc), systemd cgroups, sandbox ${pause_image}"
