package sandbox_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/oci"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func status(t *testing.T, e *sandboxtest.Env, w codebox.WorkspaceID, id string) sandbox.Status {
	t.Helper()
	c, err := e.Manager.Get(context.Background(), w, id)
	if err != nil {
		t.Fatal(err)
	}
	return c.Status
}

// busy runs a command in id that holds it until the returned stop is called, and
// returns once the command has started.
func busy(t *testing.T, e *sandboxtest.Env, id string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Manager.Exec(ctx, ws, id, sandbox.ExecRequest{Command: "echo started; sleep 600", Output: func(string, []byte) {
			select {
			case <-started:
			default:
				close(started)
			}
		}})
	}()
	select {
	case <-started:
	case <-done:
		t.Fatalf("busy command in %s ended before it started", id)
	}
	return func() { cancel(); <-done }
}

// TestRunningCap: past the server's cap of running containers, the least recently
// used idle one is stopped (its files kept); when all are busy, a create is 429 with
// a retry-after, never a start beyond the cap.
func TestRunningCap(t *testing.T) { sandboxtest.ForEachRuntime(t, testRunningCap) }

func testRunningCap(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Capacity.MaxRunning, c.Capacity.MaxRunningPerWorkspace = 2, 2 })
	a := create(t, e, sandbox.CreateOptions{})
	e.Clock.Advance(time.Second)
	b := create(t, e, sandbox.CreateOptions{})
	e.Clock.Advance(time.Second)
	run(t, e, a.ID, "echo kept > f.txt") // a is now used more recently than b
	e.Clock.Advance(time.Second)
	c := create(t, e, sandbox.CreateOptions{})
	if got := status(t, e, ws, b.ID); got != sandbox.StatusStopped {
		t.Errorf("least recently used container is %s, want stopped", got)
	}
	if got := status(t, e, ws, a.ID); got != sandbox.StatusRunning {
		t.Errorf("recently used container is %s, want running", got)
	}
	stopA, stopC := busy(t, e, a.ID), busy(t, e, c.ID)
	_, err := e.Manager.Create(context.Background(), ws, sandbox.CreateOptions{})
	after, ok := errdefs.RetryAfter(err)
	if !errors.Is(err, errdefs.ErrRateLimited) || !ok || after <= 0 || errdefs.Code(err) != "container_limit" {
		t.Errorf("create with every slot busy: %v (retry-after %v), want rate limited with a retry-after", err, after)
	}
	// Restarting the stopped one is a start like any other.
	if _, err := e.Manager.Exec(context.Background(), ws, b.ID, sandbox.ExecRequest{Command: "true"}); !errors.Is(err, errdefs.ErrRateLimited) {
		t.Errorf("restart with every slot busy: %v, want rate limited", err)
	}
	stopA()
	stopC()
	if res := run(t, e, b.ID, "cat /etc/hostname >/dev/null; echo back"); res.Stdout != "back\n" {
		t.Errorf("stopped container's next use = %+v", res)
	}
	if res := run(t, e, a.ID, "cat f.txt"); res.Stdout != "kept\n" {
		t.Errorf("files of a container stopped for room = %+v, want kept", res)
	}
}

// TestWorkspaceRunningCap: one workspace at its cap makes room among its own
// containers, not another workspace's.
func TestWorkspaceRunningCap(t *testing.T) { sandboxtest.ForEachRuntime(t, testWorkspaceRunningCap) }

func testWorkspaceRunningCap(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Capacity.MaxRunning, c.Capacity.MaxRunningPerWorkspace = 4, 1 })
	const other codebox.WorkspaceID = "ws_other"
	o, err := e.Manager.Create(context.Background(), other, sandbox.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Second)
	a := create(t, e, sandbox.CreateOptions{})
	e.Clock.Advance(time.Second)
	b := create(t, e, sandbox.CreateOptions{})
	if got := status(t, e, ws, a.ID); got != sandbox.StatusStopped {
		t.Errorf("workspace's older container is %s, want stopped", got)
	}
	if got := status(t, e, other, o.ID); got != sandbox.StatusRunning {
		t.Errorf("other workspace's older container is %s, want running", got)
	}
	stop := busy(t, e, b.ID)
	defer stop()
	if _, err := e.Manager.Create(context.Background(), ws, sandbox.CreateOptions{}); !errors.Is(err, errdefs.ErrRateLimited) {
		t.Errorf("create with the workspace's slot busy: %v, want rate limited", err)
	}
	if _, err := e.Manager.Create(context.Background(), other, sandbox.CreateOptions{}); err != nil {
		t.Errorf("other workspace's create: %v", err)
	}
}

