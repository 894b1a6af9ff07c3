#!/usr/bin/env bash
# The control plane images of the installed kubeadm (apiserver, controller-manager,
# scheduler, proxy, etcd, coredns, pause), pulled into containerd now so kubeadm init/join
# does not wait on the registry. Needs containerd running (30-containerd.sh).
set -euo pipefail

socket=unix:///run/containerd/containerd.sock
version=$(kubeadm version -o short)

kubeadm config images pull --kubernetes-version "$version" --cri-socket "$socket"

list=$(kubeadm config images list --kubernetes-version "$version")
readarray -t images <<<"$list"
for image in "${images[@]}"; do
  crictl inspecti "$image" >/dev/null || { echo "prepull-images: $image not in containerd" >&2; exit 1; }
done
echo "prepull-images: ${#images[@]} images for $version"
