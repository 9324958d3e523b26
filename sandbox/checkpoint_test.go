package sandbox_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/oci"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// idleStop makes the container idle and runs the sweeper, which stops it.
func idleStop(t testing.TB, e *sandboxtest.Env, id string) {
	t.Helper()
	e.Clock.Advance(2 * time.Minute)
	e.Manager.SweepOnce(context.Background())
	if got, err := e.Manager.Get(context.Background(), ws, id); err != nil || got.Status != sandbox.StatusStopped {
		t.Fatalf("after idle: %+v, %v; want stopped", got, err)
	}
}

// memoryCgroup is the host directory of the container's memory cgroup (cgroup v1).
func memoryCgroup(e *sandboxtest.Env, id string) string {
	return filepath.Join("/sys/fs/cgroup/memory", e.Runtime.CgroupOf(id))
}

// TestIdleCheckpointKeepsMemory: the REPL's state (variables, imported modules, open
// files) survives an idle stop, during which the container holds no memory
// (background processes: TestIdleCheckpointKeepsBackgroundProcess). runc cannot
// checkpoint (docs/checkpoint.md): there the container starts afresh, its files kept.
func TestIdleCheckpointKeepsMemory(t *testing.T) {
	sandboxtest.ForEachRuntime(t, testIdleCheckpointKeepsMemory)
}

func testIdleCheckpointKeepsMemory(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) {
		c.Idle = time.Minute
		c.Checkpoint = true
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := create(t, e, sandbox.CreateOptions{})
	python(t, e, c.ID, "import json; x = 41; f = open('held.txt', 'w')", 0)
	run(t, e, c.ID, "echo kept > w.txt")
	if _, err := os.Stat(memoryCgroup(e, c.ID)); err != nil {
		t.Fatalf("memory cgroup of the running container: %v", err)
	}
	idleStop(t, e, c.ID)
	if _, err := os.Stat(memoryCgroup(e, c.ID)); !os.IsNotExist(err) {
		t.Errorf("memory cgroup of the stopped container: %v; want it gone", err)
	}
	res := python(t, e, c.ID, "f.write('held'); f.close(); print(json.dumps(x + 1))", 0)
	files := run(t, e, c.ID, "cat w.txt held.txt")
	if runtime != "runsc" {
		if !strings.Contains(res.Stderr, "NameError") || files.Stdout != "kept\n" {
			t.Errorf("after a plain stop: python %+v, files %+v; want a fresh REPL and the files", res, files)
		}
		return
	}
	if res.Stdout != "42\n" || files.Stdout != "kept\nheld" {
		t.Errorf("after restore: python %+v, files %+v; want the REPL's state and the files", res, files)
	}
	// Restored once, it checkpoints and restores again.
	python(t, e, c.ID, "x = 99", 0)
	idleStop(t, e, c.ID)
	if res := python(t, e, c.ID, "print(x)", 0); res.Stdout != "99\n" {
		t.Errorf("after a second restore: %+v", res)
	}
}

// TestRestoreKeepsBigFrame: a REPL holding a frame of ~100 MiB reads every byte of it
// back right after a restore. runsc returns from the restore while the memory pages
// are still being loaded (oci.Runtime.Restore, --background): a page the first cell
// touches before it arrives must wait for it, never read as missing or zero.
func TestRestoreKeepsBigFrame(t *testing.T) {
	sandboxtest.Require(t, "runsc")
	e := sandboxtest.NewWithRuntime(t, "runsc", func(c *sandbox.Config) { c.Idle = time.Minute; c.Checkpoint = true })
	c := create(t, e, sandbox.CreateOptions{})
	const digest = "import hashlib; print(hashlib.sha256(df.to_numpy().tobytes()).hexdigest(), len(df))"
	before := python(t, e, c.ID, "import numpy as np, pandas as pd\n"+
		"df = pd.DataFrame(np.random.default_rng(7).random((3_000_000, 4)), columns=list('abcd'))\n"+digest, 0)
	if len(before.Stdout) < 64 {
		t.Fatalf("before the stop: %+v", before)
	}
	idleStop(t, e, c.ID)
	if size, err := sandbox.DirSize(filepath.Join(e.Config.Dir, c.ID, "checkpoint")); err != nil || size < 96<<20 {
		t.Fatalf("checkpoint: %d bytes, %v; want the frame in it", size, err)
	}
	if after := python(t, e, c.ID, digest, 0); after.Stdout != before.Stdout {
		t.Errorf("after restore: %+v; want %q", after, before.Stdout)
	}
}

