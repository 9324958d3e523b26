package sandbox_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// probeSource prints, as JSON, what a program sees of how it was started.
//
//go:embed testdata/probe.py
var probeSource string

// newPreforkEnv starts a Manager with the fork server on and a container whose fork
// server has started, with probe.py in its working directory.
func newPreforkEnv(t *testing.T, runtime string) (*sandboxtest.Env, string) {
	t.Helper()
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Prefork = true })
	c := create(t, e, sandbox.CreateOptions{})
	if err := e.Manager.Upload(context.Background(), ws, c.ID, "probe.py", strings.NewReader(probeSource)); err != nil {
		t.Fatal(err)
	}
	// "require" asks the agent to start the server and waits until it serves.
	res := runTimeout(t, e, c.ID, "CODEBOX_PYTHON_PREFORK=require python3 -c 'print(1)'", 5*time.Minute)
	if res.ExitCode != 0 || res.Stdout != "1\n" {
		t.Fatalf("the fork server did not start: %+v", res)
	}
	return e, c.ID
}

// bothWays runs command with python3 cold and from the fork server ("require": the
// command fails rather than fall back) and returns the two results.
func bothWays(t *testing.T, e *sandboxtest.Env, id, command string) (cold, forked *sandbox.ExecResult) {
	t.Helper()
	cold = run(t, e, id, "export CODEBOX_PYTHON_PREFORK=0\n"+command)
	forked = run(t, e, id, "export CODEBOX_PYTHON_PREFORK=require\n"+command)
	return cold, forked
}

func sameResult(t *testing.T, command string, cold, forked *sandbox.ExecResult) {
	t.Helper()
	if d := diffOutput(cold.Stdout, forked.Stdout); d != "" {
		t.Errorf("%s: stdout differs: %s", command, d)
	}
	if d := diffOutput(normalizePIDs(cold.Stderr), normalizePIDs(forked.Stderr)); d != "" {
		t.Errorf("%s: stderr differs: %s", command, d)
	}
	if cold.ExitCode != forked.ExitCode {
		t.Errorf("%s: exit %d cold, %d forked", command, cold.ExitCode, forked.ExitCode)
	}
}

// bashJob is how bash reports a job that died of a signal, with its PID right-aligned
// in a field of five: the padding changes with the number's width, which differs from
// one run to the next.
var bashJob = regexp.MustCompile(`(line \d+:) +\d+ `)

func normalizePIDs(s string) string { return bashJob.ReplaceAllString(s, "${1} PID ") }

// diffOutput says how forked differs from cold: by key for the probe's JSON, else
// where the text first differs.
func diffOutput(cold, forked string) string {
	if cold == forked {
		return ""
	}
	var a, b map[string]any
	if json.Unmarshal([]byte(cold), &a) == nil && json.Unmarshal([]byte(forked), &b) == nil {
		var out []string
		for k := range a {
			if !reflect.DeepEqual(a[k], b[k]) {
				out = append(out, fmt.Sprintf("%s: cold %v, forked %v", k, a[k], b[k]))
			}
		}
		sort.Strings(out)
		return strings.Join(out, "; ")
	}
	i := 0
	for i < len(cold) && i < len(forked) && cold[i] == forked[i] {
		i++
	}
	from := max(0, i-80)
	return fmt.Sprintf("at byte %d: cold %q, forked %q", i, cold[from:min(len(cold), i+120)], forked[from:min(len(forked), i+120)])
}

// TestPreforkEquivalence runs the same programs with a cold python3 and with one forked
// from the pre-imported server, and compares everything the program can see and every
// way it can end.
func TestPreforkEquivalence(t *testing.T) { sandboxtest.ForEachRuntime(t, testPreforkEquivalence) }

