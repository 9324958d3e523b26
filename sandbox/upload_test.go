package sandbox_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func TestUploadName(t *testing.T) {
	for in, want := range map[string]string{
		"sales.csv": "sales.csv", "a/b/c.csv": "c.csv", `C:\data\x.txt`: "x.txt", "dir/": "dir",
		"": "", ".": "", "..": "", "/": "", "a/..": "", `\`: "",
	} {
		if got := sandbox.UploadName(in); got != want {
			t.Errorf("UploadName(%q) = %q, want %q", in, got, want)
		}
	}
}

// A stored file is copied in under the same name whichever way it goes in: its base
// name, its id when the name is unusable, or the path asked for.
func TestCopyFile(t *testing.T) {
	e := sandboxtest.New(t, nil)
	ctx := context.Background()
	unnamed := e.Files.Add(ws, "..", []byte("by id"))
	named := e.Files.Add(ws, `C:\data\report.csv`, []byte("a,b\n"))
	c := create(t, e, sandbox.CreateOptions{FileIDs: []string{unnamed}})
	read := func(p string) string {
		t.Helper()
		r, _, err := e.Manager.OpenFile(ctx, ws, c.ID, p)
		if err != nil {
			t.Fatalf("OpenFile(%q): %v", p, err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(unnamed); got != "by id" {
		t.Errorf("file created with the container = %q, want %q", got, "by id")
	}
	for _, tc := range []struct{ dest, want string }{{"", "report.csv"}, {"in/copy.csv", "in/copy.csv"}} {
		p, n, err := sandbox.CopyFile(ctx, e.Files, e.Manager, ws, c.ID, named, tc.dest)
		if err != nil || p != tc.want || n != 4 {
			t.Fatalf("CopyFile(dest %q) = %q, %d, %v; want %q, 4", tc.dest, p, n, err, tc.want)
		}
		if got := read(p); got != "a,b\n" {
			t.Errorf("%s = %q", p, got)
		}
	}
	if _, _, err := sandbox.CopyFile(ctx, e.Files, e.Manager, "other", c.ID, named, ""); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("CopyFile of another workspace's file: %v, want not found", err)
	}
}
