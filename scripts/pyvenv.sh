#!/bin/sh
# pyvenv.sh makes the Python virtual environments the end-to-end tests run the official
# anthropic and openai SDKs from: Debian's python3 and python3-venv (installed when
# missing), and for each e2e/python/requirements*.txt its packages, pinned by hash,
# wheels only. Each environment is cached outside the repository under
# ${CODEBOX_PYVENV_DIR:-/var/cache/codebox/pyvenv}/<sha256 of its requirements file>, so
# it is made once per set of pins; it is built beside its final name and renamed into
# place only once the install succeeded, so a failed run leaves nothing half-installed.
# It prints each environment's directory.
set -eu

cd "$(dirname "$0")/.."
ROOT="${CODEBOX_PYVENV_DIR:-/var/cache/codebox/pyvenv}"
PYTHON=/usr/bin/python3

missing=""
for p in python3 python3-venv; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		SUDO="sudo"
	fi
	echo "pyvenv: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update >&2
	# shellcheck disable=SC2086
	$SUDO apt-get install -y --no-install-recommends $missing >&2
fi

# venv REQ makes (or finds) the environment of one requirements file.
venv() {
	hash=$(sha256sum "$1" | cut -d' ' -f1)
	dir="$ROOT/$hash"
	if [ -x "$dir/bin/python" ]; then
		echo "pyvenv: $1: cached" >&2
		echo "$dir"
		return
	fi
	mkdir -p "$ROOT"
	tmp="$dir.tmp.$$"
	trap 'rm -rf "$tmp"' EXIT
	rm -rf "$tmp"
	"$PYTHON" -m venv "$tmp"
	"$tmp/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
		--require-hashes --only-binary :all: -r "$1" >&2
	# A venv records its own path only in its scripts; the tests run bin/python, which
	# finds its site-packages relative to itself, so the rename keeps it working.
	mv "$tmp" "$dir"
	trap - EXIT
	echo "pyvenv: $1: installed $(grep -c '^[a-z]' "$1") packages" >&2
	echo "$dir"
}

for req in e2e/python/requirements*.txt; do
	venv "$req"
done
