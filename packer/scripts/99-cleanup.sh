#!/usr/bin/env bash
# Last step: leaves nothing of this build instance in the image, so every instance started
# from it boots as a new machine (new machine-id, new SSH host keys, cloud-init runs again).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# shellcheck source=SCRIPTDIR/../lib/apt.sh
. "${PODNET_APT_HELPER:?PODNET_APT_HELPER must name packer/lib/apt.sh as uploaded}"

systemctl stop kubelet

apt_get autoremove --purge
apt_get clean
rm -rf /var/lib/apt/lists/*

# Nothing may be mid-dpkg when Packer stops the instance: apt is idle (and its periodic jobs
# cannot start: their timers stay stopped until this instance stops), and dpkg has no
# package half installed. Nodes get the periodic jobs back from their first boot.
apt_wait_idle
unfinished=$(dpkg --audit)
if [[ -n $unfinished ]]; then
  echo "cleanup: dpkg reports unfinished packages:" >&2
  echo "$unfinished" >&2
  exit 1
fi
apt_release_periodic

# CNI state (IP allocations, cached results) of this instance.
rm -rf /var/lib/cni

# The build's journal, by the machine id that is about to be reset (nodes log under their own).
machine_id=$(cat /etc/machine-id)

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
# journald writes to /run for the rest of this boot, so the removed journal stays removed.
journalctl --relinquish-var
if [[ -n $machine_id ]]; then rm -rf -- "/var/log/journal/${machine_id}"; fi
find /var/log -path /var/log/journal -prune -o -type f \( -name '*.gz' -o -name '*.[0-9]' \) -delete
find /var/log -path /var/log/journal -prune -o -type f -exec truncate -s 0 {} +
rm -rf /tmp/* /var/tmp/*

sync
echo "cleanup: done"
