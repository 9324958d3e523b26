package codebox_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs fails when a package has no package comment or more than one, so that
// every package explains itself in exactly one place.
func TestPackageDocs(t *testing.T) {
	dirs := map[string][]string{} // dir → files carrying a package comment
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.Dir(path)
		seen[dir] = true
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			dirs[dir] = append(dirs[dir], filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 5 {
		wd, _ := os.Getwd()
		t.Fatalf("found only %d packages under %s; is the test running at the module root?", len(seen), wd)
	}
	for dir := range seen {
		switch n := len(dirs[dir]); {
		case n == 0:
			t.Errorf("package %s has no package comment", dir)
		case n > 1:
			t.Errorf("package %s has %d package comments (%s), want exactly one", dir, n, strings.Join(dirs[dir], ", "))
		}
	}
}
