#!/usr/bin/env bash
# Brings up what the real-libvirt tests need on a host without systemd:
#   - /dev/kvm usable by the libvirt-qemu user (otherwise libvirt re-probes qemu for ~30 s at
#     every call),
#   - virtlogd and libvirtd (monolithic daemon), each started only when not already running,
#   - the Linux test bridge nwfh-br0 (forward_delay 0, STP off: a port forwards at once).
# With --no-daemons, only /dev/kvm and the bridge: what the end-to-end suites' setup
# (test/e2e/global-setup.ts) makes for themselves where a libvirtd runs already, under systemd
# or not, whose daemons are not this script's to start.
# Idempotent. Everything this script changes is recorded in $STATE_DIR/started.pids so that
# scripts/libvirt-down.sh undoes exactly that (daemons are stopped by pid, never by name).
# Needs root.
set -euo pipefail

STATE_DIR=${NWFH_TEST_STATE_DIR:-/run/nwfilter-hook-test}
STATE=$STATE_DIR/started.pids
BRIDGE=${NWFH_TEST_BRIDGE:-nwfh-br0}
URI=qemu:///system
WAIT_SECONDS=${NWFH_LIBVIRT_WAIT:-60}

die() { echo "libvirt-up: $*" >&2; exit 1; }
say() { echo "libvirt-up: $*"; }

DAEMONS=1
case "${1:-}" in
  --no-daemons) DAEMONS=0 ;;
  "") ;;
  *) die "usage: libvirt-up.sh [--no-daemons]" ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root"
needed=(virsh ip)
((DAEMONS)) && needed+=(libvirtd virtlogd)
for cmd in "${needed[@]}"; do
  command -v "$cmd" >/dev/null || die "$cmd not found (install libvirt-daemon-system libvirt-clients iproute2)"
done

mkdir -p "$STATE_DIR"
touch "$STATE"

record() { echo "$*" >>"$STATE"; }

# Prints the pid of a running process whose command name is exactly $1 and that shares this
# shell's mount namespace (no procps needed: minimal Debian images have no pgrep). The test
# suites' private daemons run under the same names in mount namespaces of their own, with their
# own /run/libvirt: one left over by a killed run is not the system daemon and must not be taken
# for it. Prefers the daemon's pid file.
running_pid() {
  local name=$1 pidfile=/run/$1.pid pid mine
  mine=$(readlink /proc/self/ns/mnt)
  ours() { [ "$(cat "/proc/$1/comm" 2>/dev/null || true)" = "$name" ] && [ "$(readlink "/proc/$1/ns/mnt" 2>/dev/null || true)" = "$mine" ]; }
  if [ -r "$pidfile" ]; then
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && ours "$pid"; then
      echo "$pid"; return 0
    fi
  fi
  local d
  for d in /proc/[0-9]*; do
    if ours "${d#/proc/}"; then
      echo "${d#/proc/}"; return 0
    fi
  done
  return 1
}

# Starts daemon $1 in the background unless it runs already; records its pid.
start_daemon() {
  local name=$1 pid i
  if pid=$(running_pid "$name"); then
    say "$name already running (pid $pid), leaving it alone"
    return 0
  fi
  # Daemonized libvirt daemons have no stderr; keep warnings in a file to show on failure.
  # They must not inherit this shell's other descriptors: run under `flock FILE`, a daemon
  # would hold the caller's lock for as long as it runs.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    LIBVIRT_LOG_OUTPUTS="3:file:$STATE_DIR/$name.log" exec "$name" -d </dev/null
  ) || die "'$name -d' failed; log: $(tail -n 20 "$STATE_DIR/$name.log" 2>/dev/null)"
  for i in $(seq 1 50); do
    if pid=$(running_pid "$name"); then
      record "daemon $name $pid"
      say "started $name (pid $pid)"
      return 0
    fi
    sleep 0.1
  done
  die "$name did not stay up; log: $(tail -n 20 "$STATE_DIR/$name.log" 2>/dev/null)"
}

# 1. /dev/kvm: the qemu processes run as libvirt-qemu, which may not be in its group. Where
# that user cannot be asked (no such user, no runuser), the device's mode decides.
kvm_usable() {
  if id -u libvirt-qemu >/dev/null 2>&1 && command -v runuser >/dev/null; then
    runuser -u libvirt-qemu -- test -r /dev/kvm -a -w /dev/kvm
  else
    [ "$(stat -c %a /dev/kvm)" = 666 ]
  fi
}
if [ -c /dev/kvm ] && ! kvm_usable; then
  old_mode=$(stat -c %a /dev/kvm)
  chmod 0666 /dev/kvm
  record "kvm-mode $old_mode"
  say "chmod 0666 /dev/kvm (was $old_mode)"
fi

# 2. Daemons. virtlogd first: libvirtd hands every qemu's console log to it.
if ((DAEMONS)); then
  start_daemon virtlogd
  start_daemon libvirtd
fi

deadline=$((SECONDS + WAIT_SECONDS))
until out=$(timeout 20 virsh -c "$URI" version 2>&1); do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "$out" >&2
    tail -n 30 "$STATE_DIR/libvirtd.log" >&2 2>/dev/null || true
    die "libvirtd did not answer 'virsh -c $URI version' within ${WAIT_SECONDS}s"
  fi
  sleep 0.5
done
say "libvirt answers: $(echo "$out" | grep -i 'running hypervisor' || echo "$out" | head -1)"

# 3. Test bridge.
if [ -d "/sys/class/net/$BRIDGE" ]; then
  [ -d "/sys/class/net/$BRIDGE/bridge" ] || die "$BRIDGE exists but is not a Linux bridge"
  say "bridge $BRIDGE already exists, leaving it alone"
else
  ip link add "$BRIDGE" type bridge forward_delay 0 stp_state 0
  record "bridge $BRIDGE"
  say "created bridge $BRIDGE"
fi
ip link set "$BRIDGE" up
