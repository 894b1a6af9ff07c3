# The one apt helper of the provisioning scripts: they source it (node.pkr.hcl uploads it
# and passes its path as PODNET_APT_HELPER) and call apt_get instead of apt-get.
#
# DPkg::Lock::Timeout covers the dpkg frontend lock only: `apt-get update` takes the lists
# lock with a non-blocking fcntl and fails at once while the Canonical image's apt-daily
# refreshes at first boot. So before every apt-get call, apt_get keeps the periodic apt jobs
# from starting (timers stopped, services masked: the mask outlasts the build's reboot) and
# waits until cloud-init is done and no apt job, unattended-upgrade process or holder of an
# apt/dpkg lock is left. 99-cleanup.sh unmasks them last (apt_release_periodic), so nodes
# run Ubuntu's periodic apt jobs and unattended upgrades as usual.
# shellcheck shell=bash

: "${APT_WAIT_TIMEOUT:=1200}"  # seconds to wait for other apt work before failing
: "${APT_WAIT_INTERVAL:=5}"    # seconds between checks

apt_periodic_timers=(apt-daily.timer apt-daily-upgrade.timer)
# unattended-upgrades.service itself only waits for a running upgrade at shutdown; the
# upgrade runs in apt-daily-upgrade.service, as the unattended-upgrade process.
apt_periodic_services=(apt-daily.service apt-daily-upgrade.service)
apt_lock_files=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)

# Keeps apt-daily and apt-daily-upgrade from starting, across reboots, until released.
apt_hold_periodic() {
  systemctl mask --quiet "${apt_periodic_services[@]}"
  systemctl stop "${apt_periodic_timers[@]}"
}

# Lets them run again from the next boot on (the timers stay stopped in this one).
apt_release_periodic() {
  systemctl unmask --quiet "${apt_periodic_services[@]}"
}

# What still uses apt, one item a line; nothing when apt is free.
apt_busy() {
  local unit state
  for unit in "${apt_periodic_services[@]}"; do
    # `is-active` is false for a oneshot that is still running ("activating"): read the state.
    state=$(systemctl show --property=ActiveState --value "$unit")
    case $state in
      active | activating | deactivating | reloading) echo "$unit is $state" ;;
    esac
  done
  if pgrep -f /usr/bin/unattended-upgrade >/dev/null; then
    echo "unattended-upgrade is running"
  fi
  local held lock
  held=$(lslocks --noheadings --raw --output PATH)
  for lock in "${apt_lock_files[@]}"; do
    if grep -qxF -- "$lock" <<<"$held"; then echo "$lock is locked"; fi
  done
}

# Waits for cloud-init's own apt work and for apt_busy to come back empty.
apt_wait_idle() {
  if command -v cloud-init >/dev/null; then
    cloud-init status --wait >/dev/null || echo "apt: cloud-init finished with status $?; continuing"
  fi
  local start=$SECONDS busy
  while :; do
    busy=$(apt_busy)
    [[ -n $busy ]] || return 0
    if ((SECONDS - start >= APT_WAIT_TIMEOUT)); then
      echo "apt: still busy after ${APT_WAIT_TIMEOUT}s: ${busy//$'\n'/, }; rerun the build or raise APT_WAIT_TIMEOUT" >&2
      return 1
    fi
    echo "apt: waiting: ${busy//$'\n'/, }"
    sleep "$APT_WAIT_INTERVAL"
  done
}

# apt-get, non-interactive, keeping existing config files, once apt is free.
apt_get() {
  apt_hold_periodic
  apt_wait_idle
  DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
