# shellcheck shell=bash
# Shared by image/build and image/test: messages, per-stage timing, binfmt setup.

IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(dirname "$IMAGE_DIR")
OUT_DIR=${BRANCHLINK_IMAGE_OUT:-$IMAGE_DIR/out}
export IMAGE_DIR REPO_DIR OUT_DIR

if [[ -t 1 ]]; then
  C_BOLD=$'\e[1m' C_DIM=$'\e[2m' C_RED=$'\e[31m' C_GREEN=$'\e[32m' C_YELLOW=$'\e[33m' C_OFF=$'\e[0m'
else
  C_BOLD='' C_DIM='' C_RED='' C_GREEN='' C_YELLOW='' C_OFF=''
fi

T0=$EPOCHREALTIME
STAGE_NAMES=()
STAGE_TIMES=()

now() { printf '%s' "$EPOCHREALTIME"; }

# elapsed START -> seconds with one decimal since START (an $EPOCHREALTIME value)
elapsed() {
  local start=$1 end=$EPOCHREALTIME
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'
}

info() { printf '%s\n' "    $*"; }
warn() { printf '%s\n' "${C_YELLOW}warning:${C_OFF} $*" >&2; }
die() {
  printf '%s\n' "${C_RED}error:${C_OFF} $*" >&2
  exit 1
}

# stage TITLE CMD... : runs CMD with a header, then prints and records its duration.
stage() {
  local title=$1 start
  shift
  start=$EPOCHREALTIME
  printf '%s\n' "${C_BOLD}==> ${title}${C_OFF} ${C_DIM}(+$(elapsed "$T0")s)${C_OFF}"
  "$@"
  local took
  took=$(elapsed "$start")
  STAGE_NAMES+=("$title")
  STAGE_TIMES+=("$took")
  printf '%s\n' "${C_GREEN}    done${C_OFF} in ${took}s"
}

print_timings() {
  local i
  printf '%s\n' "${C_BOLD}Timing per stage${C_OFF}"
  for i in "${!STAGE_NAMES[@]}"; do
    printf '  %8ss  %s\n' "${STAGE_TIMES[$i]}" "${STAGE_NAMES[$i]}"
  done
  printf '  %8ss  %s\n' "$(elapsed "$T0")" 'total'
}

need_root() {
  [[ $(id -u) -eq 0 ]] || die "$1 must run as root (mmdebstrap, chroot, file ownership in the image)"
}

need_tools() {
  local missing=() t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  ((${#missing[@]} == 0)) ||
    die "missing tools: ${missing[*]} (install them with: bash .ci/image-deps.sh)"
}

# Lets this amd64 host run arm64 binaries in a chroot: qemu-user-static registered with
# binfmt_misc, with the F flag (interpreter opened at registration, so it works inside
# the chroot without copying qemu into it).
ensure_binfmt() {
  local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
  if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
      die 'cannot mount binfmt_misc'
  fi
  if [[ ! -e $entry ]] || ! grep -q '^enabled' "$entry"; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
  if [[ ! -e $entry ]] || ! grep -q '^enabled' "$entry"; then
    die 'qemu-aarch64 is not registered with binfmt_misc (apt-get install qemu-user-static binfmt-support)'
  fi
  grep -q '^flags:.*F' "$entry" ||
    warn 'qemu-aarch64 binfmt entry lacks the F flag; chroot commands may fail'
}

package_version() {
  node -p 'require(process.argv[1]).version' "$REPO_DIR/package.json"
}

human_bytes() {
  awk -v b="$1" 'BEGIN {
    split("B KiB MiB GiB TiB", u, " "); i = 1
    while (b >= 1024 && i < 5) { b /= 1024; i++ }
    printf (i == 1 ? "%d %s" : "%.1f %s"), b, u[i]
  }'
}
