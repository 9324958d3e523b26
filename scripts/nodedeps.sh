#!/bin/sh
# nodedeps.sh installs the npm packages the web console's browser test drives Chromium
# with (web/e2e/package.json, pinned by web/e2e/package-lock.json) with `npm ci`, into
# ${CODEBOX_NODE_DIR:-/var/cache/codebox/node}/<sha256 of the lockfile>/node_modules, outside
# the repository and made once per set of pins. Node.js and npm come from Debian when no
# node and npm are in PATH. It is built beside its final name and renamed into place only
# once the install succeeded, so a failed run leaves nothing half-installed. It prints the
# directory holding node_modules.
set -eu

cd "$(dirname "$0")/.."
ROOT="${CODEBOX_NODE_DIR:-/var/cache/codebox/node}"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		SUDO="sudo"
	fi
	echo "nodedeps: installing nodejs npm" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update >&2
	$SUDO apt-get install -y --no-install-recommends nodejs npm >&2
fi

lock=web/e2e/package-lock.json
hash=$(sha256sum "$lock" | cut -d' ' -f1)
dir="$ROOT/$hash"
if [ -d "$dir/node_modules" ]; then
	echo "nodedeps: $lock: cached" >&2
	echo "$dir"
	exit 0
fi
mkdir -p "$ROOT"
tmp="$dir.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp"
cp web/e2e/package.json "$lock" "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --cache "$ROOT/.npm" >&2)
mv "$tmp" "$dir"
trap - EXIT
echo "nodedeps: $lock: installed" >&2
echo "$dir"
