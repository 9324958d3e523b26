#!/bin/sh
# install-seaweedfs.sh builds SeaweedFS's weed binary at a pinned version from source: the
# S3-compatible server the blobs/s3 tests (and the cluster tests) run against.
#
# Why from source: only the Go module proxy is reachable from every build host. `go install`
# refuses the module because its go.mod has replace directives, so the module's source is
# downloaded with `go mod download`, copied somewhere writable (the module cache is
# read-only) and built there with `go build ./weed` (about three minutes).
#
# Usage: scripts/install-seaweedfs.sh
#   The binary lands in /var/cache/codebox/bin/weed ($CODEBOX_BIN_CACHE to override) with a
#   weed.version stamp; a run with the pinned version already present does nothing.
set -eu

VERSION=v0.0.0-20261109003541-7506e5f91cd6
MODULE=github.com/seaweedfs/seaweedfs
CACHE=${CODEBOX_BIN_CACHE:-/var/cache/codebox/bin}
STAMP="weed $VERSION"

if [ -x "$CACHE/weed" ] && [ -f "$CACHE/weed.version" ] && [ "$(cat "$CACHE/weed.version")" = "$STAMP" ]; then
	echo "weed $VERSION already installed in $CACHE"
	exit 0
fi

command -v go >/dev/null 2>&1 || { echo "install-seaweedfs: go is required" >&2; exit 1; }
mkdir -p "$CACHE"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

echo "building weed $VERSION (takes a few minutes)"
# Outside any module so the project's go.mod is not consulted.
dir=$(cd "$tmp" && GOFLAGS= go mod download -json "$MODULE@$VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "install-seaweedfs: go mod download gave no directory" >&2; exit 1; }
cp -R "$dir" "$tmp/src"
chmod -R u+w "$tmp/src"
(cd "$tmp/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off \
	go build -ldflags='-s -w' -o "$tmp/weed" ./weed)
install -m 0755 "$tmp/weed" "$CACHE/weed.new"
mv -f "$CACHE/weed.new" "$CACHE/weed"
echo "$STAMP" >"$CACHE/weed.version"
"$CACHE/weed" version | head -n 1
echo "weed installed in $CACHE/weed"
