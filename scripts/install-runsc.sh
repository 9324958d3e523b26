#!/bin/sh
# install-runsc.sh installs gVisor's runsc at a pinned version, built from source as a
# static binary.
#
# Why from source and static: the release tarball (with the sidecar binaries) is not
# reachable from every build host, and a cgo build of runsc fails at run time because
# runsc chroots into an empty directory where no dynamic loader exists.
#
# Why pinned: the embedded-sentry fallback used when the sidecar binaries are absent is
# deprecated upstream; this version still runs with it. Recheck before upgrading.
#
# Usage: scripts/install-runsc.sh [DEST_DIR]
#   DEST_DIR defaults to $CODEBOX_RUNSC_DIR, else /usr/local/bin. The binary is built once
#   into a cache (/var/cache/codebox/bin by default, $CODEBOX_BIN_CACHE to override) and
#   copied to DEST_DIR; a run with the pinned version already present does nothing.
set -eu

VERSION=v0.0.0-20260905035102-160fafc42237
DEST=${1:-${CODEBOX_RUNSC_DIR:-/usr/local/bin}}
CACHE=${CODEBOX_BIN_CACHE:-/var/cache/codebox/bin}
STAMP="runsc $VERSION"

have_pinned() {
	[ -x "$1" ] && [ -f "$1.version" ] && [ "$(cat "$1.version")" = "$STAMP" ]
}

if have_pinned "$DEST/runsc"; then
	echo "runsc $VERSION already installed in $DEST"
	exit 0
fi

mkdir -p "$CACHE" "$DEST"
if ! have_pinned "$CACHE/runsc"; then
	command -v go >/dev/null 2>&1 || { echo "install-runsc: go is required" >&2; exit 1; }
	echo "building runsc $VERSION (takes about a minute)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# GOFLAGS=-mod=mod: gVisor's go.mod is not tidy for module-mode builds.
	# Build outside any module so the project's go.mod is not consulted.
	(cd "$tmp" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOBIN="$tmp" \
		go install -ldflags='-s -w' "gvisor.dev/gvisor/runsc@$VERSION")
	install -m 0755 "$tmp/runsc" "$CACHE/runsc.new"
	mv -f "$CACHE/runsc.new" "$CACHE/runsc"
	echo "$STAMP" >"$CACHE/runsc.version"
fi

if [ "$(readlink -f "$CACHE")" != "$(readlink -f "$DEST")" ]; then
	install -m 0755 "$CACHE/runsc" "$DEST/runsc.new"
	mv -f "$DEST/runsc.new" "$DEST/runsc"
	echo "$STAMP" >"$DEST/runsc.version"
fi
"$DEST/runsc" --version | head -n 1
echo "runsc installed in $DEST/runsc"
