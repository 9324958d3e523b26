"""Shared by the check_<skill>.py programs, which run a built-in skill's scripts in a
container and check the files they produce. A failed check raises AssertionError."""

import os
import subprocess
import sys

SKILL = sys.argv[1] if len(sys.argv) > 1 else "."
checks = 0


def run(script, *args, expect=0, stdin=None):
    """Run scripts/<script> with args; assert its exit status; return its stdout."""
    p = subprocess.run([sys.executable, os.path.join(SKILL, "scripts", script), *map(str, args)],
                       input=stdin, capture_output=True, text=True)
    if p.returncode != expect:
        raise AssertionError("%s %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s" % (
            script, " ".join(map(str, args)), p.returncode, expect, p.stdout, p.stderr))
    return p.stdout + p.stderr


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def equal(got, want, what):
    check(got == want, "%s = %r, want %r" % (what, got, want))


def done():
    print("ok: %d checks" % checks)
