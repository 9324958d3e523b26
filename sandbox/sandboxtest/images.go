package sandboxtest

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/codebox-dev/codebox/errdefs"
)

// Images is a sandbox.Images of fixed names: each maps to a root filesystem, or to ""
// for an image whose first build is still running.
type Images map[string]string

// RootFS implements sandbox.Images.
func (im Images) RootFS(name string) (string, error) {
	root, ok := im[name]
	switch {
	case !ok:
		return "", errdefs.New(errdefs.ErrInvalid, "", "unknown image %q", name)
	case root == "":
		return "", errdefs.New(errdefs.ErrConflict, "", "image %q is still being built", name)
	}
	return root, nil
}

// DerivedRootFS returns a root filesystem that is base plus files (path in the image →
// content): an overlay mount, removed at cleanup. It needs root.
func DerivedRootFS(t testing.TB, base string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	// Containers run in their own user namespaces: their root is another host user,
	// who must be able to reach the image.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	upper, work, root := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
	for _, d := range []string{upper, work, root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range files {
		full := filepath.Join(upper, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := "lowerdir=" + base + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		t.Fatalf("overlay mount for a derived image: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", root, err)
		}
	})
	return root
}
