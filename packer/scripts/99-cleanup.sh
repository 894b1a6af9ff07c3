#!/usr/bin/env bash
# Last step: leaves nothing of this build instance in the image, so every instance started
# from it boots as a new machine (new machine-id, new SSH host keys, cloud-init runs again).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

systemctl stop kubelet

apt-get -q -y -o DPkg::Lock::Timeout=600 autoremove --purge
apt-get -q -y clean
rm -rf /var/lib/apt/lists/*

# CNI state (IP allocations, cached results) of this instance.
rm -rf /var/lib/cni

# cloud-init runs again on first boot and, with a new instance id, regenerates the SSH host
# keys; --machine-id leaves /etc/machine-id "uninitialized" for systemd to fill at boot.
clean_help=$(cloud-init clean --help)
if [[ $clean_help == *--machine-id* ]]; then
  cloud-init clean --logs --machine-id
else
  cloud-init clean --logs
  truncate -s 0 /etc/machine-id
fi
if [[ -e /var/lib/dbus/machine-id && ! -L /var/lib/dbus/machine-id ]]; then
  ln -sf /etc/machine-id /var/lib/dbus/machine-id
fi
rm -f /etc/ssh/ssh_host_*

# The build's temporary SSH key, shell history, logs and temp files.
rm -f /home/ubuntu/.ssh/authorized_keys /root/.ssh/authorized_keys
rm -f /root/.bash_history /home/ubuntu/.bash_history
journalctl --rotate >/dev/null 2>&1 || true
journalctl --vacuum-time=1s >/dev/null 2>&1 || true
find /var/log -path /var/log/journal -prune -o -type f \( -name '*.gz' -o -name '*.[0-9]' \) -delete
find /var/log -path /var/log/journal -prune -o -type f -exec truncate -s 0 {} +
rm -rf /tmp/* /var/tmp/*

sync
echo "cleanup: done"
