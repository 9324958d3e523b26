package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// injector tries, for a minute, to write into the output of every other process and
// to read its input, the way a process left behind by an earlier command would tamper
// with later results.
const injector = `python3 -c '
import glob, os, time
for _ in range(6000):
    for p in glob.glob("/proc/[0-9]*/fd/[012]"):
        try:
            fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"INJECTED\n")
            os.close(fd)
        except OSError:
            pass
    time.sleep(0.01)
'`

// daemon double-forks into a new session with its stdio on /dev/null and runs argv.
func daemon(argv string) string {
	return `python3 -c 'import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.execvp("` + argv + `".split()[0], "` + argv + `".split())
'`
}

// processes lists the container's processes' command lines, one a line.
func processes(t *testing.T, e *sandboxtest.Env, id string) string {
	t.Helper()
	return run(t, e, id, "ps -eo args= --width 60").Stdout
}

// wantRunning checks that each of alive is in the container's process list and none
// of dead is.
func wantRunning(t *testing.T, e *sandboxtest.Env, id string, alive, dead []string) {
	t.Helper()
	ps := processes(t, e, id)
	for _, p := range alive {
		if !strings.Contains(ps, p) {
			t.Errorf("%q should run:\n%s", p, ps)
		}
	}
	for _, p := range dead {
		if strings.Contains(ps, p) {
			t.Errorf("%q should have been killed:\n%s", p, ps)
		}
	}
}

// TestBackgroundProcesses: a process a command or a cell starts keeps running after it
// once it let go of that command's stdio (its descriptors point to files, /dev/null or
// its own sockets), as with docker exec or ssh; one that still holds the command's
// stdout or stderr pipe is killed when the command ends, however it tried to stay.
// Nothing left running writes into a later command's output.
//
// The fork server is on, so that the background server is one of its children.
func TestBackgroundProcesses(t *testing.T) {
	eachRuntime(t, func(c *sandbox.Config) { c.Prefork = true }, func(t *testing.T, e *sandboxtest.Env) {
		c := create(t, e, sandbox.CreateOptions{})
		res := run(t, e, c.ID, `python3 -m http.server 8000 > /tmp/http.log 2>&1 &
sleep 1001 &
sleep 1002 > /dev/null &
sleep 1003 > /dev/null 2>&1 &
nohup sleep 1004 &
setsid sleep 1005 &
(sleep 1006 &)
setsid sh -c 'sleep 1007 & sleep 1008' &
`+daemon("sleep 1009")+`
setsid `+injector+` </dev/null >/tmp/injector.log 2>&1 &
(sleep 0.5; echo LATE; echo LATE >&2) &
(sleep 0.5; echo LATE >&2) >/dev/null &
echo started`)
		if res.Stdout != "started\n" || res.ExitCode != 0 {
			t.Errorf("starting the background processes = %+v", res)
		}
		// The server answers a later command.
		res = run(t, e, c.ID, `for i in $(seq 100); do
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8000/").status)' 2>/dev/null && exit; sleep 0.1
done; echo unreachable; cat /tmp/http.log`)
		if res.Stdout != "200\n" {
			t.Errorf("the background server from a later command: %+v", res)
		}
		for i := range 3 {
			if res := run(t, e, c.ID, "sleep 0.6; echo clean"); res.Stdout != "clean\n" || res.Stderr != "" {
				t.Errorf("command %d after the background processes: %q %q", i, res.Stdout, res.Stderr)
			}
		}
		wantRunning(t, e, c.ID,
			[]string{"http.server", "sleep 1003", "sleep 1009", "import glob"},
			[]string{"sleep 1001", "sleep 1002", "sleep 1004", "sleep 1005", "sleep 1006", "sleep 1007", "sleep 1008"})

		// A cell's subprocess holding the REPL's output is killed, one with its own
		// output keeps running; the cell's threads do not run between cells.
		python(t, e, c.ID, `import subprocess, threading
subprocess.Popen(["sleep", "1010"])
subprocess.Popen(["sleep", "1011"], stdout=subprocess.DEVNULL)
subprocess.Popen(["sleep", "1012"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.run("sleep 1013 >/dev/null 2>&1 &", shell=True)
def spy():
    import glob, os, time
    while True:
        for p in glob.glob("/proc/[0-9]*/fd/1"):
            try:
                fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK); os.write(fd, b"INJECTED\n"); os.close(fd)
            except OSError:
                pass
        time.sleep(0.01)
threading.Thread(target=spy, daemon=True).start()
`, time.Minute)
		for i := range 3 {
			if res := run(t, e, c.ID, "sleep 0.3; echo clean"); res.Stdout != "clean\n" || res.Stderr != "" {
				t.Errorf("command %d after the cell: %q %q", i, res.Stdout, res.Stderr)
			}
		}
		wantRunning(t, e, c.ID, []string{"sleep 1012", "sleep 1013", "http.server"}, []string{"sleep 1010", "sleep 1011"})
		// The REPL keeps its state: it was only frozen.
		python(t, e, c.ID, "kept = 41", time.Minute)
		if res := python(t, e, c.ID, "print(kept + 1)", time.Minute); res.Stdout != "42\n" {
			t.Errorf("REPL after the commands = %+v", res)
		}

		// A stop ends every process.
		if _, err := e.Manager.Stop(context.Background(), ws, c.ID); err != nil {
			t.Fatal(err)
		}
		wantRunning(t, e, c.ID, nil, []string{"http.server", "sleep 1003", "sleep 1009", "sleep 1012", "import glob"})
	})
}

