package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func TestContainerStore(t *testing.T) {
	sandboxtest.RunStore(t, func(t *testing.T) sandbox.Store { return MustOpen(t) })
}

// TestConcurrentContainerCreates: creates arriving together are committed together; a
// refused one (a duplicate ID) fails alone and the others are all recorded.
func TestConcurrentContainerCreates(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	record := func(id string) *sandbox.Container {
		return &sandbox.Container{ID: id, Workspace: codebox.DefaultWorkspace, Status: sandbox.StatusRunning,
			CreatedAt: now, LastActiveAt: now, IdleExpiresAt: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	}
	if err := db.CreateContainer(ctx, record("container_dup")); err != nil {
		t.Fatal(err)
	}
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("container_%02d", i)
			if i == n/2 {
				id = "container_dup"
			}
			errs[i] = db.CreateContainer(ctx, record(id))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == n/2 {
			if !errors.Is(err, errdefs.ErrConflict) {
				t.Errorf("duplicate create: %v, want a conflict", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("create %d: %v", i, err)
			continue
		}
		if _, err := db.GetContainer(ctx, codebox.DefaultWorkspace, fmt.Sprintf("container_%02d", i)); err != nil {
			t.Errorf("container %d after the burst: %v", i, err)
		}
	}
}
