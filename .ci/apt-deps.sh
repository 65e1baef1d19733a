#!/usr/bin/env bash
# Debian packages the test suite uses. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  # native addon build
  python3 make g++
  # ptys for the dial-up tests, namespaces and ping for the system tests
  socat iproute2 iputils-ping tcpdump
  # captures dissected by Wireshark's CLI
  tshark
  # RADIUS server for the RADIUS tests
  freeradius freeradius-utils
  # the interop peer VM (pppd, pptpd, pptp-linux under QEMU)
  qemu-system-x86 qemu-utils debootstrap debian-archive-keyring busybox-static cpio e2fsprogs
  util-linux gzip
  # script lint for scripts/ and image/
  shellcheck
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
