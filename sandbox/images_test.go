package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestCustomImages: a container runs the image it asks for, else its workspace's
// default image, else the built-in one; it records the image; unknown and unfinished
// images are refused before anything starts; and a custom image has no network
// either.
func TestCustomImages(t *testing.T) { sandboxtest.ForEachRuntime(t, testCustomImages) }

func testCustomImages(t *testing.T, runtime string) {
	marked := sandboxtest.DerivedRootFS(t, sandboxtest.RootFS(t), map[string]string{"etc/codebox-image": "marked\n"})
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) {
		c.Images = sandboxtest.Images{"marked": marked, "building": ""}
		c.PoolSize = 1
	})
	ctx := context.Background()
	imageOf := func(c *sandbox.Container) string {
		t.Helper()
		stored, err := e.Store.GetContainer(ctx, ws, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Image != c.Image {
			t.Errorf("stored image %q, Create returned %q", stored.Image, c.Image)
		}
		res := run(t, e, c.ID, "cat /etc/codebox-image 2>/dev/null || echo built-in")
		return strings.TrimSpace(res.Stdout)
	}

	c := create(t, e, sandbox.CreateOptions{Image: "marked"})
	if got := imageOf(c); got != "marked" || c.Image != "marked" {
		t.Errorf("Create(image marked) runs %q, records %q", got, c.Image)
	}
	res := python(t, e, c.ID, "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n    print('connected')\nexcept OSError as e:\n    print('no network:', e)", 0)
	if !strings.HasPrefix(res.Stdout, "no network") {
		t.Errorf("a custom image's container reached the network: %+v", res)
	}
	if got := imageOf(create(t, e, sandbox.CreateOptions{})); got != "built-in" {
		t.Errorf("Create() runs %q, want the built-in image", got)
	}

	e.Store.SetWorkspaceImage(ws, "marked")
	if got := imageOf(create(t, e, sandbox.CreateOptions{})); got != "marked" {
		t.Errorf("Create() with workspace default marked runs %q", got)
	}
	if c := create(t, e, sandbox.CreateOptions{Image: sandbox.DefaultImage}); imageOf(c) != "built-in" || c.Image != "" {
		t.Errorf("Create(image default) runs another image, records %q", c.Image)
	}

	for name, kind := range map[string]error{"nope": errdefs.ErrInvalid, "building": errdefs.ErrConflict} {
		_, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{Image: name})
		var pub *errdefs.Public
		if !errors.Is(err, kind) || !errors.As(err, &pub) || !strings.Contains(pub.Message, `"`+name+`"`) {
			t.Errorf("Create(image %s) = %v, want %v naming it", name, err, kind)
		}
	}
	e.Store.SetWorkspaceImage(ws, "gone")
	if _, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Create() with an unknown workspace default = %v, want invalid", err)
	}
}