func testPreforkEquivalence(t *testing.T, runtime string) {
	e, id := newPreforkEnv(t, runtime)
	run(t, e, id, "mkdir -p sub && cp probe.py sub/probe_mod.py && echo data > in.txt && ln -sf sub/probe_mod.py link.py")
	for _, command := range []string{
		// How the program is named.
		"python3 probe.py a 'b c' ''",
		"python3 ./sub/../probe.py",
		"python3 /workspace/sub/probe_mod.py x",
		"python3 link.py",
		"cd sub && python3 ../probe.py",
		`python3 -c "$(cat probe.py)" x -y --z`,
		"python3 - a b < probe.py",
		"python3 < probe.py",
		"cat probe.py | python3",
		"python3 -m probe m1 m2",
		"cd sub && python3 -m probe_mod",
		// What it inherits.
		"python3 probe.py 3<in.txt 5>out.txt 7<>rw.txt",
		"python3 probe.py <&- 2>err.txt",
		"FOO=bar BAZ= python3 probe.py",
		"umask 077; python3 probe.py",
		"ulimit -n 100; python3 probe.py",
		"trap '' INT HUP; python3 probe.py",
		"python3 probe.py & wait",
		"exec 9>&1; python3 probe.py",
		// How it ends.
		"python3 -c 'import sys; sys.exit(3)'",
		"python3 -c 'raise SystemExit(\"bye\")'",
		"python3 -c 'import sys; print(1); sys.stdout.write(\"partial\"); sys.exit(None)'",
		"python3 -c 'def f():\n  raise ValueError(\"boom\")\nf()'",
		"python3 -c 'syntax error here'",
		"python3 -c 'raise KeyboardInterrupt'; echo rc=$?",
		"python3 -c 'import os; os.kill(os.getpid(), 15)'; echo rc=$?",
		"python3 -c 'import os; os.abort()'; echo rc=$?",
		"python3 -c 'import atexit; atexit.register(print, \"at exit\"); print(\"main\")'",
		"python3 -c 'import threading, time; threading.Thread(target=lambda: (time.sleep(0.2), print(\"thread\"))).start()'",
		"python3 -m no_such_module; echo rc=$?",
		"python3 -c 'import sys; print(sys.stdin.read())' < in.txt",
		"python3 -c 'import subprocess; print(subprocess.run([\"python3\", \"-c\", \"import os; print(os.environ[\\\"PATH\\\"])\"], capture_output=True, text=True).stdout)'",
	} {
		cold, forked := bothWays(t, e, id, command)
		sameResult(t, command, cold, forked)
	}
}

// TestPreforkSignals: a signal sent to the python3 the shell started reaches the
// program, which handles it or dies of it as a cold one would.
func TestPreforkSignals(t *testing.T) { sandboxtest.ForEachRuntime(t, testPreforkSignals) }

func testPreforkSignals(t *testing.T, runtime string) {
	e, id := newPreforkEnv(t, runtime)
	// A background job of a non-interactive shell starts with SIGINT ignored, which
	// both python3s inherit: the program takes it back to be interrupted.
	program := `import signal, sys, time, os
def on(sig, frame):
    print("got", sig, flush=True)
    sys.exit(7)
signal.signal(signal.SIGTERM, on)
signal.signal(signal.SIGHUP, on)
signal.signal(signal.SIGINT, signal.default_int_handler)
open("ready", "w").close()
time.sleep(60)`
	run(t, e, id, "cat > sig.py <<'EOF'\n"+program+"\nEOF")
	for _, sig := range []string{"TERM", "INT", "HUP", "KILL", "USR1", "QUIT"} {
		command := fmt.Sprintf("rm -f ready; python3 sig.py & until [ -e ready ]; do sleep 0.01; done; kill -%s $!; wait $!; echo rc=$?", sig)
		cold, forked := bothWays(t, e, id, command)
		sameResult(t, command, cold, forked)
	}
}

// TestPreforkFreshState: each program starts from the server's state, not from the
// previous program's: its module changes, matplotlib settings and random seeds do not
// carry over.
func TestPreforkFreshState(t *testing.T) { sandboxtest.ForEachRuntime(t, testPreforkFreshState) }

func testPreforkFreshState(t *testing.T, runtime string) {
	e, id := newPreforkEnv(t, runtime)
	const dirty = `python3 -c 'import json, matplotlib, numpy; json.dumps = None; matplotlib.rcParams["lines.linewidth"] = 9; numpy.seterr(all="raise")'`
	const look = `python3 -c 'import json, matplotlib, numpy, sys; print(json.dumps is not None, matplotlib.rcParams["lines.linewidth"], numpy.geterr()["divide"], "probe_mod" in sys.modules)'`
	cold, forked := bothWays(t, e, id, dirty+"\n"+look)
	sameResult(t, "dirty then look", cold, forked)
	if !strings.HasPrefix(forked.Stdout, "True 1.5 warn False") {
		t.Errorf("after a program changed them: %q", forked.Stdout)
	}
	const seeds = `python3 -c 'import random, numpy; print(random.random(), numpy.random.random(), numpy.random.default_rng().random())'`
	res := run(t, e, id, "export CODEBOX_PYTHON_PREFORK=require\n"+seeds+"\n"+seeds)
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.ExitCode != 0 || len(lines) != 2 {
		t.Fatalf("seeds: %+v", res)
	}
	a, b := strings.Fields(lines[0]), strings.Fields(lines[1])
	for i := range a {
		if a[i] == b[i] {
			t.Errorf("random number %d repeats from one program to the next: %s", i, a[i])
		}
	}
}

