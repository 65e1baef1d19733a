#!/usr/bin/env bash
# Builds the interop peer VM: a Debian bookworm amd64 root (debootstrap minbase + Debian's
# kernel, pppd 2.4.9, pptpd 1.4.0, pptp-linux 1.10, the agent) packed into an ext4 image
# with `mkfs.ext4 -d` (no loop mount), the kernel, and a tiny busybox initramfs.
#
# Output (in $BRANCHLINK_VM_CACHE, default <repo>/.cache/interop-vm/):
#   vmlinuz (Debian's)  vmlinux (the same, uncompressed, PVH-bootable)  initrd.img
#   rootfs.ext4  manifest.txt (package versions)  recipe.sha256
# The recipe hash covers this script (and so its package list), the agent, the PID 1
# script and the initramfs init; a build runs only when it changes (or with --force).
# Downloaded .debs are kept in $cache/debs, so a recipe change does not re-download.
#
# Needs root (debootstrap, chroot, device nodes). Env: BRANCHLINK_VM_CACHE,
# BRANCHLINK_DEBIAN_MIRROR (default: the host's apt mirror, else http://deb.debian.org/debian).
set -euo pipefail

readonly SUITE=bookworm
# Everything the peers and the agent need on top of minbase. The kernel is installed
# separately (see install_kernel) to skip its initramfs-tools run, which we do not use.
readonly PACKAGES=(
  ppp pptpd pptp-linux
  iproute2 kmod tcpdump iputils-ping busybox procps
  python3-minimal libpython3.11-stdlib
)
readonly KERNEL_PACKAGE=linux-image-amd64
# Modules the initramfs loads to reach the root disk; the rest load from the root (init.sh).
readonly INITRAMFS_MODULES=(virtio_pci virtio_blk ext4)
# Modules the peers need; the build fails if the pruned module tree lost one.
readonly REQUIRED_MODULES=(
  virtio_pci virtio_blk ext4 virtio_net virtio_console
  ppp_generic ppp_async ppp_synctty ppp_deflate bsd_comp ppp_mppe pptp gre
)

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$script_dir/../.." && pwd)"
vm_dir="$script_dir/vm"
cache="${BRANCHLINK_VM_CACHE:-$repo_dir/.cache/interop-vm}"
force=0
work=""
out=""
logs=""

usage() {
  echo "usage: $0 [--force] [--print-hash]" >&2
  exit 2
}

started="$EPOCHREALTIME"
last="$started"
step() {
  local now="$EPOCHREALTIME"
  awk -v n="$now" -v s="$started" -v l="$last" -v m="$*" \
    'BEGIN { printf "[build-vm %6.1fs | +%5.1fs] %s\n", n - s, n - l, m }'
  last="$now"
}

die() {
  echo "build-vm: error: $*" >&2
  # debootstrap's own log lives in the tree, which cleanup_work throws away.
  if [[ -n "$work" && -f "$work/root/debootstrap/debootstrap.log" && -n "$logs" ]]; then
    cp "$work/root/debootstrap/debootstrap.log" "$logs/debootstrap-target.log" || true
  fi
  exit 1
}

# Removes the build tree (unmounting its tmpfs first). Also the EXIT trap.
cleanup_work() {
  [[ -n "$work" && -d "$work" ]] || return 0
  # A failed debootstrap can leave proc/sys mounted in the tree: deepest first.
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" || true; done
  if mountpoint -q "$work"; then
    umount "$work" || umount -l "$work"
  fi
  rm -rf "$work"
}

recipe_hash() {
  cat "${BASH_SOURCE[0]}" "$vm_dir/agent.py" "$vm_dir/init.sh" "$vm_dir/initramfs-init.sh" |
    sha256sum | cut -d' ' -f1
}

# The mirror the host's apt uses for Debian main (deb822 or one-line format).
host_mirror() {
  local uri
  uri="$(grep -hsE '^URIs:\s*\S+/debian/?\s*$' /etc/apt/sources.list.d/*.sources | head -n1 |
    awk '{print $2}')" || true
  if [[ -z "$uri" ]]; then
    uri="$(grep -hsE '^deb\s+\S+/debian/?\s+' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      head -n1 | awk '{print $2}')" || true
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

