#!/bin/sh
# deps.sh installs the Debian packages codebox needs to build, serve and test:
# runc runs the sandboxes, mmdebstrap builds their root filesystem, e2fsprogs and
# util-linux make and mount each container's size-limited workspace disk; make, gcc and
# libc6-dev are what `make` and `go test -race` (which needs cgo) need; python3-pip
# downloads the image's pinned wheels from the Python package index; chromium is the headless
# browser the web console's end-to-end test drives (scripts/nodedeps.sh installs the rest);
# postgresql provides the server the store/postgres tests start (internal/testenv runs
# its initdb and postgres in a temporary directory; the packaged cluster is not used).
# It is idempotent: packages already installed are skipped, and with all of them present
# it does nothing, not even `apt-get update`.
set -eu

PACKAGES="runc mmdebstrap e2fsprogs util-linux ca-certificates make gcc libc6-dev python3-pip chromium postgresql"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all packages present ($PACKAGES)"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends -o Dpkg::Progress-Fancy=1 $missing
echo "deps: done"
