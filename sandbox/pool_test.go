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
// so that the next burst finds containers ready; without creates it shrinks back.
func TestPoolFollowsDemand(t *testing.T) {
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.PoolSize = 1; c.PoolMax = 3 })
	waitPoolSize(t, e, 1)
	for range 4 {
		create(t, e, sandbox.CreateOptions{})
	}
	waitPoolSize(t, e, 3)
	e.Clock.Advance(2 * time.Minute)
	waitPoolSize(t, e, 1)
}
