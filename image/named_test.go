package image

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
)

// fakeImage writes an image directory for r into dir, as a build would leave it.
func fakeImage(t *testing.T, dir string, r *Recipe) string {
	t.Helper()
	imgDir := filepath.Join(dir, r.Hash())
	if err := os.MkdirAll(filepath.Join(imgDir, "rootfs/usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(imgDir, "rootfs/usr/bin/python3"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteManifest(imgDir, &Manifest{Hash: r.Hash(), Recipe: r}); err != nil {
		t.Fatal(err)
	}
	return imgDir
}

func customRecipe(name, pkg string) *Recipe {
	r := DefaultRecipe()
	r.Name = name
	r.Packages = append(r.Packages, pkg)
	return r
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	wantErr := func(name string, kind error) {
		t.Helper()
		_, err := Resolve(dir, name)
		var pub *errdefs.Public
		if !errors.Is(err, kind) || !errors.As(err, &pub) || !strings.Contains(pub.Message, `"`+name+`"`) {
			t.Errorf("Resolve(%s) = %v, want %v naming it", name, err, kind)
		}
	}
	wantHash := func(name, hash string) {
		t.Helper()
		img, err := Resolve(dir, name)
		if err != nil || img.Hash != hash || img.RootFS != filepath.Join(dir, hash, "rootfs") {
			t.Errorf("Resolve(%s) = %+v, %v; want hash %s", name, img, err, hash)
		}
	}
	wantErr("geo", errdefs.ErrInvalid)
	wantErr("../etc", errdefs.ErrInvalid)

	// First build: "still being built" until it is published; a half-built directory
	// is never returned.
	v1 := customRecipe("geo", "gdal-bin")
	done, err := markBuilding(dir, "geo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := markBuilding(dir, "geo"); err == nil {
		t.Error("a second build of the same name started")
	}
	os.MkdirAll(filepath.Join(dir, v1.Hash()+".tmp", "rootfs/usr/bin"), 0o755)
	wantErr("geo", errdefs.ErrConflict)
	fakeImage(t, dir, v1)
	if err := publish(dir, "geo", v1.Hash()); err != nil {
		t.Fatal(err)
	}
	done()
	wantHash("geo", v1.Hash())

	// A rebuild (or a failed one) leaves the name on its previous build.
	v2 := customRecipe("geo", "proj-bin")
	done, err = markBuilding(dir, "geo")
	if err != nil {
		t.Fatal(err)
	}
	wantHash("geo", v1.Hash())
	entries, err := List(dir)
	if err != nil || len(entries) != 2 || entries[1].Name != "geo" || !entries[1].Building || entries[1].Image == nil {
		t.Errorf("List() during a rebuild = %+v, %v", entries, err)
	}
	done()
	fakeImage(t, dir, v2)
	if err := publish(dir, "geo", v2.Hash()); err != nil {
		t.Fatal(err)
	}
	wantHash("geo", v2.Hash())

	// A marker left by a killed build does not count as building.
	f, _ := os.Create(filepath.Join(dir, namedDir, "dead.building"))
	f.Close()
	wantErr("dead", errdefs.ErrInvalid)

	// The current build of a custom image is not stale; its previous one is.
	stale, err := Stale(dir, DefaultRecipe())
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(stale, " ")
	if strings.Contains(joined, v2.Hash()) || !strings.Contains(joined, v1.Hash()) {
		t.Errorf("Stale() = %v, want %s and not %s", stale, v1.Hash(), v2.Hash())
	}
	if rootfs, err := (Catalog{Dir: dir}).RootFS("geo"); err != nil || rootfs != filepath.Join(dir, v2.Hash(), "rootfs") {
		t.Errorf("Catalog.RootFS(geo) = %q, %v", rootfs, err)
	}
}

func TestLoadRecipeFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sum := strings.Repeat("0a", 32)
	write("extra.lock", "# extra\nshapely==2.0.6 --hash=sha256:"+sum+"\n")
	write("ca.pem", "certificate\n")
	file := write("geo.json", `{
		"name": "geo",
		"packages": ["gdal-bin", "python3"],
		"lock": "extra.lock",
		"modules": [{"name": "shapely", "import": "shapely", "wheel": "shapely", "check": "assert shapely.Point(0, 0).x == 0"}],
		"tools": ["gdalinfo"],
		"files": [{"src": "ca.pem", "dest": "/usr/local/share/ca.pem", "mode": "0600"}]
	}`)
	r, err := LoadRecipeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultRecipe()
	if r.Name != "geo" || len(r.Packages) != len(def.Packages)+1 || r.Wheels[len(r.Wheels)-1].Name != "shapely" ||
		r.Tools[len(r.Tools)-1] != "gdalinfo" || len(r.Files) != 1 || r.Files[0].Mode != 0o600 ||
		r.Files[0].SHA256 != sha256Hex([]byte("certificate\n")) {
		t.Errorf("LoadRecipeFile() = %+v", r)
	}
	h := r.Hash()
	write("ca.pem", "another certificate\n")
	if r2, err := LoadRecipeFile(file); err != nil || r2.Hash() == h {
		t.Errorf("a changed file keeps the hash %s (%v)", h, err)
	}

	for name, content := range map[string]string{
		"default name":  `{"name": "default"}`,
		"bad name":      `{"name": "Geo/1"}`,
		"unknown field": `{"name": "geo", "pakages": ["x"]}`,
		"default wheel": `{"name": "geo", "lock": "dup.lock"}`,
		"sandbox path":  `{"name": "geo", "files": [{"src": "ca.pem", "dest": "/workspace/ca.pem"}]}`,
		"relative dest": `{"name": "geo", "files": [{"src": "ca.pem", "dest": "etc/ca.pem"}]}`,
		"missing file":  `{"name": "geo", "files": [{"src": "nope.pem", "dest": "/etc/ca.pem"}]}`,
		"bad mode":      `{"name": "geo", "files": [{"src": "ca.pem", "dest": "/etc/ca.pem", "mode": "rwx"}]}`,
		"module no src": `{"name": "geo", "modules": [{"name": "x", "import": "x"}]}`,
		"module no pkg": `{"name": "geo", "modules": [{"name": "x", "import": "x", "package": "python3-x"}]}`,
		"missing lock":  `{"name": "geo", "lock": "nope.lock"}`,
	} {
		write("dup.lock", defaultWheels()[1].requirement()+"\n")
		if _, err := LoadRecipeFile(write("bad.json", content)); err == nil {
			t.Errorf("%s: LoadRecipeFile() = nil error", name)
		}
	}
}
