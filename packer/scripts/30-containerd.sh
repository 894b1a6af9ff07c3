#!/usr/bin/env bash
# containerd and runc from Ubuntu, configured for kubeadm: the systemd cgroup driver (what
# kubelet uses by default), the pause image of the installed kubeadm, and CNI binaries and
# configs where kubelet's runtime looks for them. Needs kubeadm (20-kubernetes.sh).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
: "${KUBERNETES_MINOR:?}" "${CNI_BIN_DIR:?}" "${CNI_CONF_DIR:?}"

apt_get() {
  apt-get -q -y -o DPkg::Lock::Timeout=600 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

apt_get install --no-install-recommends containerd runc
apt-mark hold containerd runc

package_version=$(dpkg-query -W -f='${Version}' containerd)
upstream=${package_version#*:}
major=${upstream%%.*}
k8s_minor=${KUBERNETES_MINOR#*.}
if ((major < 2 && k8s_minor > 35)); then
  echo "containerd: Kubernetes ${KUBERNETES_MINOR} needs containerd 2.x; Ubuntu's package is ${package_version}" >&2
  exit 1
fi

kubeadm_version=$(kubeadm version -o short)
images=$(kubeadm config images list --kubernetes-version "$kubeadm_version")
pause_image=$(grep -E '/pause:' <<<"$images")
if [[ -z $pause_image || $pause_image == *$'\n'* ]]; then
  echo "containerd: cannot tell the pause image from: $images" >&2
  exit 1
fi

install -d -m 0755 /etc/containerd
if ((major >= 2)); then
  cat >/etc/containerd/config.toml <<TOML
# containerd ${upstream} for kubeadm ${kubeadm_version} (written by the image build).
version = 3

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = '${pause_image}'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true

[plugins.'io.containerd.cri.v1.runtime'.cni]
  conf_dir = '${CNI_CONF_DIR}'
TOML
else
  cat >/etc/containerd/config.toml <<TOML
# containerd ${upstream} for kubeadm ${kubeadm_version} (written by the image build).
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pause_image}"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "${CNI_BIN_DIR}"
  conf_dir = "${CNI_CONF_DIR}"
TOML
fi
chmod 0644 /etc/containerd/config.toml

# The effective configuration must say what we asked for, whatever the package's defaults.
effective=$(containerd config dump)
for want in "SystemdCgroup = true" "$pause_image" "$CNI_BIN_DIR" "$CNI_CONF_DIR"; do
  grep -qF -- "$want" <<<"$effective" || { echo "containerd: effective config lacks '$want'" >&2; exit 1; }
done

cat >/etc/crictl.yaml <<'YAML'
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
