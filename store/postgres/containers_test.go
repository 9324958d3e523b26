package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func TestContainerStore(t *testing.T) {
	sandboxtest.RunStore(t, func(t *testing.T) sandbox.Store { return MustOpen(t) })
}

// TestMoveContainer: of nodes adopting one stopped container at once, one wins and the
// container is on its node; a running container or one of another node does not move.
func TestMoveContainer(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	for _, c := range []*sandbox.Container{
		{ID: "container_s", Workspace: "ws", Node: "node-a", Status: sandbox.StatusStopped},
		{ID: "container_r", Workspace: "ws", Node: "node-a", Status: sandbox.StatusRunning},
	} {
		c.CreatedAt, c.LastActiveAt, c.IdleExpiresAt, c.ExpiresAt = now, now, now, now.Add(time.Hour)
		if err := db.CreateContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	adopters := []string{"node-b", "node-c", "node-d"}
	errs := make([]error, len(adopters))
	var wg sync.WaitGroup
	for i, to := range adopters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.MoveContainer(ctx, "container_s", "node-a", to)
		}()
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil && winner == "":
			winner = adopters[i]
		case !errors.Is(err, errdefs.ErrConflict):
			t.Errorf("move to %s: %v; want one success and conflicts", adopters[i], err)
		}
	}
	if c, err := db.GetContainer(ctx, "ws", "container_s"); err != nil || winner == "" || c.Node != winner {
		t.Fatalf("after the moves: %+v, %v; want it on %q", c, err, winner)
	}
	if err := db.MoveContainer(ctx, "container_r", "node-a", "node-b"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("move of a running container: %v, want conflict", err)
	}
	if err := db.MoveContainer(ctx, "container_none", "node-a", "node-b"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("move of an unknown container: %v, want not found", err)
	}
}
