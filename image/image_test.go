package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRecipeHash(t *testing.T) {
	base := DefaultRecipe()
	h := base.Hash()
	if len(h) != 16 {
		t.Fatalf("Hash() = %q, want 16 hex digits", h)
	}
	if h2 := DefaultRecipe().Hash(); h2 != h {
		t.Errorf("Hash() of an equal recipe = %s, want %s", h2, h)
	}
	changes := map[string]func(r *Recipe){
		"revision": func(r *Recipe) { r.Revision++ },
		"suite":    func(r *Recipe) { r.Suite = "trixie" },
		"package":  func(r *Recipe) { r.Packages = append(r.Packages, "htop") },
		"order":    func(r *Recipe) { r.Packages[0], r.Packages[1] = r.Packages[1], r.Packages[0] },
		"source":   func(r *Recipe) { r.Sources = r.Sources[:1] },
		"purge":    func(r *Recipe) { r.Purge = nil },
		"keep":     func(r *Recipe) { r.Keep = append(r.Keep, "gcc-12") },
		"module":   func(r *Recipe) { r.Modules[0].Import = "pandas.core" },
		"tool":     func(r *Recipe) { r.Tools = append(r.Tools, "make") },
		"missing":  func(r *Recipe) { r.Missing = append(r.Missing, Missing{"x", "y"}) },
		"wheel":    func(r *Recipe) { r.Wheels[1].Version = "0" },
		"hostname": func(r *Recipe) { r.Hostname = "box" },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			r := DefaultRecipe()
			change(r)
			if got := r.Hash(); got == h {
				t.Errorf("Hash() after changing the %s = %s, want a different hash", name, got)
			}
		})
	}
}

func TestDefaultRecipe(t *testing.T) {
	r := DefaultRecipe()
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	// Every library and tool of the hosted tool's documented environment (the wire
	// spec's section 7) is provided: reportlab[pycairo] is reportlab and pycairo.
	want := []string{"pandas", "numpy", "scipy", "scikit-learn", "statsmodels", "matplotlib", "seaborn",
		"pyarrow", "openpyxl", "xlsxwriter", "xlrd", "pillow", "python-pptx", "python-docx", "pypdf",
		"pdfplumber", "pypdfium2", "pdf2image", "pdfkit", "tabula-py", "reportlab", "pycairo", "img2pdf",
		"sympy", "mpmath", "tqdm", "python-dateutil", "pytz", "joblib"}
	have := map[string]bool{}
	for _, m := range r.Modules {
		have[m.Name] = true
	}
	for _, name := range want {
		if !have[name] {
			t.Errorf("library %s is not in the recipe", name)
		}
	}
	if len(r.Missing) > 0 {
		t.Errorf("Missing = %v, want every library provided", r.Missing)
	}
	for _, w := range r.Wheels {
		if w.Name == installerName {
			continue
		}
		if !slices.ContainsFunc(r.Modules, func(m Module) bool { return m.Wheel == w.Name }) {
			t.Errorf("wheel %s is installed but no module checks it", w)
		}
	}
	for _, tool := range []string{"unzip", "unrar", "7z", "bc", "rg", "fd", "sqlite3", "java", "wkhtmltopdf", "pdftoppm"} {
		found := false
		for _, have := range r.Tools {
			found = found || have == tool
		}
		if !found {
			t.Errorf("tool %s is not in the recipe", tool)
		}
	}
}

func TestRecipeValidate(t *testing.T) {
	tests := map[string]func(r *Recipe){
		"no suite":    func(r *Recipe) { r.Suite = "" },
		"no sources":  func(r *Recipe) { r.Sources = nil },
		"no packages": func(r *Recipe) { r.Packages = nil },
		"bad pattern": func(r *Recipe) { r.PurgePatterns = []string{"("} },
		"bad module":  func(r *Recipe) { r.Modules = append(r.Modules, Module{Name: "x"}) },
		"no source":   func(r *Recipe) { r.Modules = append(r.Modules, Module{Name: "x", Import: "x"}) },
		"two sources": func(r *Recipe) {
			r.Modules = append(r.Modules, Module{Name: "x", Import: "x", Package: "python3", Wheel: "pyarrow"})
		},
		"package not installed": func(r *Recipe) {
			r.Modules = append(r.Modules, Module{Name: "x", Import: "x", Package: "python3-x"})
		},
		"wheel not installed": func(r *Recipe) { r.Modules = append(r.Modules, Module{Name: "x", Import: "x", Wheel: "x"}) },
		"no python":           func(r *Recipe) { r.Python = "" },
		"bad wheel hash":      func(r *Recipe) { r.Wheels[1].SHA256 = "abc" },
		"wheel range":         func(r *Recipe) { r.Wheels[1].Version = ">=1" },
		"wheel twice":         func(r *Recipe) { r.Wheels = append(r.Wheels, r.Wheels[1]) },
		"no installer":        func(r *Recipe) { r.Wheels = r.Wheels[1:] },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			r := DefaultRecipe()
			change(r)
			if err := r.Validate(); err == nil {
				t.Errorf("Validate() = nil, want an error")
			}
		})
	}
}