// TestPreforkFallsBack: what a forked interpreter cannot reproduce runs cold, and
// says why when the fork server is required.
func TestPreforkFallsBack(t *testing.T) { sandboxtest.ForEachRuntime(t, testPreforkFallsBack) }

func testPreforkFallsBack(t *testing.T, runtime string) {
	e, id := newPreforkEnv(t, runtime)
	run(t, e, id, "mkdir -p shadow && echo 'print(\"local numpy\")' > shadow/numpy.py && echo 'import numpy' > shadow/main.py")
	// random is loaded by the server itself, not by a cold interpreter's start: a
	// program's own random.py is what a cold start imports.
	run(t, e, id, "mkdir -p ownrandom && echo 'print(\"local random\")' > ownrandom/random.py && echo 'import random' > ownrandom/main.py")
	for _, command := range []string{
		"PYTHONHASHSEED=1 python3 -c 'print(hash(\"a\"))'",
		"python3 -I -c 'import sys; print(sys.flags.isolated)'",
		"python3 -u -c 'print(1)'",
		"python3 -X utf8 -c 'import sys; print(sys.flags.utf8_mode)'",
		"MPLBACKEND=svg python3 -c 'import matplotlib; print(matplotlib.get_backend())'",
		"LC_ALL=C python3 -c 'import sys; print(sys.stdout.encoding)'",
		"python3 shadow/main.py",
		"python3 ownrandom/main.py",
		"cd shadow && python3 -c 'import numpy'",
		"python3 shadow",
		"python3 no_such_file.py",
		"python3 -c",
	} {
		cold := run(t, e, id, "export CODEBOX_PYTHON_PREFORK=0\n"+command)
		auto := run(t, e, id, command)
		sameResult(t, command, cold, auto)
		req := run(t, e, id, "export CODEBOX_PYTHON_PREFORK=require\n"+command)
		if req.ExitCode != 125 || !strings.Contains(req.Stderr, "the pre-imported interpreter was not used") {
			t.Errorf("%s with the fork server required: %+v, want it refused", command, req)
		}
	}
	// A package installed after the server started is seen: the server is replaced.
	run(t, e, id, "mkdir -p ~/.local/lib/python3.11/site-packages && echo 'x = 42' > ~/.local/lib/python3.11/site-packages/userpkg.py")
	res := run(t, e, id, "python3 -c 'import userpkg; print(userpkg.x)'")
	if res.Stdout != "42\n" {
		t.Errorf("a package installed in the user's site: %+v", res)
	}
	res = runTimeout(t, e, id, "CODEBOX_PYTHON_PREFORK=require python3 -c 'import userpkg; print(userpkg.x)'", 5*time.Minute)
	if res.Stdout != "42\n" {
		t.Errorf("from the new fork server: %+v", res)
	}
}

// TestPreforkLimits: the wall-clock limit ends a forked program with its command, and
// the program lives in the container's memory cgroup.
func TestPreforkLimits(t *testing.T) { sandboxtest.ForEachRuntime(t, testPreforkLimits) }

func testPreforkLimits(t *testing.T, runtime string) {
	e, id := newPreforkEnv(t, runtime)
	res := runTimeout(t, e, id, "CODEBOX_PYTHON_PREFORK=require python3 -c 'import time; print(\"start\", flush=True); time.sleep(120)'", 3*time.Second)
	if !res.TimedOut || res.Stdout != "start\n" {
		t.Errorf("timed out program: %+v", res)
	}
	res = run(t, e, id, "ps -eo args | grep -c '[t]ime.sleep(120)' || true")
	if strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("the timed-out program outlived its command: %q", res.Stdout)
	}
	// 600 MiB in a container of 512: killed by the memory limit, as cold.
	const hog = "python3 -c 'b = bytearray(600 << 20); b[::4096] = b\"x\" * len(b[::4096])'; echo rc=$?"
	cold, forked := bothWays(t, e, id, hog)
	// runc kills the process; gVisor's kernel, the whole container.
	if cold.ExitCode != 0 && !cold.OOMKilled || cold.Stdout != forked.Stdout || cold.ExitCode != forked.ExitCode || cold.OOMKilled != forked.OOMKilled {
		t.Errorf("over the memory limit: cold %+v, forked %+v", cold, forked)
	}
	if !cold.OOMKilled && cold.Stdout != "rc=137\n" {
		t.Errorf("over the memory limit: %+v", cold)
	}
	// The program's death does not take the server's ability to serve the next.
	res = runTimeout(t, e, id, "CODEBOX_PYTHON_PREFORK=require python3 -c 'print(2)'", 5*time.Minute)
	if res.Stdout != "2\n" {
		t.Errorf("after an out-of-memory kill: %+v", res)
	}
}

