package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestSymlinkedRootFS gives the Manager its root filesystem through a symlink, which
// runc refuses as such: containers must start all the same, and Check must pass.
func TestSymlinkedRootFS(t *testing.T) { sandboxtest.ForEachRuntime(t, testSymlinkedRootFS) }

func testSymlinkedRootFS(t *testing.T, runtime string) {
	link := filepath.Join(t.TempDir(), "rootfs")
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) {
		if err := os.Symlink(c.RootFS, link); err != nil {
			t.Fatal(err)
		}
		c.RootFS = link
	})
	if err := e.Manager.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	c := create(t, e, sandbox.CreateOptions{})
	if res := run(t, e, c.ID, "echo ok"); res.Stdout != "ok\n" {
		t.Fatalf("exec = %+v", res)
	}
	if st := e.Manager.Stats(); st.Containers[sandbox.StatusRunning] != 1 {
		t.Errorf("Check left containers behind or lost one: %+v", st)
	}
}