// TestRestoreFailureStartsAfresh: a checkpoint that cannot be restored (here
// corrupted) is dropped, and the container starts cold with its files.
func TestRestoreFailureStartsAfresh(t *testing.T) {
	sandboxtest.Require(t, "runsc")
	e := sandboxtest.NewWithRuntime(t, "runsc", func(c *sandbox.Config) { c.Idle = time.Minute; c.Checkpoint = true })
	c := create(t, e, sandbox.CreateOptions{})
	python(t, e, c.ID, "x = 41", 0)
	run(t, e, c.ID, "echo kept > w.txt")
	idleStop(t, e, c.ID)
	dir := filepath.Join(e.Config.Dir, c.ID, "checkpoint")
	if err := os.WriteFile(filepath.Join(dir, "checkpoint.img"), []byte("not a checkpoint"), 0o600); err != nil {
		t.Fatalf("corrupting the checkpoint: %v", err)
	}
	if res := python(t, e, c.ID, "print(x)", 0); !strings.Contains(res.Stderr, "NameError") {
		t.Errorf("after a failed restore: %+v; want a fresh REPL", res)
	}
	if res := run(t, e, c.ID, "cat w.txt"); res.Stdout != "kept\n" {
		t.Errorf("after a failed restore: %+v; want the files", res)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("checkpoint after a failed restore: %v; want it removed", err)
	}
}

// TestIdleStopWithNetworkNoCheckpoint: a container with network access cannot be
// checkpointed (its proxy's host socket cannot be saved): it is stopped plainly, keeps
// its files, and works again on its next use.
func TestIdleStopWithNetworkNoCheckpoint(t *testing.T) {
	sandboxtest.Require(t, "runsc")
	x, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := sandboxtest.NewWithRuntime(t, "runsc", func(c *sandbox.Config) { c.Idle = time.Minute; c.Checkpoint = true; c.Egress = x })
	c := create(t, e, sandbox.CreateOptions{NetworkPolicy: egress.Policy{AllowedDomains: []string{"a.test"}}})
	python(t, e, c.ID, "x = 41", 0)
	run(t, e, c.ID, "echo kept > w.txt")
	idleStop(t, e, c.ID)
	if _, err := os.Stat(filepath.Join(e.Config.Dir, c.ID, "checkpoint")); !os.IsNotExist(err) {
		t.Errorf("checkpoint of a container with network access: %v; want none", err)
	}
	if res := python(t, e, c.ID, "print(x)", 0); !strings.Contains(res.Stderr, "NameError") {
		t.Errorf("after the stop: %+v; want a fresh REPL", res)
	}
	if res := run(t, e, c.ID, "cat w.txt"); res.Stdout != "kept\n" {
		t.Errorf("after the stop: %+v; want the files", res)
	}
}

// TestSuspendKeepsMemory: Suspend stops a container as its idle time would, so on runsc
// the REPL's state survives it, while Stop starts the REPL afresh.
func TestSuspendKeepsMemory(t *testing.T) {
	sandboxtest.Require(t, "runsc")
	e := sandboxtest.NewWithRuntime(t, "runsc", func(c *sandbox.Config) { c.Checkpoint = true })
	ctx := context.Background()
	c := create(t, e, sandbox.CreateOptions{})
	python(t, e, c.ID, "x = 41", 0)
	got, err := e.Manager.Suspend(ctx, ws, c.ID)
	if err != nil || got.Status != sandbox.StatusStopped {
		t.Fatalf("suspend: %+v, %v; want stopped", got, err)
	}
	if _, err := os.Stat(filepath.Join(e.Config.Dir, c.ID, "checkpoint")); err != nil {
		t.Errorf("checkpoint of a suspended container: %v", err)
	}
	if res := python(t, e, c.ID, "print(x + 1)", 0); res.Stdout != "42\n" {
		t.Errorf("after suspend: %+v; want the REPL's state", res)
	}
	if _, err := e.Manager.Stop(ctx, ws, c.ID); err != nil {
		t.Fatal(err)
	}
	if res := python(t, e, c.ID, "print(x)", 0); !strings.Contains(res.Stderr, "NameError") {
		t.Errorf("after stop: %+v; want a fresh REPL", res)
	}
}

// TestRunscSeccompPrecompiled: the installed runsc carries the sentry's seccomp program
// precompiled for the flags codebox runs it with (scripts/install-runsc.sh), so neither
// a start nor a restore spends ~40 ms compiling it. A change of flags that no
// precompiled program covers fails here rather than slowing every start silently.
func TestRunscSeccompPrecompiled(t *testing.T) {
	sandboxtest.Require(t, "runsc")
	logs := t.TempDir()
	rc := oci.Config{Binary: "runsc", Args: []string{"--debug", "--debug-log=" + logs + "/%COMMAND%.log"}}
	e := sandboxtest.NewWithRuntimeConfig(t, rc, func(c *sandbox.Config) { c.Idle = time.Minute; c.Checkpoint = true })
	c := create(t, e, sandbox.CreateOptions{})
	python(t, e, c.ID, "x = 41", 0)
	idleStop(t, e, c.ID)
	if res := python(t, e, c.ID, "print(x + 1)", 0); res.Stdout != "42\n" {
		t.Fatalf("after restore: %+v", res)
	}
	// The log of each sandbox (its start, then its restore) goes to boot.log, appended.
	boot, err := os.ReadFile(filepath.Join(logs, "boot.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(boot), "Loaded precompiled seccomp instructions"); n != 2 {
		i := strings.Index(string(boot), "No precompiled program found")
		t.Errorf("runsc boots with a precompiled seccomp program: %d of 2; %.300s", n, string(boot[max(i, 0):]))
	}
}
