#!/bin/sh
# fuzz.sh runs every fuzz target of the module briefly: FUZZTIME each (default 10s).
# Targets are discovered with `go test -list`, so new ones run without editing this file.
set -eu

FUZZTIME=${FUZZTIME:-10s}

go list ./... | while read -r pkg; do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($FUZZTIME)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done
