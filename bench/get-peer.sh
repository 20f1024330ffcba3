#!/usr/bin/env bash
# Builds the peer aggregator that bench/compare.mjs measures mcpx against: mcp-proxy-server
# (github.com/adamwattis/mcp-proxy-server; not on npm). It fetches nothing from GitHub: give it an
# unpacked checkout, outside this repository, e.g. one of
#   git clone https://github.com/adamwattis/mcp-proxy-server /work/peer/mcp-proxy-server
#   git --git-dir=<a bare copy> archive HEAD | tar -x -C /work/peer/mcp-proxy-server
# It installs the checkout's dependencies from the npm registry (its package-lock.json), builds it,
# and prints the MCPX_BENCH_PEER to export.
# usage: bench/get-peer.sh <checkout dir>
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 <unpacked checkout of github.com/adamwattis/mcp-proxy-server>" >&2
  exit 2
fi
dir=$(cd "$1" 2>/dev/null && pwd) || { echo "get-peer: no such directory: $1" >&2; exit 2; }
if ! grep -q '"name": "mcp-proxy-server"' "$dir/package.json" 2>/dev/null; then
  echo "get-peer: $dir/package.json is not mcp-proxy-server's" >&2
  exit 2
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
case "$dir/" in
  "$repo"/*) echo "get-peer: $dir is inside this repository; unpack the peer elsewhere" >&2; exit 2 ;;
esac

cd "$dir"
# `npm install` runs the package's prepare script (its build) too; the explicit build makes a failure plain.
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
npm run build >&2
entry="$dir/build/index.js"
[ -f "$entry" ] || { echo "get-peer: the build did not produce $entry" >&2; exit 1; }
sdk=$(node -p 'require("./node_modules/@modelcontextprotocol/sdk/package.json").version' 2>/dev/null || echo '?')
echo "get-peer: built $(git -C "$dir" rev-parse --short HEAD 2>/dev/null || echo 'an unpacked checkout') with @modelcontextprotocol/sdk $sdk" >&2
echo "export MCPX_BENCH_PEER=$entry"