// cgroupParent names a parent cgroup of the test's own; the runtime's Close removes it.
func cgroupParent() string {
	return "/codebox-test-" + strings.ToLower(ids.New("")[:12])
}

// TestParentCgroupLimits: the containers' parent cgroup bounds them together, so a
// sandbox under its own limit still cannot take memory or tasks the host needs.
func TestParentCgroupLimits(t *testing.T) { sandboxtest.ForEachRuntime(t, testParentCgroupLimits) }

func testParentCgroupLimits(t *testing.T, runtime string) {
	rc := oci.Config{Binary: runtime, CgroupParent: cgroupParent(),
		ParentLimits: oci.ParentLimits{Memory: 300 << 20, PIDs: 200}}
	e := sandboxtest.NewWithRuntimeConfig(t, rc, nil) // each container: 512 MiB, 256 tasks
	c := create(t, e, sandbox.CreateOptions{})
	res := run(t, e, c.ID, `python3 -c 'b = b"x" * (400 << 20); print("allocated")'`)
	if res.ExitCode != 137 || strings.Contains(res.Stdout, "allocated") {
		t.Errorf("400 MiB under a 300 MiB parent = %+v, want killed", res)
	}
	res = run(t, e, c.ID, `python3 -c '
import threading, time
n = 0
try:
    for i in range(230):
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        n += 1
except RuntimeError:
    pass
print(n)
'`)
	n := strings.TrimSpace(res.Stdout)
	if e.RuntimeName == "runsc" {
		// gVisor runs the guest's threads on the sentry's own host tasks: the
		// parent's limit bounds those, and the guest's threads only meet the
		// container's RLIMIT_NPROC (256) inside.
		if n != "230" {
			t.Errorf("230 threads in gVisor under a 200-task parent = %+v, want all started", res)
		}
	} else if n == "230" || n == "" {
		t.Errorf("230 tasks under a 200-task parent = %+v, want forks refused", res)
	}
}

// TestMemoryPressureEvicts: when the containers' working set leaves no room for one
// more container's request, the least recently used idle container is stopped first.
func TestMemoryPressureEvicts(t *testing.T) { sandboxtest.ForEachRuntime(t, testMemoryPressureEvicts) }

func testMemoryPressureEvicts(t *testing.T, runtime string) {
	rc := oci.Config{Binary: runtime, CgroupParent: cgroupParent(),
		ParentLimits: oci.ParentLimits{Memory: 900 << 20}}
	e := sandboxtest.NewWithRuntimeConfig(t, rc, func(c *sandbox.Config) {
		c.Capacity.Memory, c.Capacity.MemoryRequest = 600<<20, 256<<20
	})
	a := create(t, e, sandbox.CreateOptions{})
	if res := python(t, e, a.ID, `held = b"x" * (400 << 20); print("held")`, time.Minute); res.Stdout != "held\n" {
		t.Fatalf("holding 400 MiB: %+v", res)
	}
	e.Clock.Advance(time.Second)
	b := create(t, e, sandbox.CreateOptions{})
	if got := status(t, e, ws, a.ID); got != sandbox.StatusStopped {
		t.Errorf("container holding memory is %s after a create under pressure, want stopped", got)
	}
	if got := status(t, e, ws, b.ID); got != sandbox.StatusRunning {
		t.Errorf("new container is %s, want running", got)
	}
}

func TestDefaultCapacity(t *testing.T) {
	h := sandbox.Host{Memory: 24 << 30, PIDMax: 32768, CPUs: 2}
	c := h.DefaultCapacity(sandbox.Capacity{})
	want := sandbox.Capacity{Memory: 24<<30 - (24<<30)/10, MemoryRequest: 256 << 20, PIDs: 24576, MaxRunning: 86, MaxRunningPerWorkspace: 43}
	if c != want {
		t.Errorf("capacity of a 24 GiB host = %+v, want %+v", c, want)
	}
	if _, err := os.Stat("/proc/meminfo"); err == nil {
		if h, err := sandbox.ReadHost(); err != nil || h.Memory <= 0 || h.PIDMax <= 0 {
			t.Errorf("ReadHost = %+v, %v", h, err)
		}
	}
}
