package files_test

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/store/sqlite"
)

type env struct {
	svc   *files.Service
	db    *sqlite.DB
	blobs *disk.Store
}

func newEnv(t *testing.T, cfg files.Config) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: files.New(cfg, db, blobs), db: db, blobs: blobs}
}

func (e *env) blobCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir(e.blobs.Dir())
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

const ws codebox.WorkspaceID = "default"

func TestCreateOpenDelete(t *testing.T) {
	e := newEnv(t, files.Config{})
	ctx := context.Background()
	body := bytes.Repeat([]byte("codebox "), 300_000)
	f, err := e.svc.Create(ctx, ws, files.NewFile{Filename: "a/b/notes.md", Downloadable: true, ExpiresIn: time.Hour, Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	sum := files.FormatCRC32C(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	if f.Filename != "notes.md" || f.MimeType != "text/markdown" || f.Size != int64(len(body)) ||
		f.Checksum != sum || !f.Downloadable || f.ExpiresAt.Sub(f.CreatedAt) != time.Hour {
		t.Fatalf("Create = %+v", f)
	}
	got, rc, err := e.svc.Open(ctx, ws, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, body) || got.ID != f.ID || !got.CreatedAt.Equal(f.CreatedAt) {
		t.Fatalf("Open = %+v, %d bytes", got, len(b))
	}
	if _, err := e.svc.Get(ctx, "other", f.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get from another workspace = %v, want ErrNotFound", err)
	}
	if err := e.svc.Delete(ctx, "other", f.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Delete from another workspace = %v, want ErrNotFound", err)
	}
	if err := e.svc.Delete(ctx, ws, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Get(ctx, ws, f.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get after delete = %v", err)
	}
	if n := e.blobCount(t); n != 0 {
		t.Fatalf("%d blobs after delete", n)
	}
}

// failingReader returns n bytes and then an error, like a client that goes away.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := min(len(p), r.n)
	r.n -= k
	return k, nil
}

func TestFailedUploadsLeaveNothing(t *testing.T) {
	e := newEnv(t, files.Config{MaxFileSize: 1 << 20, StorageQuota: 3 << 20})
	ctx := context.Background()

	_, err := e.svc.Create(ctx, ws, files.NewFile{Filename: "big", Body: bytes.NewReader(make([]byte, 1<<20+1))})
	if !errors.Is(err, errdefs.ErrTooLarge) {
		t.Fatalf("over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := e.svc.Create(ctx, ws, files.NewFile{Filename: "exact", Body: bytes.NewReader(make([]byte, 1<<20))}); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
	_, err = e.svc.Create(ctx, ws, files.NewFile{Filename: "cut", Body: &failingReader{n: 300_000}})
	var be *files.BodyError
	if !errors.As(err, &be) {
		t.Fatalf("cut body: %v, want *BodyError", err)
	}
	_, err = e.svc.Create(ctx, ws, files.NewFile{Filename: "bad|name", Body: strings.NewReader("x")})
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
	st, err := e.svc.Stage(ctx, ws, strings.NewReader("staged then dropped"))
	if err != nil {
		t.Fatal(err)
	}
	st.Discard()
	st.Discard()
	if _, err := st.Commit(ctx, files.Meta{}); err == nil {
		t.Fatal("Commit after Discard succeeded")
	}
	// Quota: 1 MiB used; 2 MiB more fit, then nothing.
	for i := 0; i < 2; i++ {
		if _, err := e.svc.Create(ctx, ws, files.NewFile{Body: bytes.NewReader(make([]byte, 1<<20))}); err != nil {
			t.Fatalf("within quota: %v", err)
		}
	}
	_, err = e.svc.Create(ctx, ws, files.NewFile{Body: strings.NewReader("x")})
	if !errors.Is(err, errdefs.ErrQuota) || errdefs.Code(err) != "storage_quota_exceeded" {
		t.Fatalf("over quota: %v (code %q)", err, errdefs.Code(err))
	}
	if n := e.blobCount(t); n != 3 {
		t.Fatalf("%d blobs on disk, want the 3 stored files", n)
	}
}

func TestConcurrentQuota(t *testing.T) {
	e := newEnv(t, files.Config{StorageQuota: 5 * 1000})
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.Create(ctx, ws, files.NewFile{Body: bytes.NewReader(make([]byte, 1000))})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if !errors.Is(err, errdefs.ErrQuota) {
				t.Errorf("Create: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 5 {
		t.Fatalf("%d uploads fit a quota of 5", ok)
	}
	if n := e.blobCount(t); n != 5 {
		t.Fatalf("%d blobs on disk, want 5", n)
	}
}

func TestRecoverRemovesOrphans(t *testing.T) {
	e := newEnv(t, files.Config{})
	ctx := context.Background()
	f, err := e.svc.Create(ctx, ws, files.NewFile{Body: strings.NewReader("kept")})
	if err != nil {
		t.Fatal(err)
	}
	// A blob whose row never committed, and a temporary file of a cut upload.
	if _, _, err := e.blobs.Put(ctx, "file_orphan", strings.NewReader("orphan")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.blobs.Dir(), ".tmp-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := disk.Open(e.blobs.Dir()); err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.Recover(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v, want 1", n, err)
	}
	entries, _ := os.ReadDir(e.blobs.Dir())
	if len(entries) != 1 || entries[0].Name() != f.ID {
		t.Fatalf("left on disk: %v, want only %s", entries, f.ID)
	}
}

func TestExpiryAndPurge(t *testing.T) {
	e := newEnv(t, files.Config{ExpiredGrace: time.Hour})
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.svc.SetClock(func() time.Time { return now })
	f, err := e.svc.Create(ctx, ws, files.NewFile{ExpiresIn: time.Hour, Downloadable: true, Body: strings.NewReader("x")})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := e.svc.Create(ctx, ws, files.NewFile{Body: strings.NewReader("y")})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	_, _, err = e.svc.Open(ctx, ws, f.ID)
	if !errors.Is(err, errdefs.ErrNotFound) || errdefs.Code(err) != "file_expired" {
		t.Fatalf("Open expired = %v (code %q)", err, errdefs.Code(err))
	}
	if _, err := e.svc.Get(ctx, ws, f.ID); err != nil {
		t.Fatalf("Get expired = %v", err)
	}
	now = now.Add(time.Hour + time.Second)
	if n, err := e.svc.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v", n, err)
	}
	list, _, err := e.svc.List(ctx, ws, files.ListQuery{Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != keep.ID {
		t.Fatalf("List after purge = %v, %v", list, err)
	}
}

func TestListOrderAndCursors(t *testing.T) {
	e := newEnv(t, files.Config{})
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.svc.SetClock(func() time.Time { return at })
	var all []*files.File
	for i := 0; i < 6; i++ {
		f, err := e.svc.Create(ctx, ws, files.NewFile{Body: strings.NewReader("x")})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, f)
		if i%2 == 1 {
			at = at.Add(time.Second)
		}
	}
	list, more, err := e.svc.List(ctx, ws, files.ListQuery{Limit: 6})
	if err != nil || more || len(list) != 6 {
		t.Fatalf("List = %d, %v, %v", len(list), more, err)
	}
	for i := 1; i < len(list); i++ {
		a, b := list[i-1], list[i]
		if a.CreatedAt.Before(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID {
			t.Fatalf("not newest first at %d: %v %s, %v %s", i, a.CreatedAt, a.ID, b.CreatedAt, b.ID)
		}
	}
	listed := map[string]bool{}
	for _, f := range list {
		listed[f.ID] = true
	}
	for _, f := range all {
		if !listed[f.ID] {
			t.Errorf("created %s is not listed", f.ID)
		}
	}
	c := &files.Cursor{CreatedAt: list[2].CreatedAt, ID: list[2].ID}
	after, more, _ := e.svc.List(ctx, ws, files.ListQuery{Limit: 2, After: c})
	if len(after) != 2 || after[0].ID != list[3].ID || after[1].ID != list[4].ID || !more {
		t.Fatalf("After = %v, %v", after, more)
	}
	before, more, _ := e.svc.List(ctx, ws, files.ListQuery{Limit: 2, Before: c})
	if len(before) != 2 || before[0].ID != list[0].ID || before[1].ID != list[1].ID || more {
		t.Fatalf("Before = %v, %v", before, more)
	}
	if _, _, err := e.svc.List(ctx, ws, files.ListQuery{Limit: 0}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("limit 0: %v", err)
	}
}
