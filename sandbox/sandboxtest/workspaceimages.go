package sandboxtest

import (
	"context"
	"testing"

	"github.com/codebox-dev/codebox"
)

// WorkspaceImages is the store of the image each workspace's new containers get.
type WorkspaceImages interface {
	WorkspaceImage(ctx context.Context, ws codebox.WorkspaceID) (string, error)
	SetWorkspaceImage(ctx context.Context, ws codebox.WorkspaceID, image string) error
}

// RunWorkspaceImages is the conformance suite of WorkspaceImages, run by every metadata
// driver against a fresh store made by newStore.
func RunWorkspaceImages(t *testing.T, newStore func(t *testing.T) WorkspaceImages) {
	s := newStore(t)
	ctx := context.Background()
	check := func(ws, want string) {
		t.Helper()
		got, err := s.WorkspaceImage(ctx, codebox.WorkspaceID(ws))
		if err != nil || got != want {
			t.Errorf("WorkspaceImage(%s) = %q, %v; want %q", ws, got, err, want)
		}
	}
	check("ws1", "")
	for _, img := range []string{"geo", "ocr"} {
		if err := s.SetWorkspaceImage(ctx, "ws1", img); err != nil {
			t.Fatal(err)
		}
		check("ws1", img)
	}
	check("ws2", "")
	if err := s.SetWorkspaceImage(ctx, "ws1", ""); err != nil {
		t.Fatal(err)
	}
	check("ws1", "")
	if err := s.SetWorkspaceImage(ctx, "ws1", ""); err != nil {
		t.Fatalf("SetWorkspaceImage of \"\" twice = %v", err)
	}
}
