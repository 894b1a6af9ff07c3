#!/usr/bin/env bash
# Installs what one command needs on Debian 12, and nothing more:
#   scripts/setup.sh npm     the npm dependencies only
#   scripts/setup.sh lab     what `npm run lab` needs (kernel networking tools, iperf3, portmap/loopback)
#   scripts/setup.sh bench   what `npm run bench:cni` needs (the reference plugins, strace)
#   scripts/setup.sh image   checks for Packer 1.10+ (`npm run image`); installs nothing from Debian
#   scripts/setup.sh test    everything the test suite drives (the default; CI runs this)
# It says what it installs, skips what is present, and refuses, rather than replace them,
# when packages of the machine's own (Docker's containerd.io, say) would have to go. On a
# throwaway machine (a CI runner with Docker) PODNET_SETUP_ALLOW_REMOVALS=1 lets apt remove them.
set -euo pipefail

readonly LAB_PACKAGES=(iproute2 iptables iputils-ping util-linux iperf3 containernetworking-plugins)
readonly BENCH_PACKAGES=(iproute2 iptables util-linux containernetworking-plugins strace)
readonly TEST_PACKAGES=(
  "${LAB_PACKAGES[@]}" conntrack tcpdump jq
  podman runc containerd busybox-static
  packer shellcheck strace
)
readonly MIN_NODE_MAJOR=20
readonly MIN_PACKER=1.10.0

say() { echo "setup ($profile): $*"; }
die() {
  echo "setup ($profile): $*" >&2
  exit 1
}

profile=${1:-test}
case $profile in
  npm) packages=() ;;
  lab) packages=("${LAB_PACKAGES[@]}") ;;
  bench) packages=("${BENCH_PACKAGES[@]}") ;;
  image) packages=() ;;
  test) packages=("${TEST_PACKAGES[@]}") ;;
  *)
    profile=usage
    die "unknown profile '$1': use one of npm, lab, bench, image, test"
    ;;
esac

check_node() {
  local version
  version=$(node -p 'process.versions.node' 2>/dev/null) || die "Node.js is not installed: install Node.js $MIN_NODE_MAJOR or later (README, Quick start)"
  if ((${version%%.*} < MIN_NODE_MAJOR)); then
    die "Node.js $version is too old: podnet needs $MIN_NODE_MAJOR or later (Debian 12 ships 18). As root:
  curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs"
  fi
}

missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Debian's containerd and runc conflict with Docker's packages (and Microsoft's moby-*);
# apt would remove those to install them. Name the case, with what to do instead.
refuse_runtime_conflicts() {
  local want=" $* " pkg
  [[ ${PODNET_SETUP_ALLOW_REMOVALS:-} != 1 ]] || return 0
  [[ $want == *" containerd "* || $want == *" runc "* ]] || return 0
  for pkg in containerd.io moby-containerd moby-runc; do
    if installed "$pkg"; then
      die "$pkg is installed (Docker's container runtime). Debian's containerd and runc, which the test suite drives, conflict with it: installing them would remove $pkg and break Docker, so setup will not.
  Run the test suite on a machine or VM without Docker (on a throwaway one, PODNET_SETUP_ALLOW_REMOVALS=1 lets apt replace it). The lab needs neither: npm run lab"
    fi
  done
}

# Whatever else apt would remove to install these, refuse and say what.
refuse_removals() {
  local removals
  [[ ${PODNET_SETUP_ALLOW_REMOVALS:-} != 1 ]] || return 0
  removals=$(apt-get install -s -y "$@" 2>/dev/null | awk '/^Remv /{print $2}' | tr '\n' ' ')
  if [[ -n $removals ]]; then
    die "installing $* would remove ${removals% }; setup will not remove packages. Install them yourself if that is what you want (apt-get install $*), or set PODNET_SETUP_ALLOW_REMOVALS=1 on a throwaway machine"
  fi
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -ne 0 ]]; then
    die "missing ${missing[*]}; run as root so they can be installed (sudo npm run ..., or as root: apt-get install ${missing[*]})"
  fi
  refuse_runtime_conflicts "${missing[@]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  refuse_removals "${missing[@]}"
  say "installing ${missing[*]}"
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

check_packer() {
  local version lowest
  if ! command -v packer >/dev/null; then
    say "npm run image needs Packer $MIN_PACKER or later from HashiCorp (https://developer.hashicorp.com/packer/install); Debian's packer 1.6.6 cannot build the image"
    return 0
  fi
  version=$(packer version 2>/dev/null | head -n1)
  version=${version#Packer v}
  lowest=$(printf '%s\n%s\n' "$MIN_PACKER" "$version" | sort -V | head -n1)
  if [[ $lowest != "$MIN_PACKER" ]]; then
    say "packer $version is too old for npm run image: install Packer $MIN_PACKER or later from HashiCorp (https://developer.hashicorp.com/packer/install)"
  fi
}

# npm ci when node_modules is missing or older than the lock file. As root in a checkout
# that belongs to a user (sudo npm run ...), node_modules is given back to that user, so
# their own npm commands can replace it later.
npm_dependencies() {
  local owner
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    owner=$(stat -c '%u:%g' .)
    if [[ $(id -u) -eq 0 && $owner != 0:* ]]; then chown -R "$owner" node_modules; fi
  fi
}

check_node
cd "$(dirname "$0")/.."
((${#packages[@]} == 0)) || install_packages "${packages[@]}"
[[ $profile != image ]] || check_packer
npm_dependencies
