package sandbox_test

import (
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// waitPoolSize waits until the pool fills to want and holds want containers.
func waitPoolSize(t *testing.T, e *sandboxtest.Env, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ready, size := e.Manager.PoolReady()
		if ready == want && size == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool: %d ready of %d, want %d", ready, size, want)
		}
		e.Manager.PokePool()
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPoolFollowsDemand: creates faster than the pool's size grow it, up to PoolMax,
// so that the next burst finds containers ready; it keeps that size for PoolHold after
// the burst, then shrinks back.
func TestPoolFollowsDemand(t *testing.T) {
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.PoolSize, c.PoolMax, c.PoolHold = 1, 3, 10*time.Minute })
	waitPoolSize(t, e, 1)
	for range 4 {
		create(t, e, sandbox.CreateOptions{})
	}
	waitPoolSize(t, e, 3)
	// Minutes later, with no create since, the next burst still finds the pool grown.
	e.Clock.Advance(5 * time.Minute)
	e.Manager.PokePool()
	if ready, size := e.Manager.PoolReady(); size != 3 || ready != 3 {
		t.Errorf("5 minutes after a burst of 4: pool %d ready of %d, want 3 of 3", ready, size)
	}
	e.Clock.Advance(6 * time.Minute)
	waitPoolSize(t, e, 1)
}

// TestPoolMaxFollowsWorkspaceCap: with no PoolMax set, the pool grows to any burst one
// workspace can make (its running cap), past 4 × PoolSize.
func TestPoolMaxFollowsWorkspaceCap(t *testing.T) {
	e := sandboxtest.New(t, func(c *sandbox.Config) {
		c.PoolSize, c.PoolMax, c.PoolHold = 1, 0, 10*time.Minute
		c.Capacity.MaxRunning, c.Capacity.MaxRunningPerWorkspace = 16, 6
	})
	waitPoolSize(t, e, 1)
	for range 6 {
		create(t, e, sandbox.CreateOptions{})
	}
	waitPoolSize(t, e, 6)
}

// TestPoolGivesWay: on a full server, a container in use is started by destroying one
// waiting in the pool, not by stopping an idle container someone uses; a pool held at
// a burst's size never costs a user a restart.
func TestPoolGivesWay(t *testing.T) { sandboxtest.ForEachRuntime(t, testPoolGivesWay) }

func testPoolGivesWay(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) {
		c.PoolSize, c.PoolMax = 1, 1
		c.Capacity.MaxRunning, c.Capacity.MaxRunningPerWorkspace = 2, 2
	})
	waitPoolSize(t, e, 1)
	a := create(t, e, sandbox.CreateOptions{})
	waitPoolSize(t, e, 1) // a and the pool's container fill the server
	// A container of another memory limit does not come from the pool.
	b := create(t, e, sandbox.CreateOptions{MemoryLimit: e.Config.Limits.Memory / 2})
	if got := status(t, e, ws, a.ID); got != sandbox.StatusRunning {
		t.Errorf("idle container in use is %s after a create on a full server, want running (the pool's container gives way)", got)
	}
	if res := run(t, e, b.ID, "echo hi"); res.Stdout != "hi\n" {
		t.Errorf("new container: %+v", res)
	}
}

// TestPoolRefillYieldsToCommands: while a command runs, the pool refills one container
// at a time, leaving the other cores to the command; at rest it starts several at once.
func TestPoolRefillYieldsToCommands(t *testing.T) {
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.PoolSize, c.PoolMax = 1, 6 })
	waitPoolSize(t, e, 1)
	var last *sandbox.Container
	for range 6 {
		last = create(t, e, sandbox.CreateOptions{})
	}
	waitPoolSize(t, e, 6)
	stop := busy(t, e, last.ID)
	defer stop()
	for range 6 {
		create(t, e, sandbox.CreateOptions{}) // from the pool, which then refills
	}
	most := 0
	deadline := time.Now().Add(3 * time.Minute)
	for {
		most = max(most, e.Manager.StartsNow())
		if ready, size := e.Manager.PoolReady(); ready == 6 && size == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pool did not refill")
		}
		time.Sleep(time.Millisecond)
	}
	if most > 1 {
		t.Errorf("%d containers started at once while a command ran, want 1", most)
	}
}