// TestPreforkSpare: programs start from a spare child the server forked before they
// came; several at once, and one arriving after the spare was killed, still fork.
func TestPreforkSpare(t *testing.T) { sandboxtest.ForEachRuntime(t, testPreforkSpare) }

func testPreforkSpare(t *testing.T, runtime string) {
	e, id := newPreforkEnv(t, runtime)
	const prog = `python3 -c 'import os, sys; print(sys.argv[1], os.getppid() != 1)' `
	cmd := "export CODEBOX_PYTHON_PREFORK=require\n"
	for i := range 5 {
		cmd += fmt.Sprintf("%s%d > out%d &\n", prog, i, i)
	}
	cmd += "wait\ncat out0 out1 out2 out3 out4"
	if res := run(t, e, id, cmd); res.ExitCode != 0 || res.Stdout != "0 True\n1 True\n2 True\n3 True\n4 True\n" {
		t.Errorf("five at once: %+v", res)
	}
	// The newest process of the script is the idle server's spare. (A spare killed
	// just as a program is handed to it takes the program with it, as a program
	// killed at its start: the wait lets the server see the death first.)
	kill := "sleep 0.5; pkill -KILL -n -f '[f]orkserver.py'; sleep 0.5\nexport CODEBOX_PYTHON_PREFORK=require\n" + prog + "after"
	if res := run(t, e, id, kill); res.ExitCode != 0 || res.Stdout != "after True\n" {
		t.Errorf("after the spare was killed: %+v", res)
	}
}

// TestPreforkOff: with the server's setting off, commands find the real python3 and
// nothing of the fork server is in their PATH.
func TestPreforkOff(t *testing.T) {
	e := sandboxtest.New(t, nil)
	c := create(t, e, sandbox.CreateOptions{})
	res := run(t, e, c.ID, `echo "$PATH"; type -P python3; ls /run/codebox-python 2>&1 | head -1`)
	if strings.Contains(res.Stdout, "codebox-python/bin") || !strings.Contains(res.Stdout, "\n/usr/bin/python3\n") {
		t.Errorf("with prefork off: %q", res.Stdout)
	}
}

// TestPreforkSecondDemand: a container's first python3 runs cold and starts no fork
// server (a burst of new containers running python3 once each must not start one
// server per container); the second starts it.
func TestPreforkSecondDemand(t *testing.T) { sandboxtest.ForEachRuntime(t, testPreforkSecondDemand) }

func testPreforkSecondDemand(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Prefork = true })
	c := create(t, e, sandbox.CreateOptions{})
	// The server's start is asynchronous to the python3 that asked; half a second is
	// far more than a fork takes to show in /proc. A server's spare child runs the
	// same script: servers are those whose parent does not.
	const servers = "sleep 0.5; for p in /proc/[0-9]*; do case $(tr '\\0' ' ' < $p/cmdline 2>/dev/null) in *[f]orkserver.py*) " +
		"pp=$(awk '/^PPid/ {print $2}' $p/status); case $(tr '\\0' ' ' < /proc/$pp/cmdline 2>/dev/null) in *[f]orkserver.py*) ;; *) echo server;; esac;; esac; done | grep -c server"
	if res := run(t, e, c.ID, "python3 -c 'print(1)'; "+servers); res.Stdout != "1\n0\n" {
		t.Errorf("after the first python3: %+v, want 1 and no fork server", res)
	}
	if res := run(t, e, c.ID, "python3 -c 'print(2)'; "+servers); res.Stdout != "2\n1\n" {
		t.Errorf("after the second python3: %+v, want 2 and one fork server", res)
	}
}
