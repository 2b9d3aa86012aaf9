#!/bin/sh
# The Node.js that make runs everything on (npm ci, the service, the tests), printed as the folder
# of its `node` binary for the Makefile to put first in PATH; nothing when the Node on PATH is
# supported (22.13 or later: the first 22 with node:sqlite without a flag). Otherwise it is the Docker image's Node (the major of the
# Dockerfile's `ARG NODE_IMAGE=node:<major>-…`): the newest release of that major from the npm
# registry's `node-<platform>-<arch>` package (the official build, repackaged), kept in
# .cache/node/ (outside node_modules, which `npm ci` empties). scripts/image-node.ts uses the same
# cache. MAKE_NODE=/path/to/bin/node names another binary.
#
#   sh scripts/node-runtime.sh            # prints e.g. /work/app/.cache/node/node-v24.22.3/bin
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

say() { echo "node-runtime: $*" >&2; }

# Whether `$1` is a node binary of 22.13 or later.
supported() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 13) ? 0 : 1)' 2>/dev/null
}

if [ -n "${MAKE_NODE:-}" ]; then
  supported "$MAKE_NODE" || { say "MAKE_NODE=$MAKE_NODE is not Node 22.13 or later"; exit 1; }
  dirname "$MAKE_NODE"
  exit 0
fi
if command -v node >/dev/null 2>&1 && supported "$(command -v node)"; then exit 0; fi

major=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9][0-9]*\).*/\1/p' Dockerfile | head -n 1)
[ -n "$major" ] || { say "the Dockerfile has no ARG NODE_IMAGE=node:<major>-…"; exit 1; }
cache="$root/.cache/node"
platform=$(uname -s | tr 'A-Z' 'a-z')
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac

# The newest cached release of that major that runs here.
for dir in $(ls -d "$cache"/node-v"$major".* 2>/dev/null | sort -t. -k2,2n -k3,3n -r); do
  if "$dir/bin/node" --version >/dev/null 2>&1; then echo "$dir/bin"; exit 0; fi
done

current=$(node --version 2>/dev/null || echo none)
say "the Node on PATH ($current) is older than 22.13: fetching Node $major (the Docker image's) from the npm registry into .cache/node"
mkdir -p "$cache"
work=$(mktemp -d "$cache/download-XXXXXX")
trap 'rm -rf "$work"' EXIT
spec="node-$platform-$arch@$major"
if ! (cd "$work" && npm pack "$spec" --loglevel=error >/dev/null); then
  say "could not fetch $spec (npm pack). Install Node.js 22.13 or later, or set MAKE_NODE=/path/to/bin/node"
  exit 1
fi
tar -xzf "$work"/node-*.tgz -C "$work"
version=$("$work/package/bin/node" --version) || { say "the fetched $spec does not run on this machine"; exit 1; }
mv "$work/package" "$cache/node-$version" 2>/dev/null || true
say "using Node $version ($cache/node-$version/bin)"
echo "$cache/node-$version/bin"
