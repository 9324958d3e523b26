package oci

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/internal/testenv"
)

// TestParentLimitsAndRemoval: New gives the parent cgroup its limits, and Close
// removes it with the empty cgroups killed containers left in it.
func TestParentLimitsAndRemoval(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "runc")
	parent := "/codebox-test-" + strings.ToLower(ids.New("")[:12])
	r, err := New(Config{Root: t.TempDir(), CgroupParent: parent, ParentLimits: ParentLimits{Memory: 300 << 20, PIDs: 200}})
	if err != nil {
		t.Fatal(err)
	}
	memFile, pidsFile, dir := "memory.limit_in_bytes", "pids.max", filepath.Join(cgroupRoot, "memory", parent)
	pidsDir := filepath.Join(cgroupRoot, "pids", parent)
	if unifiedCgroups() {
		memFile, dir, pidsDir = "memory.max", filepath.Join(cgroupRoot, parent), filepath.Join(cgroupRoot, parent)
	}
	for _, c := range []struct{ dir, file, want string }{
		{dir, memFile, strconv.Itoa(300 << 20)}, {pidsDir, pidsFile, "200"},
	} {
		if b, err := os.ReadFile(filepath.Join(c.dir, c.file)); err != nil || strings.TrimSpace(string(b)) != c.want {
			t.Errorf("%s = %q, %v; want %s", c.file, b, err, c.want)
		}
	}
	// What a killed container's cgroup looks like once its tasks are gone.
	if err := os.Mkdir(filepath.Join(dir, "container_left"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parent cgroup %s after Close: %v, want removed", dir, err)
	}
}
