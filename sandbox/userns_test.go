package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestAgentImmuneToUserSignals: user code runs as another user than the agent, so no
// signal reaches it (the Go runtime dies of SEGV, ABRT, …; STOP would freeze it).
func TestAgentImmuneToUserSignals(t *testing.T) {
	eachRuntime(t, nil, func(t *testing.T, e *sandboxtest.Env) {
		c := create(t, e, sandbox.CreateOptions{})
		for _, sig := range []string{"SEGV", "ABRT", "ILL", "BUS", "FPE", "TRAP", "SYS", "TERM", "KILL", "USR1", "STOP"} {
			res := run(t, e, c.ID, "kill -"+sig+" 1")
			if res.ExitCode == 0 {
				t.Errorf("kill -%s 1 succeeded", sig)
			}
			if res := runTimeout(t, e, c.ID, "echo alive", 20*time.Second); res.Stdout != "alive\n" {
				t.Fatalf("after kill -%s 1: %+v", sig, res)
			}
		}
		res := run(t, e, c.ID, "id -u; ps -o user= -p 1; grep -E '^Cap(Prm|Eff|Amb):' /proc/self/status")
		if !strings.HasPrefix(res.Stdout, "1000\nroot\n") || strings.Count(res.Stdout, "0000000000000000") != 3 {
			t.Errorf("user code and agent identities:\n%s", res.Stdout)
		}
	})
}

// TestCommandsStartWithDefaultSignals: what the agent does not want to die of, it
// catches rather than ignores, so commands start as from a login shell: Ctrl-C
// interrupts Python and a pipeline's writer dies quietly when its reader is gone.
func TestCommandsStartWithDefaultSignals(t *testing.T) {
	eachRuntime(t, nil, func(t *testing.T, e *sandboxtest.Env) {
		c := create(t, e, sandbox.CreateOptions{})
		res := run(t, e, c.ID, `yes | head -1 >/dev/null; echo "yes=${PIPESTATUS[0]}"; `+
			`CODEBOX_PYTHON_PREFORK=0 python3 -c 'import signal; print(signal.getsignal(signal.SIGINT).__name__, signal.getsignal(signal.SIGHUP))'`)
		want := "yes=141\ndefault_int_handler 0\n"
		if res.Stdout != want || res.ExitCode != 0 {
			t.Errorf("signal dispositions a command starts with:\n%s%s\nwant:\n%s", res.Stdout, res.Stderr, want)
		}
	})
}

// TestContainersShareNoUser: each container's users are host users of their own, so
// the kernel's per-user limits separate containers: one holding every inotify
// instance it may, or pipe buffers past the per-user soft limit, takes nothing from
// another.
func TestContainersShareNoUser(t *testing.T) {
	eachRuntime(t, nil, func(t *testing.T, e *sandboxtest.Env) {
		ctx := context.Background()
		a := create(t, e, sandbox.CreateOptions{})
		b := create(t, e, sandbox.CreateOptions{})
		started := make(chan struct{})
		hog := make(chan *sandbox.ExecResult, 1)
		go func() {
			res, err := e.Manager.ExecStream(ctx, ws, a.ID, sandbox.ExecRequest{Timeout: time.Minute, Command: `python3 -c '
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while n < 200 and libc.inotify_init1(0) >= 0:
    n += 1
pipes = [os.pipe() for _ in range(1500)]  # 1500 x 64 KiB, past pipe-user-pages-soft (64 MiB)
print("holding", n, "inotify instances and", len(pipes), "pipes", flush=True)
time.sleep(30)
'`}, func(stream string, p []byte) {
				if strings.Contains(string(p), "holding") {
					close(started)
				}
			})
			if err != nil {
				t.Error(err)
			}
			hog <- res
		}()
		select {
		case <-started:
		case res := <-hog:
			t.Fatalf("container a: %+v", res)
		}
		res := run(t, e, b.ID, `python3 -c '
import ctypes, fcntl, os
libc = ctypes.CDLL(None, use_errno=True)
print("inotify", "ok" if libc.inotify_init1(0) >= 0 else os.strerror(ctypes.get_errno()))
r, w = os.pipe()
print("pipe", fcntl.fcntl(w, 1032))  # F_GETPIPE_SZ
'`)
		if res.Stdout != "inotify ok\npipe 65536\n" {
			t.Errorf("container b while a holds its limits: %q %q", res.Stdout, res.Stderr)
		}
		e.Manager.Delete(ctx, ws, a.ID) // ends the hog
		<-hog

		// On the host, b's files belong to b's own range: neither root nor a real
		// account, nor another container's.
		c := create(t, e, sandbox.CreateOptions{})
		run(t, e, b.ID, "echo b > mine.txt")
		run(t, e, c.ID, "echo c > mine.txt")
		ub, uc := hostOwner(t, e, b.ID, "mine.txt"), hostOwner(t, e, c.ID, "mine.txt")
		if ub < sandbox.DefaultIDBase || uc < sandbox.DefaultIDBase || ub == uc {
			t.Errorf("host owners of the containers' files: %d and %d, want distinct IDs from %d", ub, uc, sandbox.DefaultIDBase)
		}
	})
}

