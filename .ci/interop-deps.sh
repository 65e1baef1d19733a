#!/usr/bin/env bash
# Installs the Debian packages the interop suite needs (`npm run test:interop`,
# test/interop/): QEMU for the peer VM, what scripts/interop/build-vm.sh builds it with,
# and the host-side tools the tests run in the VM's network namespace.
# Idempotent: apt-get only installs what is missing. Needs root (or sudo).
set -euo pipefail

readonly PACKAGES=(
  # the peer VM
  qemu-system-x86 # qemu-system-x86_64 (TCG; KVM when it can boot Debian's kernel)
  qemu-utils      # qemu-img, for inspecting the image
  # building the VM image (scripts/interop/build-vm.sh)
  debootstrap
  debian-archive-keyring # debootstrap verifies the mirror with it
  busybox-static         # the initramfs's only binary
  cpio
  e2fsprogs # mkfs.ext4 -d
  util-linux # flock, mountpoint
  gzip
  mawk
  # host side of the tests (namespace, tap, pty, captures)
  iproute2
  iputils-ping
  socat
  tcpdump
  tshark
)

if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -E "$0" "$@"
  fi
  echo "interop-deps: must run as root (apt-get install)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the suite runs as root, so: no.
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections

apt-get update -q
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

missing=()
for tool in qemu-system-x86_64 debootstrap mkfs.ext4 cpio ip ping socat tcpdump tshark flock; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "interop-deps: still missing after install: ${missing[*]}" >&2
  exit 1
fi
[[ -e /dev/net/tun ]] || echo "interop-deps: warning: no /dev/net/tun; the peer VM's NIC needs a tap device" >&2
echo "interop-deps: ok ($(qemu-system-x86_64 --version | head -n1))"
