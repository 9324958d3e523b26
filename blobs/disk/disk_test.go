package disk_test

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/files/filestest"
)

func TestPutOpenRemove(t *testing.T) {
	ctx := context.Background()
	s, err := disk.Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("0123456789", 500_000) // several chunks
	n, sum, err := s.Put(ctx, "file_a", strings.NewReader(body))
	want := files.FormatCRC32C(crc32.Checksum([]byte(body), crc32.MakeTable(crc32.Castagnoli)))
	if err != nil || n != int64(len(body)) || sum != want {
		t.Fatalf("Put = %d, %s, %v", n, sum, err)
	}
	rc, err := s.Open(ctx, "file_a")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != body {
		t.Fatalf("read back %d bytes", len(got))
	}
	if _, _, err := s.Put(ctx, "file_empty", strings.NewReader("")); err != nil {
		t.Fatalf("empty blob: %v", err)
	}
	keys, err := s.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	if err := s.Remove(ctx, "file_a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "file_a"); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if _, err := s.Open(ctx, "file_a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Open removed = %v", err)
	}
	for _, bad := range []string{"", "../x", ".tmp-1", "a/b", strings.Repeat("k", 200)} {
		if _, _, err := s.Put(ctx, bad, strings.NewReader("x")); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
		if _, err := s.Open(ctx, bad); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
}

type brokenReader struct{ n int }

func (r *brokenReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), r.n)
	r.n -= k
	return k, nil
}

func TestFailedPutLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := disk.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(ctx, "file_x", &brokenReader{n: 3 << 20}); err == nil {
		t.Fatal("Put of a broken reader succeeded")
	}
	// A source that ends with io.ErrUnexpectedEOF was cut short: that is a failure too.
	cut := io.MultiReader(strings.NewReader("partial"), iotestErrReader{io.ErrUnexpectedEOF})
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

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestConformance(t *testing.T) {
	filestest.RunBlobs(t, func(t *testing.T) files.Blobs {
		s, err := disk.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