check_host() {
  [[ "$(id -u)" -eq 0 ]] || die "must run as root (debootstrap, chroot, mknod)"
  local missing=() tool pkg
  # tool:debian-package
  for pair in debootstrap:debootstrap mkfs.ext4:e2fsprogs cpio:cpio gzip:gzip awk:mawk \
    sha256sum:coreutils chroot:coreutils; do
    tool="${pair%%:*}"
    pkg="${pair#*:}"
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool (Debian package $pkg)")
  done
  if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("static busybox (Debian package busybox-static)")
  fi
  if ((${#missing[@]})); then
    die "missing host tools: ${missing[*]}; run .ci/interop-deps.sh"
  fi
}

install_kernel() {
  local root="$1"
  # The kernel's postinst would run update-initramfs (~20 s under chroot) for an initrd we
  # never boot: divert it to /bin/true for this install.
  chroot "$root" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs
  ln -sf /bin/true "$root/usr/sbin/update-initramfs"
  # Reuse kernel .debs from the download cache (apt takes matching files from archives/).
  cp -n "$cache/debs/"linux-*.deb "$cache/debs/"initramfs-tools*.deb "$root/var/cache/apt/archives/" \
    2>/dev/null || true
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confold "$KERNEL_PACKAGE" >"$logs/apt-kernel.log" 2>&1 ||
    die "installing $KERNEL_PACKAGE failed; see $logs/apt-kernel.log"
  cp -n "$root/var/cache/apt/archives/"*.deb "$cache/debs/" 2>/dev/null || true
}

configure_root() {
  local root="$1"
  rm -f "$root/etc/dpkg/dpkg.cfg.d/bl-unsafe-io"
  install -m 0755 "$vm_dir/init.sh" "$root/usr/sbin/bl-init"
  install -m 0755 -D "$vm_dir/agent.py" "$root/usr/local/sbin/bl-agent"
  echo peer >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tpeer\n' >"$root/etc/hosts"
  : >"$root/etc/fstab"
  # syslogd writes here; pppd and pptpd logs end up in it.
  mkdir -p "$root/var/log"
}

prune_root() {
  local root="$1" kver="$2" kdir
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
    "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/boot/initrd.img* \
    "$root"/debootstrap
  # Modules: keep what a virtio VM with PPP, GRE and netfilter can use; drop hardware
  # drivers (about two thirds of the tree), which only slow mkfs.
  kdir="$root/lib/modules/$kver/kernel"
  rm -rf "$kdir/sound"
  find "$kdir/drivers" -mindepth 1 -maxdepth 1 -type d \
    ! -name virtio ! -name block ! -name char ! -name tty ! -name net -exec rm -rf {} +
  # slip/ holds slhc (VJ header compression), which ppp_generic needs.
  find "$kdir/drivers/net" -mindepth 1 -maxdepth 1 -type d ! -name ppp ! -name slip \
    -exec rm -rf {} +
  chroot "$root" depmod "$kver"
  # modinfo's depends (recorded at kernel build time) catches a dependency the prune removed,
  # which modules.dep (computed from what is left) cannot show.
  local pending=("${REQUIRED_MODULES[@]}") seen=" " mod deps deps_array
  while ((${#pending[@]})); do
    mod="${pending[0]}"
    pending=("${pending[@]:1}")
    [[ "$seen" == *" $mod "* ]] && continue
    seen+="$mod "
    deps="$(chroot "$root" modinfo -k "$kver" -F depends "$mod" 2>/dev/null)" ||
      die "module $mod is not in the pruned tree"
    [[ -n "$deps" ]] && IFS=, read -r -a deps_array <<<"$deps" && pending+=("${deps_array[@]}")
  done
}

make_initramfs() {
  local root="$1" kver="$2" out="$3" ir="$work/initramfs" mod path rel
  rm -rf "$ir"
  mkdir -p "$ir"/{bin,dev,proc,sys,newroot,lib/modules}
  cp /bin/busybox "$ir/bin/busybox"
  install -m 0755 "$vm_dir/initramfs-init.sh" "$ir/init"
  # The kernel opens /dev/console before running /init; without the node /init has no output.
  mknod -m 600 "$ir/dev/console" c 5 1
  mknod -m 666 "$ir/dev/null" c 1 3
  : >"$ir/modules.order"
  for mod in "${INITRAMFS_MODULES[@]}"; do
    while read -r path; do
      rel="${path#/lib/modules/"$kver"/}"
      grep -qxF "$rel" "$ir/modules.order" && continue
      mkdir -p "$ir/lib/modules/$(dirname "$rel")"
      cp "$root$path" "$ir/lib/modules/$rel"
      echo "$rel" >>"$ir/modules.order"
    done < <(chroot "$root" modprobe -S "$kver" --show-depends "$mod" | awk '$1 == "insmod" { print $2 }')
  done
  (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
}

# The uncompressed ELF kernel boots through its PVH entry point (QEMU -kernel takes it),
# which skips the in-guest xz decompression: about 3 s of every boot under TCG.
extract_vmlinux() {
  local root="$1" kver="$2" out="$3"
  chroot "$root" python3 -c '
import lzma, sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xfd7zXZ\x00")
if at < 0:
    sys.exit("no xz stream in " + sys.argv[1])
elf = lzma.LZMADecompressor().decompress(data[at:])
if elf[:4] != b"\x7fELF":
    sys.exit("xz stream is not an ELF kernel")
sys.stdout.buffer.write(elf)
' "/boot/vmlinuz-$kver" >"$out" || {
    echo "build-vm: no uncompressed kernel; the VM boots vmlinuz (slower)" >&2
    rm -f "$out"
  }
}

make_image() {
  local root="$1" out="$2" size_mb
  size_mb="$(du -sm "$root" | cut -f1)"
  size_mb=$((size_mb + size_mb / 4 + 128))
  rm -f "$out"
  truncate -s "${size_mb}M" "$out"
  # No journal: the disk is always used with -snapshot, so nothing survives a crash anyway.
  mkfs.ext4 -q -F -L blroot -O ^has_journal -m 0 -d "$root" "$out"
}

main() {
  local print_hash=0
  while (($#)); do
    case "$1" in
      --force) force=1 ;;
      --print-hash) print_hash=1 ;;
      *) usage ;;
    esac
    shift
  done
  local hash
  hash="$(recipe_hash)"
  if ((print_hash)); then
    echo "$hash"
    exit 0
  fi

  mkdir -p "$cache/debs"
  exec 9>"$cache/.build.lock"
  flock -w 1200 9 || die "another build holds $cache/.build.lock for over 20 minutes"

  if ((!force)) && [[ -f "$cache/recipe.sha256" && "$(cat "$cache/recipe.sha256")" == "$hash" &&
    -f "$cache/vmlinuz" && -f "$cache/initrd.img" && -f "$cache/rootfs.ext4" ]]; then
    step "cached image is current (recipe $hash); nothing to do"
    exit 0
  fi

  check_host
  local mirror="${BRANCHLINK_DEBIAN_MIRROR:-$(host_mirror)}"
  # work: the root tree (a tmpfs when possible: dpkg and the prune are disk-bound, and the
  # tree is thrown away); out: staged outputs on the cache's filesystem, renamed into place;
  # logs: kept after the build, successful or not.
  work="$cache/build.tmp"
  out="$cache/build.out"
  logs="$cache/build-logs"
  trap cleanup_work EXIT
  cleanup_work
  rm -rf "$out" "$logs"
  mkdir -p "$work" "$out" "$logs"
  local where="disk"
  if [[ "${BRANCHLINK_VM_TMPFS:-1}" != 0 ]] &&
    mount -t tmpfs -o size=3g,mode=0755 blvm-build "$work" 2>/dev/null; then
    where="tmpfs"
  fi
  local root="$work/root"
  step "building peer VM (recipe $hash) in $cache ($where) from $mirror"

  local include
  include="$(
    IFS=,
    echo "${PACKAGES[*]}"
  )"
  # Two stages, so dpkg can be told not to fsync every file in between: the image is
  # rebuilt from scratch if anything goes wrong, and on a busy disk the fsyncs cost more
  # than half the build.
  debootstrap --foreign --variant=minbase --arch=amd64 --include="$include" \
    --cache-dir="$cache/debs" "$SUITE" "$root" "$mirror" >"$logs/debootstrap.log" 2>&1 ||
    die "debootstrap (first stage) failed; see $logs/debootstrap.log"
  step "debootstrap first stage: downloaded and unpacked $SUITE minbase + ${#PACKAGES[@]} packages"
  echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/bl-unsafe-io"
  chroot "$root" /debootstrap/debootstrap --second-stage >>"$logs/debootstrap.log" 2>&1 ||
    die "debootstrap (second stage) failed; see $logs/debootstrap.log"
  step "debootstrap second stage: installed"

  install_kernel "$root"
  local kver
  kver="$(basename "$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -type d | sort | tail -n1)")"
  [[ -f "$root/boot/vmlinuz-$kver" ]] || die "no kernel image for $kver"
  step "installed kernel $kver"

  configure_root "$root"
  {
    echo "recipe $hash"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $mirror"
    echo "kernel $kver"
    # shellcheck disable=SC2016 # dpkg-query's format, not a shell expansion
    chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' ppp pptpd pptp-linux tcpdump \
      python3-minimal iproute2 "linux-image-$kver"
  } >"$out/manifest.txt"
  prune_root "$root" "$kver"
  step "configured and pruned root ($(du -sh "$root" | cut -f1))"

  make_initramfs "$root" "$kver" "$out/initrd.img"
  cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
  extract_vmlinux "$root" "$kver" "$out/vmlinux"
  step "initramfs ($(du -h "$out/initrd.img" | cut -f1)) and kernel extracted"

  make_image "$root" "$out/rootfs.ext4"
  step "rootfs.ext4 ($(du -h --apparent-size "$out/rootfs.ext4" | cut -f1))"

  # Publish: the hash goes last, so an interrupted build is never taken for a cached one.
  rm -f "$cache/recipe.sha256" "$cache/vmlinux"
  mv -f "$out/vmlinuz" "$out/initrd.img" "$out/rootfs.ext4" "$out/manifest.txt" "$cache/"
  if [[ -f "$out/vmlinux" ]]; then mv -f "$out/vmlinux" "$cache/"; fi
  echo "$hash" >"$cache/recipe.sha256"
  rm -rf "$out"
  step "published to $cache"
  cleanup_work
  step "removed the build tree"
  sed 's/^/  /' "$cache/manifest.txt"
}

main "$@"