// TestLimitsEndBackgroundProcesses: a command's wall-clock limit and its cancellation
// kill its whole process tree, background processes that let go of its stdio included.
func TestLimitsEndBackgroundProcesses(t *testing.T) {
	eachRuntime(t, nil, func(t *testing.T, e *sandboxtest.Env) {
		c := create(t, e, sandbox.CreateOptions{})
		tree := func(n int) string {
			return fmt.Sprintf("setsid sleep %d >/dev/null 2>&1 & sleep %d >/dev/null 2>&1 & (sleep %d >/dev/null 2>&1 &); echo start; sleep 100", n, n+1, n+2)
		}
		res := runTimeout(t, e, c.ID, tree(2001), 500*time.Millisecond)
		if !res.TimedOut || res.Stdout != "start\n" {
			t.Errorf("timed out = %+v, want TimedOut with output start", res)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if _, err := e.Manager.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: tree(2011)}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Exec after cancel = %v, want deadline exceeded", err)
		}
		wantRunning(t, e, c.ID, nil, []string{"sleep 2001", "sleep 2002", "sleep 2003", "sleep 2011", "sleep 2012", "sleep 2013"})
	})
}

// TestMemoryLimitEndsBackgroundProcess: a background process that outgrows the
// container's memory is killed, and on runc the rest of the container (its agent, its
// REPL) is not. Under gVisor the sandbox's memory is one host process's: either gVisor
// fails the allocation and the process goes, or the host's OOM killer takes the whole
// sandbox, which starts again on the next use.
func TestMemoryLimitEndsBackgroundProcess(t *testing.T) {
	eachRuntime(t, nil, func(t *testing.T, e *sandboxtest.Env) {
		c := create(t, e, sandbox.CreateOptions{MemoryLimit: 256 << 20})
		python(t, e, c.ID, "x = 41", time.Minute)
		run(t, e, c.ID, `python3 -c '#runaway
import time
open("started", "w").close()
time.sleep(1)
b = []
while True:
    b.append(bytearray(8 << 20)); time.sleep(0.02)
' >/dev/null 2>&1 &`)
		var res *sandbox.ExecResult
		seen, gone := false, false
		for range 300 {
			res, _ = e.Manager.Exec(context.Background(), ws, c.ID, sandbox.ExecRequest{Command: "ps -eo args= --width 60; cat started"})
			if res != nil && res.ExitCode == 0 {
				running := strings.Contains(res.Stdout, "#runaway")
				seen = seen || running
				// Under gVisor the sandbox may go before a listing shows it.
				if gone = (seen || e.RuntimeName == "runsc") && !running; gone {
					break
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !gone {
			t.Fatalf("the runaway process: seen running %v, last listing %+v; want it seen, then killed", seen, res)
		}
		got := python(t, e, c.ID, "print(x + 1)", time.Minute)
		if e.RuntimeName == "runsc" {
			if got.Stdout != "42\n" && !strings.Contains(got.Stderr, "NameError") {
				t.Errorf("REPL after the runaway = %+v, want it kept or started afresh", got)
			}
			return
		}
		if got.Stdout != "42\n" {
			t.Errorf("REPL after the OOM kill = %+v, want its state", got)
		}
	})
}

// counter is a background Python loop that keeps a counter in memory and appends its
// PID and the counter to /tmp/counter each 100 ms.
const counter = `python3 -c '#counter
import os, time
n = 0
while True:
    n += 1
    with open("/tmp/counter", "a") as f:
        f.write(f"{os.getpid()} {n}\n")
    time.sleep(0.1)
' >/dev/null 2>&1 &`

// counted reads /tmp/counter: the PID of its last line and the counters, checking that
// one process wrote them all, counting from 1 without a gap or a restart.
func counted(t *testing.T, e *sandboxtest.Env, id string) (pid, last int) {
	t.Helper()
	res := run(t, e, id, "cat /tmp/counter 2>/dev/null")
	if res.Stdout == "" {
		return 0, 0
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	for i, l := range lines {
		var p, n int
		if _, err := fmt.Sscan(l, &p, &n); err != nil {
			t.Fatalf("line %d of /tmp/counter %q: %v", i+1, l, err)
		}
		if n != i+1 || (pid != 0 && p != pid) {
			t.Fatalf("line %d of /tmp/counter is %q, after PID %d's %d:\n%s", i+1, l, pid, last, res.Stdout)
		}
		pid, last = p, n
	}
	return pid, last
}

// waitCount waits until /tmp/counter counts past n.
func waitCount(t *testing.T, e *sandboxtest.Env, id string, n int) (pid, last int) {
	t.Helper()
	for range 200 {
		if pid, last = counted(t, e, id); last > n {
			return pid, last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/tmp/counter stays at %d", last)
	return
}

// TestIdleCheckpointKeepsBackgroundProcess: on runsc background processes survive an
// idle stop with their memory: the same process counts on from where it was, and a
// server still answers. runc cannot checkpoint (docs/checkpoint.md): there the stop
// ends them, their files kept.
func TestIdleCheckpointKeepsBackgroundProcess(t *testing.T) {
	eachRuntime(t, func(c *sandbox.Config) { c.Idle, c.Checkpoint = time.Minute, true }, func(t *testing.T, e *sandboxtest.Env) {
		c := create(t, e, sandbox.CreateOptions{})
		run(t, e, c.ID, counter+"\npython3 -m http.server 8000 > /tmp/http.log 2>&1 &")
		pid, before := waitCount(t, e, c.ID, 5)
		get := `for i in $(seq 50); do
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8000/").status)' 2>/dev/null && exit; sleep 0.1
done; echo unreachable`
		if res := run(t, e, c.ID, get); res.Stdout != "200\n" {
			t.Fatalf("the background server before the stop: %+v", res)
		}
		idleStop(t, e, c.ID)
		if e.RuntimeName != "runsc" {
			_, stopped := counted(t, e, c.ID)
			time.Sleep(300 * time.Millisecond)
			_, now := counted(t, e, c.ID)
			if alive := strings.Contains(processes(t, e, c.ID), "#counter"); alive || now != stopped || stopped < before {
				t.Errorf("after a plain stop: running %v, counter %d then %d (%d before); want it gone, its file kept", alive, stopped, now, before)
			}
			return
		}
		if res := run(t, e, c.ID, "kill -0 "+strconv.Itoa(pid)+" && echo alive"); res.Stdout != "alive\n" {
			t.Errorf("PID %d after the restore: %+v; want it alive", pid, res)
		}
		if res := run(t, e, c.ID, get); res.Stdout != "200\n" {
			t.Errorf("the background server after the restore: %+v", res)
		}
		// counted fails on a restart from 1 or another PID.
		if p, after := waitCount(t, e, c.ID, before+3); p != pid {
			t.Errorf("counter after the restore written by PID %d (%d), want %d", p, after, pid)
		}
	})
}
