#!/usr/bin/env bash
# Builds the attack guest of the attack suite (test/e2e/attack*.test.ts) from Debian packages,
# or finds it in the cache: a Debian kernel (linux-image-amd64's, whose e1000 driver is a plain
# module) and an initramfs holding busybox (busybox-static), that e1000.ko, the guest's /init and
# nwfh-attack (test/attack-guest/, compiled here with gcc -static). The same nwfh-attack counts
# frames on the victim's side.
#
# Prints the guest's directory on its last line: vmlinuz, initrd.img, nwfh-attack. The cache
# (NWFH_ATTACK_GUEST_CACHE, default /var/cache/nwfilter-hook-test/attack-guest) keeps the
# downloaded packages and one guest per key: the packages' versions, the compiler's and a hash of
# the sources and of this script. A second run with the same key reuses it; a new key replaces
# the older guests and packages. Needs root (apt-get download, a cache under /var/cache).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$here/../test/attack-guest
cache=${NWFH_ATTACK_GUEST_CACHE:-/var/cache/nwfilter-hook-test/attack-guest}

die() { echo "attack-guest: $*" >&2; exit 1; }
say() { echo "attack-guest: $*" >&2; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
for cmd in apt-get apt-cache dpkg-deb gcc sha256sum tar gzip flock; do
  command -v "$cmd" >/dev/null || die "$cmd not found (install apt, dpkg, gcc, libc6-dev, coreutils, gzip, util-linux)"
done

mkdir -p "$cache/debs"
chmod 0755 "$cache" "$cache/debs" "$(dirname "$cache")"
exec 9>"$cache/lock"
flock 9

# The kernel package that linux-image-amd64 depends on, e.g. linux-image-6.1.0-57-amd64.
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}
candidate() {
  apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)' | head -n 1
}

kpkg=$(kernel_package)
if [ -z "$kpkg" ] || [ -z "$(candidate busybox-static)" ]; then
  say "apt knows no linux-image-amd64 or busybox-static yet: apt-get update"
  apt-get update -qq </dev/null >&2 || die "apt-get update failed"
  kpkg=$(kernel_package)
fi
[ -n "$kpkg" ] || die "apt-cache depends linux-image-amd64 names no kernel package"
kver=$(candidate "$kpkg")
bver=$(candidate busybox-static)
[ -n "$kver" ] && [ -n "$bver" ] || die "no candidate version for $kpkg or busybox-static"

key=$(
  {
    echo "$kpkg=$kver busybox-static=$bver gcc=$(gcc -dumpfullversion)"
    sha256sum "$src/init" "$src/nwfh-attack.c" "$here/attack-guest.sh" | cut -d' ' -f1
  } | sha256sum | cut -c1-16
)
guest=$cache/guest-$key
if [ -f "$guest/complete" ]; then
  say "cached: $guest ($kpkg $kver, busybox-static $bver)"
  echo "$guest"
  exit 0
fi

# Packages: downloaded once per version (about 70 MB for the kernel).
find_deb() { # PACKAGE VERSION: the path of its .deb in the cache
  local d
  for d in "$cache/debs/${1}_"*.deb; do
    [ -e "$d" ] && [ "$(dpkg-deb -f "$d" Version)" = "$2" ] && echo "$d" && return 0
  done
  return 1
}
deb() { # PACKAGE VERSION: find_deb, downloading it first when absent
  find_deb "$1" "$2" && return 0
  say "apt-get download $1=$2"
  # The download runs as root into root's cache: apt's warning about its _apt sandbox is noise.
  (cd "$cache/debs" && apt-get download -q "$1=$2" </dev/null 2>&1 | grep -v 'unsandboxed as root' >&2) || true
  find_deb "$1" "$2" || die "apt-get download $1=$2 left no .deb in $cache/debs"
}
kdeb=$(deb "$kpkg" "$kver")
bdeb=$(deb busybox-static "$bver")

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "building $guest from $kpkg $kver and busybox-static $bver"
mkdir -p "$work/kernel" "$work/busybox" "$work/root"/{bin,dev,proc,sys} "$work/out"
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/kernel" --wildcards './boot/vmlinuz-*' '*/e1000/e1000.ko*'
dpkg-deb -x "$bdeb" "$work/busybox"

vmlinuz=$(find "$work/kernel/boot" -name 'vmlinuz-*' | head -n 1)
e1000=$(find "$work/kernel" -name 'e1000.ko*' | head -n 1)
[ -n "$vmlinuz" ] && [ -n "$e1000" ] || die "$kdeb has no vmlinuz or e1000.ko"
busybox=$work/busybox/bin/busybox
case $e1000 in
  *.ko) cp "$e1000" "$work/root/e1000.ko" ;;
  *.ko.xz) "$busybox" xz -dc "$e1000" >"$work/root/e1000.ko" ;;
  *) die "cannot unpack $e1000" ;;
esac
cp "$busybox" "$work/root/bin/busybox"
install -m 0755 "$src/init" "$work/root/init"
gcc -static -O2 -Wall -Wextra -Werror -o "$work/out/nwfh-attack" "$src/nwfh-attack.c"
cp "$work/out/nwfh-attack" "$work/root/nwfh-attack"
(cd "$work/root" && "$busybox" find . | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -6 >"$work/out/initrd.img"
cp "$vmlinuz" "$work/out/vmlinuz"
echo "$kpkg=$kver busybox-static=$bver" >"$work/out/complete"
chmod 0755 "$work/out" "$work/out/nwfh-attack"
chmod 0644 "$work/out/vmlinuz" "$work/out/initrd.img" "$work/out/complete"

# The new guest replaces older ones, and their packages go too.
for old in "$cache"/guest-*; do
  [ -e "$old" ] && [ "$old" != "$guest" ] && rm -rf "$old"
done
for d in "$cache/debs"/*.deb; do
  [ -e "$d" ] && [ "$d" != "$kdeb" ] && [ "$d" != "$bdeb" ] && rm -f "$d"
done
rm -rf "$guest"
mv "$work/out" "$guest"
say "built $guest"
echo "$guest"
