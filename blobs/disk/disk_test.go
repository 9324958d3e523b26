package disk_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/blobs/blobstest"
	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/files"
)

func TestConformance(t *testing.T) {
	blobstest.Run(t, blobstest.Config{ManyKeys: 100}, func(t *testing.T) files.Blobs {
		s, err := disk.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestFailedPutLeavesNoTemporaryFile: what the suite checks through Keys, on the
// directory itself.
func TestFailedPutLeavesNoTemporaryFile(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := disk.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cut := io.MultiReader(strings.NewReader(strings.Repeat("x", 3<<20)), errReader{io.ErrUnexpectedEOF})
	if _, _, err := s.Put(ctx, "file_cut", cut); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Put of a cut reader = %v, want io.ErrUnexpectedEOF", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Put(cctx, "file_y", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestOpenRemovesTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".tmp-42"), []byte("partial"), 0o600)
	os.WriteFile(filepath.Join(dir, "file_keep"), []byte("whole"), 0o600)
	if _, err := disk.Open(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "file_keep" {
		t.Fatalf("after Open: %v", entries)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
