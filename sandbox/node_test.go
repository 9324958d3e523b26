package sandbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestNodesShareAStore: two nodes on one store each run only their own containers.
// Another node's container is refused as unreachable rather than started here; the
// reconciliation of a node that starts leaves it alone; once moved to this node
// (adopted), its disk is fetched before its first start and its files are there.
func TestNodesShareAStore(t *testing.T) {
	disks := sandboxtest.NewDisks(t)
	a := sandboxtest.New(t, func(c *sandbox.Config) { c.Node = "node-a"; c.Disks = disks })
	ctx := context.Background()
	c := create(t, a, sandbox.CreateOptions{})
	if c.Node != "node-a" {
		t.Fatalf("Create: Node = %q, want node-a", c.Node)
	}
	if got, err := a.Store.GetContainer(ctx, ws, c.ID); err != nil || got.Node != "node-a" {
		t.Fatalf("stored container = %+v, %v; want it on node-a", got, err)
	}
	run(t, a, c.ID, "echo kept > notes.txt")

	b := sandboxtest.New(t, func(cfg *sandbox.Config) { cfg.Node = "node-b"; cfg.Disks = disks })
	b.Store = a.Store
	mb := b.Start(t) // reconciles against the shared store
	if got, _ := a.Store.GetContainer(ctx, ws, c.ID); got.Status != sandbox.StatusRunning {
		t.Errorf("node-b's start changed node-a's running container to %s", got.Status)
	}
	_, err := mb.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "true"})
	if !errors.Is(err, errdefs.ErrUnreachable) || errdefs.Code(err) != errdefs.CodeContainerUnavailable {
		t.Fatalf("Exec on node-b = %v, want unreachable (container_unavailable)", err)
	}
	if running, _ := mb.Load(); running != 0 {
		t.Errorf("node-b Load running = %d, want 0", running)
	}
	if running, capacity := a.Manager.Load(); running != 1 || capacity < 1 {
		t.Errorf("node-a Load = %d/%d, want 1 running", running, capacity)
	}

	if err := a.Store.MoveContainer(ctx, c.ID, "node-a", "node-b"); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("moving a running container = %v, want conflict", err)
	}
	if _, err := a.Manager.Stop(ctx, ws, c.ID); err != nil {
		t.Fatal(err)
	}
	sandboxtest.WaitArchived(t, a.Store, ws, c.ID, 1)
	if err := a.Store.MoveContainer(ctx, c.ID, "node-a", "node-b"); err != nil {
		t.Fatal(err)
	}
	res, err := mb.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "cat notes.txt"})
	if err != nil || res.Stdout != "kept\n" {
		t.Fatalf("Exec on node-b after the move = %+v, %v; want the file written on node-a", res, err)
	}
	if n := disks.Fetches.Load(); n != 1 {
		t.Errorf("disk fetched %d times, want once", n)
	}
}

// TestAdoptedWithoutSavedDisk: a container moved to a node that cannot fetch its disk
// is unreachable there, never started with an empty workspace.
func TestAdoptedWithoutSavedDisk(t *testing.T) {
	a := sandboxtest.New(t, func(c *sandbox.Config) { c.Node = "node-a" })
	ctx := context.Background()
	c := create(t, a, sandbox.CreateOptions{})
	if _, err := a.Manager.Stop(ctx, ws, c.ID); err != nil {
		t.Fatal(err)
	}
	b := sandboxtest.New(t, func(cfg *sandbox.Config) { cfg.Node = "node-b" })
	b.Store = a.Store
	mb := b.Start(t)
	if err := a.Store.MoveContainer(ctx, c.ID, "node-a", "node-b"); err != nil {
		t.Fatal(err)
	}
	_, err := mb.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "true"})
	if !errors.Is(err, errdefs.ErrUnreachable) {
		t.Fatalf("Exec = %v, want unreachable", err)
	}
}