// hostOwner is the host user owning a file of container id's workspace.
func hostOwner(t *testing.T, e *sandboxtest.Env, id, name string) uint32 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(e.Config.Dir, id, "mnt", "workspace", name), &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid
}

// TestUserRangeSurvivesRestartAndMigrates: a container keeps its range across stops
// and server restarts, and one made before containers had user namespaces (its disk
// owned by host user 1000, no range recorded) gets a range and its files on its next
// start, with everything still working.
func TestUserRangeSurvivesRestartAndMigrates(t *testing.T) {
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.StopOnClose = false })
	ctx := context.Background()
	a := create(t, e, sandbox.CreateOptions{})
	legacy := create(t, e, sandbox.CreateOptions{})
	run(t, e, a.ID, "echo a > a.txt")
	run(t, e, legacy.ID, "mkdir -p sub; echo old > sub/old.txt; echo t > /tmp/t.txt")
	before := hostOwner(t, e, a.ID, "a.txt")
	if err := e.Manager.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// legacy turns into a container of the previous release: stopped, no range, its
	// disk owned by host user 1000.
	if err := e.Runtime.Delete(ctx, legacy.ID); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(e.Config.Dir, legacy.ID)
	if err := os.Remove(filepath.Join(dir, "idmap")); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"workspace", "tmp"} {
		filepath.Walk(filepath.Join(dir, "mnt", sub), func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				err = os.Lchown(p, 1000, 1000)
			}
			return err
		})
	}
	// As under load, when other containers are being set up: a mount namespace
	// cloned meanwhile keeps the disk's filesystem, and these changes, alive after
	// the unmount.
	holdMounts(t)
	if err := syscall.Unmount(filepath.Join(dir, "mnt"), 0); err != nil {
		t.Fatal(err)
	}

	e.Manager = e.Start(t)
	if got := hostOwner(t, e, a.ID, "a.txt"); got != before {
		t.Errorf("after a restart a's files are host user %d, were %d", got, before)
	}
	res := run(t, e, legacy.ID, "cat sub/old.txt /tmp/t.txt && echo new >> sub/old.txt && touch /tmp/new && id -u")
	if res.Stdout != "old\nt\n1000\n" || res.ExitCode != 0 {
		t.Errorf("legacy container after migration: %+v", res)
	}
	ul, ua := hostOwner(t, e, legacy.ID, "sub/old.txt"), hostOwner(t, e, a.ID, "a.txt")
	if ul < sandbox.DefaultIDBase || ul == ua {
		t.Errorf("legacy container's files are host user %d (a's: %d), want a range of its own", ul, ua)
	}
	if _, err := os.Stat(filepath.Join(dir, "idmap")); err != nil {
		t.Errorf("legacy container's range is not recorded: %v", err)
	}
}
