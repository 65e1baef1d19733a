#!/usr/bin/env bash
# Debian packages that image/build and image/test need (the SD image: `npm run image:test`).
# Idempotent. Not run by .ci/run: the image build is too long for every CI run.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  # the arm64 root from Debian's packages, run through qemu-user
  mmdebstrap qemu-user-static binfmt-support arch-test
  # partitions without mounting: FAT32 (mkfs.vfat + mtools), ext4 (mkfs.ext4 -d), MBR
  dosfstools mtools e2fsprogs fdisk
  # the image's compression; the boot test
  xz-utils qemu-system-arm openssh-client iproute2
  # node and tsc run on the host to compile the TypeScript (installed by the project)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
