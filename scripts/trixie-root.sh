#!/usr/bin/env bash
# Builds, once per machine, a Debian 13 (trixie) root with libvirt 11.3, QEMU 10 and its nodejs
# 20.19, for the end-to-end suites that run them beside this Debian 12 host
# (test/e2e/trixie*.test.ts) and for the benchmark's trixie Node (bench/run.mjs --root-node).
# Prints the root's path on its last line.
#
#   sudo bash scripts/trixie-root.sh            # build it, or reuse the cached one
#   sudo bash scripts/trixie-root.sh --rebuild  # build it anew
#
# The root is cached as a directory, $NWFH_TRIXIE_CACHE/trixie-root (default
# /var/cache/nwfilter-hook-test), beside a stamp that names what it was built from; a later run
# whose stamp matches reuses it. Users never write into it: the suites lay an overlay over it
# (their own writes go to a temporary upper directory) and the benchmark only reads it.
#
# How (DESIGN.md, "Debian 13"): `debootstrap --variant=minbase trixie` from the Debian mirror
# apt already uses here, then `apt-get install` inside the root, since debootstrap's --include
# trips on systemd's pre-dependency. A policy-rc.d that exits 101 keeps the packages' maintainer
# scripts from starting daemons; it stays, so that no later install in the root starts any.
# apt runs in a mount namespace of its own with /proc and /dev mounted into the root, so that
# an interrupted build leaves no mount behind on the host.
set -euo pipefail

CACHE=${NWFH_TRIXIE_CACHE:-/var/cache/nwfilter-hook-test}
ROOT=$CACHE/trixie-root
STAMP=$CACHE/trixie-root.stamp
SUITE=trixie
PACKAGES=(libvirt-daemon-system libvirt-clients qemu-system-x86 nodejs ebtables iproute2 dnsmasq-base)

say() { printf 'trixie-root: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

rebuild=false
case "${1:-}" in
  "") ;;
  --rebuild) rebuild=true ;;
  *) die "unknown argument '$1' (usage: trixie-root.sh [--rebuild])" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it)"
for tool in debootstrap unshare chroot mount; do
  command -v "$tool" >/dev/null || die "$tool not found (install debootstrap, util-linux)"
done

# What the root is made of. The mirror is not part of it: any mirror serves the same packages.
stamp="suite=$SUITE variant=minbase packages=${PACKAGES[*]} policy-rc.d=101"

if ! $rebuild && [ -d "$ROOT" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$stamp" ]; then
  say "reusing $ROOT (built $(date -r "$STAMP" '+%F %T'))"
  echo "$ROOT"
  exit 0
fi

# The Debian mirror this host's apt already uses for its own release, else Debian's own.
mirror=$(apt-get indextargets --format '$(REPO_URI) $(LABEL)' 2>/dev/null | awk '$2 == "Debian" { print $1; exit }')
mirror=${mirror:-http://deb.debian.org/debian/}

mkdir -p "$CACHE"
chmod 0755 "$CACHE"
started=$SECONDS
new=$(mktemp -d "$CACHE/trixie-root.new.XXXXXX")
chmod 0755 "$new"
trap 'rm -rf --one-file-system "$new"' EXIT
log=$CACHE/trixie-root.log
: >"$log"

say "debootstrap --variant=minbase $SUITE from $mirror (log: $log)"
if ! debootstrap --variant=minbase "$SUITE" "$new" "$mirror" >>"$log" 2>&1; then
  tail -n 30 "$log" >&2
  die "debootstrap failed (log: $log)"
fi

printf '#!/bin/sh\n# Installed by nwfilter-hook'"'"'s scripts/trixie-root.sh: no daemon starts in this root.\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
chmod 0755 "$new/usr/sbin/policy-rc.d"

say "apt-get install ${PACKAGES[*]}"
# shellcheck disable=SC2016 # $1 and $@ belong to the inner shell
if ! unshare -m --propagation private sh -c '
  set -e
  root=$1
  shift
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C
  chroot "$root" apt-get update
  chroot "$root" apt-get install -y --no-install-recommends "$@"
  chroot "$root" apt-get clean
' sh "$new" "${PACKAGES[@]}" </dev/null >>"$log" 2>&1; then
  tail -n 30 "$log" >&2
  die "apt-get install in the root failed (log: $log)"
fi

for f in usr/sbin/libvirtd usr/sbin/virtlogd usr/bin/virsh usr/bin/qemu-system-x86_64 usr/bin/node; do
  [ -x "$new/$f" ] || die "the new root lacks /$f (log: $log)"
done

rm -rf --one-file-system "$ROOT" "$STAMP"
mv "$new" "$ROOT"
trap - EXIT
echo "$stamp" >"$STAMP"
versions=$(chroot "$ROOT" dpkg-query -W -f '${Package} ${Version}\n' libvirt-daemon qemu-system-x86 nodejs | tr '\n' ',' | sed 's/,$//; s/,/, /g')
say "built $ROOT in $((SECONDS - started)) s ($(du -sh "$ROOT" | cut -f1); $versions)"
echo "$ROOT"
