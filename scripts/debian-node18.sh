#!/usr/bin/env bash
# Installs Debian 12's own nodejs (18.20.4, built against libnode108) beside the machine's Node,
# without replacing it, so that tests and the benchmark can run on the Node that Debian hosts
# ship. The nodejs package goes into its own prefix (default /opt/debian-node18); libnode and the
# modules it loads from /usr/share/nodejs (acorn, cjs-module-lexer, undici) go where libnode
# looks for them, which clash with nothing a non-Debian nodejs package installs.
#
# Usage (as root): bash scripts/debian-node18.sh [PREFIX]
# Prints the path of the installed node binary on its last line. Idempotent.
set -euo pipefail

prefix=${1:-/opt/debian-node18}
node_bin="$prefix/usr/bin/node"

if [ -x "$node_bin" ] && "$node_bin" --version 2>/dev/null | grep -q '^v18\.'; then
  echo "$node_bin"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Debian's version, not the one another repository may have installed as "nodejs".
version=$(apt-cache madison nodejs | awk -F'|' '$2 ~ /dfsg/ { gsub(/ /, "", $2); print $2; exit }')
if [ -z "$version" ]; then
  apt-get update >/dev/null
  version=$(apt-cache madison nodejs | awk -F'|' '$2 ~ /dfsg/ { gsub(/ /, "", $2); print $2; exit }')
fi
[ -n "$version" ] || { echo "debian-node18: apt knows no Debian nodejs package" >&2; exit 1; }

# libnode108's shared-library dependencies come from apt as usual.
apt-get install -y --no-install-recommends libuv1 libicu72 libbrotli1 libnghttp2-14 libssl3 \
  zlib1g </dev/null >/dev/null

work=$(mktemp -d /tmp/debian-node18.XXXXXX)
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  # apt-get download as root warns that _apt cannot write here; the download itself works.
  apt-get download "nodejs=$version" "libnode108=$version" libc-ares2 node-acorn \
    node-cjs-module-lexer node-undici node-busboy node-xtend </dev/null >/dev/null 2>&1
)

mkdir -p "$prefix"
dpkg-deb -x "$work"/nodejs_*.deb "$prefix"
for deb in "$work"/libnode108_*.deb "$work"/libc-ares2_*.deb "$work"/node-*.deb; do
  dpkg-deb -x "$deb" "$work/root"
done
cp -a "$work/root/usr/lib/x86_64-linux-gnu/." /usr/lib/x86_64-linux-gnu/
mkdir -p /usr/share/nodejs
cp -a "$work/root/usr/share/nodejs/." /usr/share/nodejs/
ldconfig

"$node_bin" --version >/dev/null
echo "$node_bin"
