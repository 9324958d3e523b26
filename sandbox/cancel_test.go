package sandbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// A client's cancel while its container's agent starts is reported as the cancel, not
// as the runtime being unavailable, so that it is not logged and answered as overload.
func TestCreateCanceledWhileAgentStarts(t *testing.T) {
	for _, rt := range sandboxtest.Runtimes() {
		t.Run(rt, func(t *testing.T) {
			// An init that never serves the agent's socket: the start waits for it.
			env := sandboxtest.NewWithRuntime(t, rt, func(c *sandbox.Config) {
				c.Agent, c.AgentArgs = "/bin/sleep", []string{"600"}
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() {
				// Cancel once the container runs, while the agent is waited for.
				for ctx.Err() == nil {
					if ids, err := env.Runtime.List(ctx); err == nil && len(ids) > 0 {
						cancel()
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			_, err := env.Manager.Create(ctx, "ws1", sandbox.CreateOptions{})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Create = %v, want context.Canceled in its chain", err)
			}
		})
	}
}
