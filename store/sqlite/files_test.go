package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/files/filestest"
	"github.com/codebox-dev/codebox/store/sqlite"
)

func TestFileStore(t *testing.T) {
	filestest.RunStore(t, func(t *testing.T) files.Store { return MustOpen(t) })
}

// A data dir from before 0004_checksum.sql keeps its files, their SHA-256 labelled as such.
func TestChecksumMigrationKeepsSHA256(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "codebox.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Roll the schema back to what 0001 created, with a row as it stored them.
	sum := strings.Repeat("ab", 32)
	for _, q := range []string{
		`DELETE FROM schema_migrations WHERE name = 'migrations/0004_checksum.sql'`,
		`ALTER TABLE files RENAME COLUMN checksum TO sha256`,
		`INSERT INTO files (id, workspace_id, filename, mime_type, size_bytes, sha256, downloadable, created_at)
		 VALUES ('file_old', '` + string(codebox.DefaultWorkspace) + `', 'a.txt', 'text/plain', 3, '` + sum + `', 0, '2026-01-01T00:00:00.000000000Z')`,
	} {
		if res, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		} else if n, _ := res.RowsAffected(); n != 1 && strings.HasPrefix(q, "DELETE") {
			t.Fatalf("%s: %d rows", q, n)
		}
	}
	db.Close()
	if db, err = sqlite.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, err := db.GetFile(ctx, codebox.DefaultWorkspace, "file_old")
	if err != nil || f.Checksum != "sha256:"+sum {
		t.Fatalf("GetFile = %+v, %v; want checksum sha256:%s", f, err, sum)
	}
}

func TestStoredFiles(t *testing.T) {
	filestest.RunStoredFiles(t, func(t *testing.T) filestest.CountingStore { return MustOpen(t) })
}
