// Package filestest holds the conformance suite of files.Store: every metadata driver runs
// it in its tests, so that a new driver (PostgreSQL) is held to exactly what the SQLite
// driver does. The suite of files.Blobs is blobs/blobstest.
package filestest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/internal/testenv"
)

func file(ws codebox.WorkspaceID, id string, at time.Time, size int64) *files.File {
	return &files.File{ID: id, Workspace: ws, Filename: id + ".txt", MimeType: "text/plain", Size: size,
		Checksum: "crc32c:00000000", CreatedAt: at}
}

// RunStore runs the files.Store conformance suite against stores made by newStore, one
// fresh, empty store per subtest.
func RunStore(t *testing.T, newStore func(t *testing.T) files.Store) {
	ctx := context.Background()
	// Microseconds, not nanoseconds: the precision of the wire and of PostgreSQL's timestamps.
	base := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)

	t.Run("InsertGet", func(t *testing.T) {
		s := newStore(t)
		f := file("a", "file_1", base, 10)
		f.Downloadable = true
		f.ExpiresAt = base.Add(time.Hour)
		if err := s.InsertFile(ctx, f, 1<<40); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetFile(ctx, "a", "file_1")
		if err != nil {
			t.Fatal(err)
		}
		if *got != *f {
			t.Fatalf("GetFile = %+v, want %+v", got, f)
		}
		if _, err := s.GetFile(ctx, "b", "file_1"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("GetFile from another workspace = %v, want ErrNotFound", err)
		}
		if err := s.InsertFile(ctx, f, 1<<40); !errors.Is(err, errdefs.ErrConflict) {
			t.Fatalf("duplicate InsertFile = %v, want ErrConflict", err)
		}
		if ok, err := s.FileExists(ctx, "file_1"); err != nil || !ok {
			t.Fatalf("FileExists = %v, %v", ok, err)
		}
		if ok, err := s.FileExists(ctx, "file_2"); err != nil || ok {
			t.Fatalf("FileExists(unknown) = %v, %v", ok, err)
		}
	})

	t.Run("Quota", func(t *testing.T) {
		s := newStore(t)
		if err := s.InsertFile(ctx, file("a", "file_1", base, 60), 100); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertFile(ctx, file("a", "file_2", base, 41), 100); !errors.Is(err, errdefs.ErrQuota) {
			t.Fatalf("over quota = %v, want ErrQuota", err)
		}
		if err := s.InsertFile(ctx, file("a", "file_3", base, 40), 100); err != nil {
			t.Fatalf("exactly at quota = %v", err)
		}
		if err := s.InsertFile(ctx, file("b", "file_4", base, 100), 100); err != nil {
			t.Fatalf("other workspace = %v", err)
		}
		if used, err := s.StorageUsed(ctx, "a"); err != nil || used != 100 {
			t.Fatalf("StorageUsed = %d, %v", used, err)
		}
	})

	// Uploads racing into one workspace, on one server or several, never overrun its
	// quota together. A race is won or lost by chance, so several rounds run, each in
	// its own workspace.
	t.Run("QuotaConcurrent", func(t *testing.T) {
		s := newStore(t)
		const rounds, n, size, quota = 8, 16, 3, 10
		for r := range rounds {
			ws := codebox.WorkspaceID(fmt.Sprint("ws", r))
			errs := testenv.AtOnce(n, func(i int) error {
				return s.InsertFile(ctx, file(ws, fmt.Sprintf("file_%d_%02d", r, i), base, size), quota)
			})
			stored := 0
			for _, err := range errs {
				switch {
				case err == nil:
					stored++
				case !errors.Is(err, errdefs.ErrQuota):
					t.Fatalf("InsertFile = %v, want success or ErrQuota", err)
				}
			}
			if used, err := s.StorageUsed(ctx, ws); err != nil || stored != quota/size || used != int64(stored*size) {
				t.Fatalf("round %d: %d concurrent uploads of %d bytes stored under a %d-byte quota (StorageUsed %d, %v), want %d",
					r, stored, size, quota, used, err, quota/size)
			}
		}
	})

	t.Run("ListAndDelete", func(t *testing.T) {
		s := newStore(t)
		// Ten files over five instants, two per instant: order must break ties by id.
		var want []string
		for i := 9; i >= 0; i-- {
			want = append(want, fmt.Sprintf("file_%02d", i))
		}
		for i := 0; i < 10; i++ {
			if err := s.InsertFile(ctx, file("a", fmt.Sprintf("file_%02d", i), base.Add(time.Duration(i/2)*time.Millisecond), 1), 1<<40); err != nil {
				t.Fatal(err)
			}
		}
		s.InsertFile(ctx, file("b", "file_other", base, 1), 1<<40)
		ids := func(fs []*files.File) []string {
			var out []string
			for _, f := range fs {
				out = append(out, f.ID)
			}
			return out
		}
		all, more, err := s.ListFiles(ctx, "a", files.ListQuery{Limit: 100})
		if err != nil || more || strings.Join(ids(all), ",") != strings.Join(want, ",") {
			t.Fatalf("ListFiles = %v, %v, %v, want %v", ids(all), more, err, want)
		}
		page, more, _ := s.ListFiles(ctx, "a", files.ListQuery{Limit: 3})
		if strings.Join(ids(page), ",") != strings.Join(want[:3], ",") || !more {
			t.Fatalf("first page = %v, %v", ids(page), more)
		}
		c := &files.Cursor{CreatedAt: all[4].CreatedAt, ID: all[4].ID}
		after, more, _ := s.ListFiles(ctx, "a", files.ListQuery{Limit: 3, After: c})
		if strings.Join(ids(after), ",") != strings.Join(want[5:8], ",") || !more {
			t.Fatalf("after %s = %v, %v", c.ID, ids(after), more)
		}
		before, more, _ := s.ListFiles(ctx, "a", files.ListQuery{Limit: 3, Before: c})
		if strings.Join(ids(before), ",") != strings.Join(want[1:4], ",") || !more {
			t.Fatalf("before %s = %v, %v", c.ID, ids(before), more)
		}
		sel, _, _ := s.ListFiles(ctx, "a", files.ListQuery{Limit: 20, IDs: []string{"file_03", "file_07", "file_other", "file_zz"}})
		if strings.Join(ids(sel), ",") != "file_07,file_03" {
			t.Fatalf("by ids = %v", ids(sel))
		}
		if err := s.DeleteFile(ctx, "b", "file_03"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("DeleteFile from another workspace = %v", err)
		}
		if err := s.DeleteFile(ctx, "a", "file_03"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteFile(ctx, "a", "file_03"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("second DeleteFile = %v", err)
		}
		if used, _ := s.StorageUsed(ctx, "a"); used != 9 {
			t.Fatalf("StorageUsed after delete = %d", used)
		}
	})

	t.Run("Expired", func(t *testing.T) {
		s := newStore(t)
		for i, exp := range []time.Duration{time.Hour, 2 * time.Hour, 0} {
			f := file(codebox.WorkspaceID(fmt.Sprint("w", i)), fmt.Sprint("file_", i), base, 1)
			if exp > 0 {
				f.ExpiresAt = base.Add(exp)
			}
			if err := s.InsertFile(ctx, f, 1<<40); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.ExpiredFiles(ctx, base.Add(90*time.Minute), 10)
		if err != nil || len(got) != 1 || got[0].ID != "file_0" || got[0].Workspace != "w0" {
			t.Fatalf("ExpiredFiles = %v, %v", got, err)
		}
	})
}

// CountingStore is a files.Store that also totals every workspace's files, as the
// metrics read them (metrics.StorageStats).
type CountingStore interface {
	files.Store
	StoredFiles(ctx context.Context) (files, bytes int64, err error)
}

// RunStoredFiles checks StoredFiles against a fresh store made by newStore.
func RunStoredFiles(t *testing.T, newStore func(t *testing.T) CountingStore) {
	ctx := context.Background()
	s := newStore(t)
	if n, size, err := s.StoredFiles(ctx); err != nil || n != 0 || size != 0 {
		t.Fatalf("StoredFiles of an empty store = %d, %d, %v", n, size, err)
	}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, ws := range []codebox.WorkspaceID{"a", "a", "b"} {
		if err := s.InsertFile(ctx, file(ws, fmt.Sprint("file_", i), at, int64(10*(i+1))), 1<<40); err != nil {
			t.Fatal(err)
		}
	}
	if n, size, err := s.StoredFiles(ctx); err != nil || n != 3 || size != 60 {
		t.Fatalf("StoredFiles = %d files, %d bytes, %v; want 3, 60 (every workspace)", n, size, err)
	}
}
