package oci

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/codebox-dev/codebox/sandbox/agent"
)

// A freshly built image has none of the agent's mount points; gVisor cannot make them
// itself, so Start makes them in the shared root.
func TestEnsureMountpoints(t *testing.T) {
	root := t.TempDir()
	for range 2 { // idempotent
		if err := ensureMountpoints(root); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		path string
		dir  bool
	}{{"workspace", true}, {"tmp", true}, {"run", true}, {agent.SocketDir, true}, {AgentPath, false}} {
		fi, err := os.Lstat(filepath.Join(root, c.path))
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if fi.IsDir() != c.dir || (!c.dir && !fi.Mode().IsRegular()) {
			t.Errorf("%s: mode %v, want a directory: %v", c.path, fi.Mode(), c.dir)
		}
	}
}
