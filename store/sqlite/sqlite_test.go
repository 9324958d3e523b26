package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/codebox-dev/codebox/store/sqlite"
)

// MustOpen opens a real database file in a temporary directory and closes it at cleanup.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "codebox.db"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestOpenTwiceKeepsMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "codebox.db")
	for i := 0; i < 2; i++ {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		var n int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("schema_migrations has %d rows, want > 0", n)
		}
		db.Close()
	}
}