func TestPurgeList(t *testing.T) {
	r := DefaultRecipe()
	installed := []string{
		"python3", "python3-numpy", "python3-pythran", "gcc-12", "g++-12", "libboost1.74-dev",
		"libpython3.11-dev", "libquadmath0", "libgfortran5", "libopenblas0-pthread", "libgomp1", "libstdc++6",
		"libc6", "zlib1g-dev",
	}
	got := r.purgeList(installed)
	want := []string{"python3-pythran", "gcc-12", "g++-12", "libboost1.74-dev", "libpython3.11-dev", "zlib1g-dev"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("purgeList() = %v, want %v", got, want)
	}
	r.Keep = append(r.Keep, "zlib1g-dev")
	if got := r.purgeList([]string{"zlib1g-dev"}); len(got) != 0 {
		t.Errorf("purgeList() with zlib1g-dev kept = %v, want none", got)
	}
}

func testManifest() *Manifest {
	return &Manifest{
		Hash:         DefaultRecipe().Hash(),
		Recipe:       DefaultRecipe(),
		BuiltAt:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		BuildSeconds: 92.5,
		SizeBytes:    900 << 20,
		Python:       "3.11.2",
		Packages:     []Package{{"libc6", "2.36-9+deb12u13"}, {"python3", "3.11.2-1+b1"}, {"python3-pandas", "1.5.3+dfsg-2"}},
		Purged:       []string{"gcc-12"},
		Modules: []ModuleStatus{
			{Module: Module{Name: "pandas", Import: "pandas", Package: "python3-pandas"}, Version: "1.5.3"},
			{Module: Module{Name: "seaborn", Import: "seaborn", Package: "python3-seaborn"}, Error: "ImportError: x"},
		},
		Tools:   []ToolStatus{{Name: "rg", Path: "/usr/bin/rg"}, {Name: "fd", Error: "not found on PATH"}},
		Missing: DefaultRecipe().Missing,
	}
}

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := testManifest()
	if err := WriteManifest(dir, m); err != nil {
		t.Fatalf("WriteManifest() = %v", err)
	}
	got, err := ReadManifest(dir)
	if err != nil {
		t.Fatalf("ReadManifest() = %v", err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("ReadManifest() = %+v, want %+v", got, m)
	}
	if got.Hash != got.Recipe.Hash() {
		t.Errorf("decoded recipe hashes to %s, want %s", got.Recipe.Hash(), got.Hash)
	}
	if v, ok := got.Package("python3"); !ok || v != "3.11.2-1+b1" {
		t.Errorf("Package(python3) = %q, %v, want 3.11.2-1+b1, true", v, ok)
	}
	if _, ok := got.Package("python2"); ok {
		t.Errorf("Package(python2) found, want not installed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the manifest (no temporary file)", len(entries))
	}
}

func TestReadManifestErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadManifest(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadManifest(empty dir) = %v, want ErrNotExist", err)
	}
	os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"hash":""}`), 0o644)
	if _, err := ReadManifest(dir); err == nil {
		t.Errorf("ReadManifest(no recipe) = nil, want an error")
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	if _, err := Lookup(dir); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Lookup(empty) = %v, want ErrNotBuilt", err)
	}
	m := testManifest()
	imgDir := filepath.Join(dir, m.Hash)
	if err := os.MkdirAll(filepath.Join(imgDir, "rootfs/usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(imgDir, "rootfs/usr/bin/python3"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteManifest(imgDir, m); err != nil {
		t.Fatal(err)
	}
	img, err := Lookup(dir)
	if err != nil {
		t.Fatalf("Lookup() = %v", err)
	}
	if img.Hash != m.Hash || img.RootFS != filepath.Join(imgDir, "rootfs") {
		t.Errorf("Lookup() = %+v, want hash %s in %s", img, m.Hash, imgDir)
	}
	// A changed recipe means the cached image is not the one wanted.
	r := DefaultRecipe()
	r.Packages = append(r.Packages, "htop")
	if _, err := LookupRecipe(dir, r); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("LookupRecipe(changed recipe) = %v, want ErrNotBuilt", err)
	}
}

func TestReadDpkgStatus(t *testing.T) {
	status := `Package: zlib1g
Status: install ok installed
Priority: optional
Version: 1:1.2.13.dfsg-1
Description: compression library
 with a continuation line: that has a colon

Package: gcc-12
Status: deinstall ok config-files
Version: 12.2.0-14

Package: bash
Status: install ok installed
Version: 5.2.15-2+b8

