package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/store/sqlite"
)

// TestDiskFull: a write the disk has no room for is insufficient storage (507 with
// its code), not the driver's "database or disk is full" as a bare 500.
func TestDiskFull(t *testing.T) {
	dir := testenv.SmallDisk(t, "4m")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Fill the filesystem to the last block.
	fill, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 1
	}
	for {
		if _, err := fill.Write(chunk); err != nil {
			break
		}
	}
	fill.Close()
	var last error
	for i := range 200 {
		f := &files.File{ID: fmt.Sprintf("file_%04d", i), Workspace: "ws", Filename: strings.Repeat("n", 200),
			MimeType: "text/plain", Size: 1, Checksum: "crc32c:00000000", CreatedAt: time.Now()}
		if last = db.InsertFile(ctx, f, 1<<40); last != nil {
			break
		}
	}
	if !errors.Is(last, errdefs.ErrInsufficientStorage) || errdefs.Code(last) != diskspace.Code {
		t.Errorf("insert on a full disk: %v, want insufficient storage", last)
	}
}
