package image

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/internal/testenv"
)

// builtImage returns the image in CODEBOX_TEST_IMAGE_DIR (default
// /var/cache/codebox/images, where `make test` builds it), or stops the test
// (testenv.Missing).
func builtImage(t *testing.T) *Image {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "unshare", "chroot", "mount")
	dir := testenv.ImageDir()
	img, err := Lookup(dir)
	if errors.Is(err, ErrNotBuilt) {
		testenv.Missing(t, "no image for recipe %s in %s (build it with `codebox image build --image-dir %s`)", DefaultRecipe().Hash(), dir, dir)
	}
	if err != nil {
		t.Fatalf("Lookup(%s) = %v", dir, err)
	}
	return img
}

func TestImageManifest(t *testing.T) {
	img := builtImage(t)
	m := img.Manifest
	if m.Hash != DefaultRecipe().Hash() {
		t.Errorf("manifest hash = %s, want %s", m.Hash, DefaultRecipe().Hash())
	}
	if m.Python == "" || m.Python[:5] != "3.11." {
		t.Errorf("manifest Python = %q, want 3.11.x", m.Python)
	}
	if len(m.Modules) != len(DefaultRecipe().Modules) {
		t.Errorf("manifest lists %d modules, want %d", len(m.Modules), len(DefaultRecipe().Modules))
	}
	for _, mod := range m.Modules {
		if mod.Error != "" || mod.Version == "" {
			t.Errorf("module %s: version %q, error %q", mod.Name, mod.Version, mod.Error)
		}
	}
	for _, tool := range m.Tools {
		if tool.Error != "" || tool.Path == "" {
			t.Errorf("tool %s: path %q, error %q", tool.Name, tool.Path, tool.Error)
		}
	}
	if len(m.Missing) > 0 {
		t.Errorf("manifest lists %v as missing, want nothing", m.Missing)
	}
	// Wheels are installed at the locked versions.
	locked := map[string]string{}
	for _, w := range DefaultRecipe().Wheels {
		locked[w.Name] = w.Version
	}
	for _, mod := range m.Modules {
		if mod.Wheel != "" && mod.Version != locked[mod.Wheel] {
			t.Errorf("module %s: version %s, the lock says %s", mod.Name, mod.Version, locked[mod.Wheel])
		}
	}
	for _, p := range []string{"python3", "python3-pandas", "python3-matplotlib", "ripgrep", "libquadmath0", "libgfortran5",
		"unrar", "wkhtmltopdf", "openjdk-17-jre-headless", "python3-cairo"} {
		if _, ok := m.Package(p); !ok {
			t.Errorf("package %s is not installed", p)
		}
	}
	for _, p := range []string{"gcc-12", "g++-12", "python3-pythran", "libboost1.74-dev", "libpython3.11-dev", "libllvm15", "python3-pdfminer"} {
		if v, ok := m.Package(p); ok {
			t.Errorf("package %s %s is installed, want it trimmed", p, v)
		}
	}
}

func TestImageLayout(t *testing.T) {
	img := builtImage(t)
	root := img.RootFS
	checks := []struct {
		path     string
		mode     fs.FileMode // type and permission bits wanted; 0 = exists
		uid, gid uint32
	}{
		{WorkspaceDir, fs.ModeDir | 0o755, UID, GID},
		{AgentDir, fs.ModeDir | 0o755, 0, 0},
		{"/tmp", fs.ModeDir | fs.ModeSticky | 0o777, 0, 0},
		{"/etc/hostname", 0o644, 0, 0},
		{"/etc/matplotlibrc", 0o644, 0, 0},
		{"/usr/local/bin/fd", fs.ModeSymlink | 0o777, 0, 0},
	}
	for _, c := range checks {
		fi, err := os.Lstat(filepath.Join(root, c.path))
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if c.mode != 0 && fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != c.uid || st.Gid != c.gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", c.path, st.Uid, st.Gid, c.uid, c.gid)
		}
	}
	// No file in the image may grant privileges.
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
				t.Errorf("%s is %v", path, fi.Mode())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestImageImports imports every required module inside the image as the sandbox user
// and runs the functional checks, as the build does.
func TestImageImports(t *testing.T) {
	img := builtImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := runVerify(ctx, img.RootFS, DefaultRecipe(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rep.Modules {
		if m.Error != "" {
			t.Errorf("import %s (%s): %s", m.Import, m.Name, m.Error)
		}
	}
	for _, tool := range rep.Tools {
		if tool.Error != "" {
			t.Errorf("tool %s: %s", tool.Name, tool.Error)
		}
	}
	for _, e := range rep.Errors {
		t.Error(e)
	}
}
