package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
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

func TestWorkspaceImage(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	check := func(ws, want string) {
		t.Helper()
		got, err := db.WorkspaceImage(ctx, codebox.WorkspaceID(ws))
		if err != nil || got != want {
			t.Errorf("WorkspaceImage(%s) = %q, %v; want %q", ws, got, err, want)
		}
	}
	check("ws1", "")
	for _, img := range []string{"geo", "ocr"} {
		if err := db.SetWorkspaceImage(ctx, "ws1", img); err != nil {
			t.Fatal(err)
		}
		check("ws1", img)
	}
	check("ws2", "")
	if err := db.SetWorkspaceImage(ctx, "ws1", ""); err != nil {
		t.Fatal(err)
	}
	check("ws1", "")
}
