#!/bin/sh
# lint.sh fails when the tree is not gofmt-clean, or when go vet or staticcheck report
# anything. staticcheck is pinned and installed from the Go module proxy on first use.
set -eu
STATICCHECK_VERSION=2026.2.2
STATICCHECK_MODULE_VERSION=v0.8.2

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "lint: gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

go vet ./...

bin=$(go env GOPATH)/bin/staticcheck
if ! [ -x "$bin" ] || ! "$bin" -version 2>/dev/null | grep -q "^staticcheck $STATICCHECK_VERSION "; then
	echo "lint: installing staticcheck $STATICCHECK_VERSION"
	GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_MODULE_VERSION"
fi
"$bin" ./...
echo "lint: ok"
