#!/bin/busybox sh
# /init of the peer VM's initramfs (built by scripts/interop/build-vm.sh).
# Loads the few modules the root disk needs (virtio PCI + block, ext4), mounts the disk
# and hands over to /sbin/bl-init on it. The module list and its order come from
# modprobe --show-depends at build time (/modules.order), so no modprobe is needed here.
# shellcheck shell=sh
/bin/busybox mkdir -p /bin /proc /sys /dev /newroot
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# KVM probe (test/interop/harness/vm.ts): reaching this line proves the accelerator can boot
# Debian's kernel; report and power off at once.
if grep -qw bl.probe /proc/cmdline; then
  echo "bl-probe-ok"
  poweroff -f
fi

fail() {
  echo "initramfs: $*" >&2
  echo "initramfs: dropping to a shell is useless without a console reader; powering off" >&2
  sleep 1
  poweroff -f
}

while read -r ko; do
  [ -n "$ko" ] || continue
  # crc32c-intel refuses CPUs without SSE4.2 (TCG's default model): crc32c_generic serves.
  insmod "/lib/modules/$ko" 2>/dev/null || echo "initramfs: $ko not loaded" >&2
done </modules.order

# The virtio disk appears asynchronously after virtio_blk binds: wait for it (bounded, 10 s).
i=0
while [ ! -b /dev/vda ]; do
  i=$((i + 1))
  [ "$i" -le 100 ] || fail "no /dev/vda after 10 s"
  sleep 0.1
done

mount -t ext4 -o rw,noatime /dev/vda /newroot || fail "cannot mount /dev/vda"
[ -x /newroot/sbin/bl-init ] || fail "/sbin/bl-init missing on the root disk"

mount --move /dev /newroot/dev
umount /sys
umount /proc
exec switch_root /newroot /sbin/bl-init
