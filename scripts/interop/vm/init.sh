#!/bin/sh
# /sbin/bl-init: PID 1 of the interop peer VM (no systemd: boot time matters under TCG).
# Mounts the API filesystems, loads the kernel PPP modules, configures the NIC from the
# kernel command line (bl.ip=ADDR/LEN), starts syslogd (pppd and pptpd log to syslog) and
# keeps the agent (/usr/local/sbin/bl-agent) running. It also reaps orphans: dash's `wait`
# collects any child, including daemons re-parented to PID 1.
# shellcheck shell=sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export LANG=C.UTF-8
umask 022

# Builtins only: every fork+exec costs tens of milliseconds under TCG.
log() {
  read -r up _ </proc/uptime
  echo "bl-init: [${up}s] $*"
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
grep -q '^devtmpfs /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -p /run/lock /run/ppp /run/bl
chmod 1777 /run/lock
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /var/log
hostname peer
log "filesystems mounted"

ip_addr=192.0.2.2/24
read -r cmdline </proc/cmdline
for arg in $cmdline; do
  case "$arg" in
    bl.ip=*) ip_addr="${arg#bl.ip=}" ;;
  esac
done

# The modules the peers need: async PPP for pppd on ttyS1, MPPE, PPTP (GRE) for pptpd and pptp.
modprobe -a virtio_net virtio_console ppp_generic ppp_async ppp_synctty ppp_deflate bsd_comp \
  ppp_mppe pptp gre || log "some modules failed to load"
log "modules loaded: $(lsmod | awk 'NR > 1 { printf "%s ", $1 }')"

# pppd (nologfd under pptpd) and pptpd log to syslog: keep it in a file the agent can read.
busybox syslogd -n -O /var/log/messages &

ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
  ip addr add "$ip_addr" dev eth0
  ip link set eth0 up
  log "eth0 $ip_addr"
else
  log "no eth0"
fi

while :; do
  log "starting agent"
  python3 -S -u /usr/local/sbin/bl-agent &
  wait "$!"
  log "agent exited with $?; restarting in 1 s"
  sleep 1
done