Package: old
Status: purge ok not-installed
`
	got, err := readDpkgStatus(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{"bash", "5.2.15-2+b8"}, {"zlib1g", "1:1.2.13.dfsg-1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readDpkgStatus() = %v, want %v", got, want)
	}
	if _, err := readDpkgStatus(strings.NewReader("")); err == nil {
		t.Errorf("readDpkgStatus(empty) = nil error, want an error")
	}
}

func TestProgressCounts(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf)
	clock := p.start
	p.now = func() time.Time { return clock }
	p.Stage("bootstrap", "mmdebstrap")
	p.Line("Get:7 http://deb.debian.org/debian bookworm/main amd64 libc6 amd64 2.36-9 [2757 kB]")
	if p.detail != "fetch libc6" {
		t.Errorf("detail = %q, want %q", p.detail, "fetch libc6")
	}
	p.fetched = 0
	for _, line := range []string{
		"I: running apt-get update...",
		"0 upgraded, 3 newly installed, 0 to remove and 0 not upgraded.",
		"Get:1 http://deb.debian.org/debian bookworm/main amd64 libc6 amd64 2.36-9 [2757 kB]",
		"Get:2 http://deb.debian.org/debian bookworm/main amd64 bash amd64 5.2.15-2 [1491 kB]",
		"Unpacking libc6:amd64 (2.36-9) ...",
		"Setting up libc6:amd64 (2.36-9) ...",
		"Selecting previously unselected package bash.",
	} {
		clock = clock.Add(time.Second)
		p.Line(line)
	}
	clock = clock.Add(summaryEvery)
	p.Line("Unpacking bash (5.2.15-2) ...")
	p.Close()
	out := buf.String()
	for _, want := range []string{
		"bootstrap mmdebstrap",
		"I: running apt-get update...",
		"packages: 2 fetched, 2 unpacked, 1 set up of 3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Selecting previously") || strings.Contains(out, "\x1b[") {
		t.Errorf("progress output to a non-terminal has raw apt lines or escapes:\n%s", out)
	}
	if p.detail != "unpack bash" {
		t.Errorf("detail = %q, want %q", p.detail, "unpack bash")
	}
}

func TestLineWriter(t *testing.T) {
	var lines []string
	var log bytes.Buffer
	lw := &lineWriter{log: &log, fn: func(s string) { lines = append(lines, s) }}
	lw.Write([]byte("one\ntw"))
	lw.Write([]byte("o\r\nthree"))
	lw.Flush()
	want := []string{"one", "two", "three"}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	if log.String() != "one\ntwo\r\nthree" {
		t.Errorf("log = %q, want the bytes verbatim", log.String())
	}
}

// mountsUnder finds a mount below a path with a space in it (mountinfo escapes it as
// \040) and nothing outside the path.
func TestMountsUnder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b")
	mnt := filepath.Join(dir, "proc")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs (needs root): %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	got, err := mountsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != mnt {
		t.Errorf("mountsUnder(%q) = %q, want [%q]", dir, got, mnt)
	}
	if got, err := mountsUnder(dir + "x"); err != nil || len(got) != 0 {
		t.Errorf("mountsUnder(%q) = %q, %v, want none", dir+"x", got, err)
	}
}

func TestRemoveTreeMissing(t *testing.T) {
	if err := removeTree(filepath.Join(t.TempDir(), "absent")); err != nil {
		t.Errorf("removeTree(absent) = %v, want nil", err)
	}
	dir := filepath.Join(t.TempDir(), "x.tmp")
	os.MkdirAll(filepath.Join(dir, "rootfs/etc"), 0o755)
	if err := removeTree(dir); err != nil {
		t.Fatalf("removeTree() = %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after removeTree, Stat = %v, want ErrNotExist", err)
	}
}

func TestSetupFiles(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/python3.11"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/lib/python3.11"), 0o755)
	os.Symlink("/etc/python3.11/sitecustomize.py", filepath.Join(root, "usr/lib/python3.11/sitecustomize.py"))
	os.WriteFile(filepath.Join(root, "etc/python3.11/sitecustomize.py"), []byte("# debian\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/matplotlibrc"), []byte("#backend: TkAgg\nfont.size: 10\n"), 0o644)
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		os.WriteFile(filepath.Join(root, "etc", f), []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	}
	if err := appendSitecustomize(root); err != nil {
		t.Fatalf("appendSitecustomize() = %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "etc/python3.11/sitecustomize.py"))
	if !strings.HasPrefix(string(b), "# debian\n") || !strings.Contains(string(b), "MPLCONFIGDIR") {
		t.Errorf("sitecustomize.py = %q, want Debian's content followed by the MPLCONFIGDIR handling", b)
	}
	if fi, err := os.Lstat(filepath.Join(root, "usr/lib/python3.11/sitecustomize.py")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the sitecustomize.py symlink was replaced: %v", err)
	}
	if err := setMatplotlibBackend(filepath.Join(root, "etc/matplotlibrc")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/matplotlibrc")); string(b) != "backend: Agg\nfont.size: 10\n" {
		t.Errorf("matplotlibrc = %q", b)
	}
	if err := addUser(root); err != nil {
		t.Fatalf("addUser() = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); !strings.Contains(string(b), "\nuser:x:1000:1000:codebox:/workspace:/bin/bash\n") {
		t.Errorf("passwd = %q", b)
	}
	if err := addUser(root); err == nil {
		t.Errorf("addUser() twice = nil, want an error")
	}
}

func TestStripPrivileges(t *testing.T) {
	root := t.TempDir()
	suid := filepath.Join(root, "su")
	plain := filepath.Join(root, "ls")
	os.WriteFile(suid, nil, 0o755)
	os.WriteFile(plain, nil, 0o755)
	if err := os.Chmod(suid, 0o755|os.ModeSetuid|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	changed, err := stripPrivileges(root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(changed, []string{"/su"}) {
		t.Errorf("stripPrivileges() changed %v, want [/su]", changed)
	}
	fi, _ := os.Stat(suid)
	if fi.Mode() != 0o755 {
		t.Errorf("mode after stripPrivileges = %v, want -rwxr-xr-x", fi.Mode())
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	r := DefaultRecipe()
	for _, name := range []string{r.Hash() + "/rootfs", "0123456789abcdef/rootfs/etc", r.Hash() + ".tmp/rootfs"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, ".lock"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "0123456789abcdef.failed.log"), nil, 0o644)
	stale, err := Stale(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "0123456789abcdef"), filepath.Join(dir, "0123456789abcdef.failed.log"), filepath.Join(dir, r.Hash()+".tmp")}
	if !reflect.DeepEqual(stale, want) {
		t.Errorf("Stale() = %v, want %v", stale, want)
	}
	removed, err := Prune(context.Background(), dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(removed, want) {
		t.Errorf("Prune() = %v, want %v", removed, want)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{".lock", r.Hash()}) {
		t.Errorf("after Prune the directory holds %v, want [.lock %s]", names, r.Hash())
	}
}

func TestLockWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	var buf bytes.Buffer
	p := newProgress(&buf)
	unlock, err := lock(context.Background(), path, p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := lock(ctx, path, p)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("lock() while held, cancelled = %v, want context.Canceled", err)
	}
	unlock()
	unlock2, err := lock(context.Background(), path, p)
	if err != nil {
		t.Fatalf("lock() after unlock = %v", err)
	}
	unlock2()
}
