package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLock(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	got, err := ParseLock(strings.NewReader("# comment\n\npyarrow==25.0.0 --hash=sha256:" + sum + "  # why\npip==26.3 --hash=sha256:" + sum + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Wheel{{"pyarrow", "25.0.0", sum}, {"pip", "26.3", sum}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ParseLock() = %v, want %v", got, want)
	}
	for _, bad := range []string{
		"pyarrow",
		"pyarrow>=25 --hash=sha256:" + sum,
		"pyarrow==25.0.0",
		"pyarrow==25.0.0 --hash=md5:" + sum[:32],
		"pyarrow==25.0.0 --hash=sha256:" + sum[:10],
		"pyarrow==25.0.0 --hash=sha256:" + sum + " --hash=sha256:" + sum,
		"py arrow==1 --hash=sha256:" + sum,
	} {
		if _, err := ParseLock(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseLock(%q) = nil error, want one", bad)
		}
	}
}

// The embedded lock pins every wheel of the default recipe.
func TestDefaultWheels(t *testing.T) {
	ws := defaultWheels()
	names := map[string]bool{}
	for _, w := range ws {
		names[w.Name] = true
	}
	for _, n := range []string{"pip", "pyarrow", "python-pptx", "pdfplumber", "pdfminer.six", "pypdfium2", "pdf2image", "tabula-py"} {
		if !names[n] {
			t.Errorf("wheels.lock has no %s", n)
		}
	}
}

// A cached wheel whose content does not match its hash is not used, and is removed so
// that it is downloaded again.
func TestCachedWheel(t *testing.T) {
	cache := t.TempDir()
	content := []byte("wheel")
	sum := "9ebcf5cdb8a6f2b8ac3ccab4eea6ec8a3a1ad0e0b7fb7d5d3cbd1e3a23d5a7d4"
	w := Wheel{Name: "x", Version: "1", SHA256: sum}
	dir := filepath.Join(cache, sum)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x-1-py3-none-any.whl"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	path, err := cachedWheel(cache, w)
	if err != nil || path != "" {
		t.Fatalf("cachedWheel() with a wrong hash = %q, %v; want \"\", nil", path, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the corrupt cache entry is still there: %v", err)
	}
	real, err := fileSHA256WriteTemp(t, content)
	if err != nil {
		t.Fatal(err)
	}
	w.SHA256 = real
	dir = filepath.Join(cache, real)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "x-1-py3-none-any.whl"), content, 0o644)
	if path, err := cachedWheel(cache, w); err != nil || path != filepath.Join(dir, "x-1-py3-none-any.whl") {
		t.Errorf("cachedWheel() = %q, %v; want the cached file", path, err)
	}
}

func fileSHA256WriteTemp(t *testing.T, content []byte) (string, error) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, content, 0o644); err != nil {
		return "", err
	}
	return fileSHA256(p)
}
