package sandbox_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestScanDeepTree: the host's walk after a command stops at a bounded depth. It used
// to resolve every directory from the root, a cost growing with the square of the
// depth (13 s of server CPU per command at depth 4,000), and went all the way down.
func TestScanDeepTree(t *testing.T) { sandboxtest.ForEachRuntime(t, testScanDeepTree) }

func testScanDeepTree(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	res := run(t, e, c.ID, `python3 -c '
import os
for i in range(1000):
    os.mkdir("d")
    os.chdir("d")
open("deep.txt", "w").write("x")
print("ok")
'`)
	if res.Stdout != "ok\n" {
		t.Fatalf("building the tree: %+v", res)
	}
	if len(res.Files) != 0 {
		t.Errorf("the walk went %d levels down for generated files, want at most 64", strings.Count(res.Files[0].Path, "/"))
	}
	res = run(t, e, c.ID, "echo top > top.txt")
	if len(res.Files) != 1 || res.Files[0].Path != "top.txt" {
		t.Errorf("files after a command next to a 1,000-deep tree = %+v, want top.txt only", res.Files)
	}
	list, err := e.Manager.ListFiles(context.Background(), ws, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range list {
		if strings.HasSuffix(f.Path, "deep.txt") {
			t.Errorf("listing reached %d levels down", strings.Count(f.Path, "/"))
		}
	}
}

// countHandler counts the records of Warn level and above.
type countHandler struct{ n *atomic.Int64 }

func (h countHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countHandler) Handle(context.Context, slog.Record) error    { h.n.Add(1); return nil }
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h countHandler) WithGroup(string) slog.Handler                { return h }

// TestScanUnstorableNames: files whose names cannot be stored (control characters,
// invalid UTF-8) count toward the walk's bound, are reported once, and neither take
// the places of storable outputs nor flood the log.
func TestScanUnstorableNames(t *testing.T) { sandboxtest.ForEachRuntime(t, testScanUnstorableNames) }

func testScanUnstorableNames(t *testing.T, runtime string) {
	var logged atomic.Int64
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Logger = slog.New(countHandler{&logged}) })
	c := create(t, e, sandbox.CreateOptions{})
	res := run(t, e, c.ID, `for i in $(seq 200); do touch "$(printf 'bad\001%d' $i)" "$(printf 'inv\377%d' $i)"; done; echo ok > good.txt`)
	if len(res.Files) != 1 || res.Files[0].Path != "good.txt" {
		t.Errorf("files = %d (%+v), want good.txt only", len(res.Files), res.Files)
	}
	if res.FilesError == nil || res.FilesError.Code != "invalid_file_name" || !strings.Contains(res.FilesError.Message, "400") {
		t.Errorf("FilesError = %+v, want invalid_file_name for 400 files", res.FilesError)
	}
	if n := logged.Load(); n > 0 {
		t.Errorf("%d warnings logged for unstorable names, want none", n)
	}
	// The next run, which adds none, reports none.
	if res := run(t, e, c.ID, "true"); res.FilesError != nil {
		t.Errorf("next run's FilesError = %+v, want none", res.FilesError)
	}
}
