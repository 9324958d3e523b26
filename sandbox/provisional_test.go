package sandbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func provisional(t *testing.T, e *sandboxtest.Env) *sandbox.Container {
	t.Helper()
	c, err := e.Manager.Create(context.Background(), ws, sandbox.CreateOptions{Provisional: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func gone(t *testing.T, e *sandboxtest.Env, m *sandbox.Manager, id string) {
	t.Helper()
	if _, err := m.Get(context.Background(), ws, id); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unconfirmed container %s: Get = %v, want not found", id, err)
	}
	if _, err := os.Stat(filepath.Join(e.Config.Dir, id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unconfirmed container %s: its directory is still there (%v)", id, err)
	}
}

// TestProvisionalReclaimedAtStart: a container whose request never answered (the
// server stopped first) does not outlive the next start; confirmed ones do.
func TestProvisionalReclaimedAtStart(t *testing.T) {
	sandboxtest.ForEachRuntime(t, testProvisionalReclaimedAtStart)
}

func testProvisionalReclaimedAtStart(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.StopOnClose = false })
	ctx := context.Background()
	p := provisional(t, e)
	q := provisional(t, e)
	if err := e.Manager.Confirm(ctx, ws, q.ID); err != nil {
		t.Fatal(err)
	}
	plain := create(t, e, sandbox.CreateOptions{})
	run(t, e, q.ID, "echo kept > f")
	if err := e.Manager.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m := e.Start(t)
	e.Manager = m
	gone(t, e, m, p.ID)
	if res := run(t, e, q.ID, "cat f"); res.Stdout != "kept\n" {
		t.Errorf("confirmed container after the restart = %+v", res)
	}
	if _, err := m.Get(ctx, ws, plain.ID); err != nil {
		t.Errorf("container created without a request: %v", err)
	}
}

// TestProvisionalGrace: an unconfirmed container unused for the grace period is
// reclaimed by the sweeper while the server runs.
func TestProvisionalGrace(t *testing.T) { sandboxtest.ForEachRuntime(t, testProvisionalGrace) }

func testProvisionalGrace(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	p := provisional(t, e)
	q := provisional(t, e)
	if err := e.Manager.Confirm(context.Background(), ws, q.ID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(sandbox.DefaultProvisionalGrace / 2)
	e.Manager.SweepOnce(context.Background())
	if _, err := e.Manager.Get(context.Background(), ws, p.ID); err != nil {
		t.Fatalf("unconfirmed container within its grace: %v", err)
	}
	e.Clock.Advance(sandbox.DefaultProvisionalGrace)
	e.Manager.SweepOnce(context.Background())
	gone(t, e, e.Manager, p.ID)
	if _, err := e.Manager.Get(context.Background(), ws, q.ID); err != nil {
		t.Errorf("confirmed container after the grace: %v", err)
	}
}
