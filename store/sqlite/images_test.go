package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func TestContainerImage(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	now := time.Now().UTC()
	for id, img := range map[string]string{"container_a": "geo", "container_b": ""} {
		c := &sandbox.Container{ID: id, Workspace: "ws1", Image: img, Status: sandbox.StatusRunning,
			CreatedAt: now, LastActiveAt: now, IdleExpiresAt: now, ExpiresAt: now}
		if err := db.CreateContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetContainer(ctx, "ws1", id)
		if err != nil || got.Image != img {
			t.Errorf("GetContainer(%s).Image = %q, %v; want %q", id, got.Image, err, img)
		}
	}
}

func TestWorkspaceImages(t *testing.T) {
	sandboxtest.RunWorkspaceImages(t, func(t *testing.T) sandboxtest.WorkspaceImages { return MustOpen(t) })
}
