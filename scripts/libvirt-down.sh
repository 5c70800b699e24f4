#!/usr/bin/env bash
# Undoes what scripts/libvirt-up.sh recorded, in reverse order, and nothing else: daemons it
# started are stopped by pid (after checking the pid still names that daemon), a bridge it
# created is deleted, a /dev/kvm mode it changed is restored. Safe to run twice.
set -uo pipefail

STATE_DIR=${NWFH_TEST_STATE_DIR:-/run/nwfilter-hook-test}
STATE=$STATE_DIR/started.pids

say() { echo "libvirt-down: $*"; }

if [ ! -s "$STATE" ]; then
  say "nothing recorded in $STATE, nothing to undo"
  rm -rf "$STATE_DIR"
  exit 0
fi

# Stops daemon $1 with pid $2 and waits (bounded) until it is gone.
stop_daemon() {
  local name=$1 pid=$2 i
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != "$name" ]; then
    say "$name (pid $pid) is no longer running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "$name" ] || { say "stopped $name (pid $pid)"; return 0; }
    sleep 0.1
  done
  say "$name (pid $pid) ignored SIGTERM for 10 s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

status=0
# Reverse order: libvirtd before virtlogd, the bridge before the daemons.
mapfile -t lines < <(tac "$STATE")
for line in "${lines[@]}"; do
  read -r kind a b <<<"$line"
  case "$kind" in
    bridge)
      if [ -d "/sys/class/net/$a" ]; then
        ip link del "$a" && say "deleted bridge $a" || status=1
      fi
      ;;
    daemon) stop_daemon "$a" "$b" ;;
    kvm-mode)
      if [ -c /dev/kvm ]; then chmod "$a" /dev/kvm && say "restored /dev/kvm mode $a"; fi
      ;;
    "") ;;
    *) say "unknown record '$line', ignored"; status=1 ;;
  esac
done

rm -rf "$STATE_DIR"
exit "$status"
