package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/internal/testenv"
)

// smallRecipe is a quick image to build: Python without libraries.
func smallRecipe() *Recipe {
	r := DefaultRecipe()
	r.Packages = []string{"python3"}
	r.Modules = []Module{{Name: "json", Import: "json", Package: "python3"}}
	r.Tools = []string{"bash", "python3"}
	r.Wheels = nil
	r.Missing = nil
	r.Hostname = "codebox-test"
	return r
}

// cancelOnMilestone cancels a build once mmdebstrap reports its first milestone
// ("I: ..."), that is, while it runs.
type cancelOnMilestone struct {
	cancel context.CancelFunc
	seen   strings.Builder
}

func (c *cancelOnMilestone) Write(b []byte) (int, error) {
	c.seen.Write(b)
	if strings.Contains(c.seen.String(), " I: ") {
		c.cancel()
	}
	return len(b), nil
}

// TestBuild builds a small image end to end. It downloads from deb.debian.org and
// takes a minute or two, so it runs only with CODEBOX_TEST_BUILD=1 (which `make
// test`, and so CI, sets), as root.
func TestBuild(t *testing.T) {
	if os.Getenv("CODEBOX_TEST_BUILD") != "1" {
		testenv.Missing(t, "set CODEBOX_TEST_BUILD=1 to build an image from deb.debian.org (root, network, a minute or two)")
	}
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "mmdebstrap")
	dir := t.TempDir()
	r := smallRecipe()

	// Cancelled while mmdebstrap runs: nothing is left behind, in particular no mount.
	ctx, cancel := context.WithCancel(context.Background())
	stop := &cancelOnMilestone{cancel: cancel}
	_, err := Build(ctx, Options{Dir: dir, Recipe: r, Progress: stop})
	cancel()
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Build() cancelled during bootstrap = %v, want context.Canceled\n%s", err, stop.seen.String())
	}
	if _, err := os.Stat(filepath.Join(dir, r.Hash()+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after a cancelled build, the .tmp directory: %v, want it removed", err)
	}
	if mounts, _ := mountsUnder(dir); len(mounts) > 0 {
		t.Errorf("after a cancelled build, mounts remain: %v", mounts)
	}

	var progress strings.Builder
	img, err := Build(context.Background(), Options{Dir: dir, Recipe: r, Progress: &progress})
	if err != nil {
		t.Fatalf("Build() = %v\n%s", err, progress.String())
	}
	for _, stage := range []string{"bootstrap", "trim", "setup", "compile", "harden", "verify", "done"} {
		if !strings.Contains(progress.String(), "] "+stage) {
			t.Errorf("progress lacks stage %s:\n%s", stage, progress.String())
		}
	}
	if img.Hash != r.Hash() || img.RootFS != filepath.Join(dir, r.Hash(), "rootfs") {
		t.Errorf("Build() = %+v, want hash %s under %s", img, r.Hash(), dir)
	}
	if b, err := os.ReadFile(filepath.Join(img.RootFS, "etc/hostname")); err != nil || string(b) != "codebox-test\n" {
		t.Errorf("/etc/hostname = %q, %v", b, err)
	}
	if img.Manifest.Python == "" || len(img.Manifest.Packages) < 50 || img.Manifest.SizeBytes <= 0 {
		t.Errorf("manifest = python %q, %d packages, %d bytes", img.Manifest.Python, len(img.Manifest.Packages), img.Manifest.SizeBytes)
	}
	if _, err := os.Stat(filepath.Join(dir, r.Hash()+".failed.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the log of the cancelled build survived a successful one: %v", err)
	}

	// Built once, then reused.
	again, err := Build(context.Background(), Options{Dir: dir, Recipe: r})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Manifest.BuiltAt.Equal(img.Manifest.BuiltAt) {
		t.Errorf("second Build() rebuilt the image (built at %v, then %v)", img.Manifest.BuiltAt, again.Manifest.BuiltAt)
	}
	found, err := LookupRecipe(dir, r)
	if err != nil || found.Hash != img.Hash {
		t.Errorf("LookupRecipe() = %+v, %v", found, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 { // .lock and the image
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("image directory holds %v, want only .lock and %s", names, r.Hash())
	}
}
