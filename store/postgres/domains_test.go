package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop/usagetest"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/apikey/apikeytest"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/files/filestest"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
	"github.com/codebox-dev/codebox/store/postgres"
)

func TestFileStore(t *testing.T) {
	filestest.RunStore(t, func(t *testing.T) files.Store { return MustOpen(t) })
}

func TestKeyStore(t *testing.T) {
	apikeytest.RunStore(t, func(t *testing.T) apikey.Store { return MustOpen(t) })
}

func TestUsageStore(t *testing.T) {
	usagetest.RunStore(t, func(t *testing.T) usagetest.Store { return MustOpen(t) })
}

func TestWorkspaceImages(t *testing.T) {
	sandboxtest.RunWorkspaceImages(t, func(t *testing.T) sandboxtest.WorkspaceImages { return MustOpen(t) })
}

// Two nodes sharing the database upload into one workspace at once: together they stay
// within its quota.
func TestQuotaAcrossNodes(t *testing.T) {
	dsn := testenv.Postgres(t)
	var nodes [2]*postgres.DB
	for i := range nodes {
		db, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	const rounds, n, size, quota = 8, 16, 3, 10
	for r := range rounds {
		ws := codebox.WorkspaceID(fmt.Sprint("ws", r))
		errs := testenv.AtOnce(n, func(i int) error {
			f := &files.File{ID: fmt.Sprintf("file_%d_%d", r, i), Workspace: ws, Filename: "f.txt", MimeType: "text/plain", Size: size,
				Checksum: "crc32c:00000000", CreatedAt: time.Now().UTC()}
			return nodes[i%2].InsertFile(context.Background(), f, quota)
		})
		stored := 0
		for _, err := range errs {
			switch {
			case err == nil:
				stored++
			case !errors.Is(err, errdefs.ErrQuota):
				t.Fatalf("InsertFile = %v", err)
			}
		}
		if used, err := nodes[0].StorageUsed(context.Background(), ws); err != nil || stored != quota/size || used != int64(stored*size) {
			t.Fatalf("round %d: %d uploads stored (%d bytes, %v) under a %d-byte quota, want %d", r, stored, used, err, quota, quota/size)
		}
	}
}

func TestStoredFiles(t *testing.T) {
	filestest.RunStoredFiles(t, func(t *testing.T) filestest.CountingStore { return MustOpen(t) })
}
