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
# Why built from a patched copy: gVisor's sentry installs a seccomp filter on itself at
# every start and restore, and compiles it there (~40 ms of CPU before the sandbox can
# run) unless the binary carries it precompiled. Only gVisor's own (Bazel) build embeds
# them; a `go build` embeds none. So the build generates the programs for the systrap
# platform without host network or device proxies (sandbox/oci/runsc.go's flags), with
# gVisor's own precompiledseccomp package, into runsc/boot/filter/filter_precompiled.go.
# A sandbox whose options have no precompiled program still compiles its own, as before.
#
# Usage: scripts/install-runsc.sh [DEST_DIR]
#   DEST_DIR defaults to $CODEBOX_RUNSC_DIR, else /usr/local/bin. The binary is built once
#   into a cache (/var/cache/codebox/bin by default, $CODEBOX_BIN_CACHE to override) and
#   copied to DEST_DIR; a run with the pinned version already present does nothing.
set -eu

VERSION=v0.0.0-20260905035102-160fafc42237
DEST=${1:-${CODEBOX_RUNSC_DIR:-/usr/local/bin}}
CACHE=${CODEBOX_BIN_CACHE:-/var/cache/codebox/bin}
# RECIPE names the way the binary is built: a change to it replaces binaries built before.
RECIPE=precompiled-seccomp-systrap
STAMP="runsc $VERSION $RECIPE"

# precompile_seccomp SRC PLATFORM embeds in the gVisor tree SRC the sentry's seccomp
# programs for PLATFORM, without host network or device proxies.
precompile_seccomp() {
	cat >"$1/runsc/boot/filter/config/codebox_precompile.go" <<'GO'
package config

import (
	"gvisor.dev/gvisor/pkg/seccomp"
	"gvisor.dev/gvisor/pkg/seccomp/precompiledseccomp"
)

// PrecompiledProgramsFor is PrecompiledPrograms for the options keep accepts only.
func PrecompiledProgramsFor(keep func(Options) bool) ([]precompiledseccomp.Program, error) {
	opts, err := optionsToPrecompile()
	if err != nil {
		return nil, err
	}
	var programs []precompiledseccomp.Program
	for _, opt := range opts {
		if !keep(opt) {
			continue
		}
		var varNames []string
		for varName := range opt.Vars() {
			varNames = append(varNames, varName)
		}
		program, err := precompiledseccomp.Precompile(opt.ConfigKey(), varNames, func(vars precompiledseccomp.Values) *seccomp.Program {
			rules, denyRules := rules(opt, vars)
			return &seccomp.Program{
				RuleSets: []seccomp.RuleSet{{Rules: denyRules.Copy()}, {Rules: rules.Copy(), Action: seccomp.Allow}},
				Options:  SeccompOptions(opt),
			}
		})
		if err != nil {
			return nil, err
		}
		programs = append(programs, program)
	}
	return programs, nil
}
GO
	mkdir -p "$1/codebox/seccompgen"
	cat >"$1/codebox/seccompgen/main.go" <<'GO'
// Command seccompgen prints Go statements registering runsc's seccomp programs for
// the platform named by its argument in a map named programs.
package main

import (
	"fmt"
	"os"
	"strings"

	"gvisor.dev/gvisor/runsc/boot/filter/config"
)

func main() {
	programs, err := config.PrecompiledProgramsFor(func(o config.Options) bool {
		return strings.Contains(o.ConfigKey(), `Platform="`+os.Args[1]+`"`) &&
			!o.HostNetwork && !o.NVProxy && !o.TPUProxy && !o.RDMAProxy
	})
	if err == nil && len(programs) == 0 {
		err = fmt.Errorf("no seccomp program for platform %s", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "seccompgen:", err)
		os.Exit(1)
	}
	for _, p := range programs {
		fmt.Print(p.Registration("\t", "precompiledseccomp", "programs"))
	}
}
GO
	(cd "$1" && go run ./codebox/seccompgen "$2") >"$1/programs.txt"
	f="$1/runsc/boot/filter/filter_precompiled.go"
	anchor='	programs := make(map[string]precompiledseccomp.Program)'
	grep -qxF "$anchor" "$f" || { echo "install-runsc: $f has changed; update precompile_seccomp" >&2; exit 1; }
	awk -v anchor="$anchor" -v regs="$1/programs.txt" '
		{ print }
		$0 == anchor { while ((getline line < regs) > 0) print line }
	' "$f" >"$f.new"
	mv "$f.new" "$f"
}

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
	trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
	# GOFLAGS=-mod=mod: gVisor's go.mod is not tidy for module-mode builds.
	# Work outside any module so the project's go.mod is not consulted.
	export CGO_ENABLED=0 GOFLAGS=-mod=mod
	mod=$(cd "$tmp" && go mod download -json "gvisor.dev/gvisor@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$mod" ] || { echo "install-runsc: downloading gvisor.dev/gvisor@$VERSION failed" >&2; exit 1; }
	src="$tmp/gvisor"
	cp -R "$mod" "$src"
	chmod -R u+w "$src"
	precompile_seccomp "$src" systrap
	(cd "$src" && go build -ldflags='-s -w' -o "$tmp/runsc" ./runsc)
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
