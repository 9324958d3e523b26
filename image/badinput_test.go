package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/internal/testenv"
)

// TestBuildBadInput: a custom image is made from a copy of its base image, with the
// recipe's extra Debian package and file; and a recipe naming a Debian package that
// does not exist, a wheel whose hash does not match the lock, or a library whose
// check fails stops the build with the package's name and the reason, and the image's
// name keeps its previous build. It builds a small image from deb.debian.org, derives
// the others from it and downloads a small wheel from the Python package index, so it
// runs only with CODEBOX_TEST_BUILD=1, as root.
func TestBuildBadInput(t *testing.T) {
	if os.Getenv("CODEBOX_TEST_BUILD") != "1" {
		testenv.Missing(t, "set CODEBOX_TEST_BUILD=1 to build images from deb.debian.org (root, network, a few minutes)")
	}
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "mmdebstrap")
	testenv.NeedCommand(t, "python3")
	ctx := context.Background()
	dir := t.TempDir()
	base, err := Build(ctx, Options{Dir: dir, Recipe: smallRecipe()})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "marker")
	if err := os.WriteFile(src, []byte("from the recipe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := fileSHA256(src)
	if err != nil {
		t.Fatal(err)
	}
	good := smallRecipe()
	good.Name = "small"
	good.Packages = append(good.Packages, "figlet")
	good.Tools = append(good.Tools, "figlet")
	good.Files = []File{{Src: src, Dest: "/opt/extra/marker", Mode: 0o644, SHA256: sum}}
	img, err := Build(ctx, Options{Dir: dir, Recipe: good, Base: smallRecipe()})
	if err != nil {
		t.Fatal(err)
	}
	if img.Manifest.Base != base.Hash {
		t.Errorf("small's base = %q, want the small image %s it was made from", img.Manifest.Base, base.Hash)
	}
	if !slices.ContainsFunc(img.Manifest.Packages, func(p Package) bool { return p.Name == "figlet" }) {
		t.Errorf("small's packages lack figlet: %v", img.Manifest.Packages)
	}
	for _, f := range []string{"usr/bin/figlet", "opt/extra/marker"} {
		if _, err := os.Lstat(filepath.Join(img.RootFS, f)); err != nil {
			t.Errorf("small: %v", err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(img.RootFS, "etc/resolv.conf")); err != nil || string(b) != noResolver {
		t.Errorf("small's resolv.conf = %q, %v; want %q", b, err, noResolver)
	}
	if lists, _ := filepath.Glob(filepath.Join(img.RootFS, "var/lib/apt/lists/*_*")); len(lists) > 0 {
		t.Errorf("small keeps apt's lists: %v", lists)
	}

	lock := defaultWheels()
	installer := lock[0]
	if installer.Name != installerName {
		t.Fatalf("the lock's first wheel is %s, want the installer", installer)
	}
	badHash := smallRecipe()
	badHash.Name = "small"
	badHash.Wheels = []Wheel{installer, {Name: "pdf2image", Version: "1.17.0", SHA256: strings.Repeat("0", 64)}}
	badHash.Modules = append(badHash.Modules, Module{Name: "pdf2image", Import: "pdf2image", Wheel: "pdf2image"})

	missingPkg := smallRecipe()
	missingPkg.Name = "small"
	missingPkg.Packages = append(missingPkg.Packages, "codebox-no-such-package")

	failingCheck := smallRecipe()
	failingCheck.Name = "small"
	failingCheck.Modules = append(failingCheck.Modules, Module{Name: "json-roundtrip", Import: "json", Package: "python3",
		Check: "assert json.loads('[1]') == [2], 'decoded the wrong list'"})

	for name, c := range map[string]struct {
		r    *Recipe
		want []string
	}{
		"wheel hash":      {badHash, []string{"pdf2image==1.17.0", "hash"}},
		"missing package": {missingPkg, []string{"Debian package codebox-no-such-package", "no such package"}},
		"failing check":   {failingCheck, []string{"json-roundtrip", "decoded the wrong list"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Build(ctx, Options{Dir: dir, Recipe: c.r, Base: smallRecipe()})
			if err == nil {
				t.Fatal("Build() = nil error")
			}
			t.Logf("Build() = %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Build() = %v\nwant it to say %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, c.r.Hash())); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the failed build left an image: %v", err)
			}
			cur, err := Resolve(dir, "small")
			if err != nil || cur.Hash != img.Hash {
				t.Errorf("after the failed build, small = %+v, %v; want the previous build %s", cur, err, img.Hash)
			}
		})
	}
}
