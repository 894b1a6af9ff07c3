#!/usr/bin/env bash
# The control plane images of the installed kubeadm (apiserver, controller-manager,
# scheduler, proxy, etcd, coredns, pause), pulled into containerd now so kubeadm init/join
# does not wait on the registry, and the agnhost image the connectivity checks run
# (AGNHOST_IMAGE). Needs containerd running (30-containerd.sh).
set -euo pipefail

socket=unix:///run/containerd/containerd.sock
version=$(kubeadm version -o short)

kubeadm config images pull --kubernetes-version "$version" --cri-socket "$socket"
crictl pull "${AGNHOST_IMAGE:?AGNHOST_IMAGE is not set (packer passes var.agnhost_image)}" >/dev/null

list=$(kubeadm config images list --kubernetes-version "$version")
readarray -t images <<<"$list"
images+=("$AGNHOST_IMAGE")
for image in "${images[@]}"; do
  crictl inspecti "$image" >/dev/null || { echo "prepull-images: $image not in containerd" >&2; exit 1; }
done
echo "prepull-images: ${#images[@]} images for $version and the connectivity checks"
