package testenv

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The server runs as another user when the test runs as root: its directory must not go
// under a TMPDIR that user cannot enter.
func TestPgTempDir(t *testing.T) {
	private := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", private)
	other := &syscall.Credential{Uid: 101, Gid: 104}
	if got := pgTempDir(other); got != "/tmp" {
		t.Errorf("pgTempDir under a private TMPDIR = %s, want /tmp", got)
	}
	if got := pgTempDir(nil); got != private {
		t.Errorf("pgTempDir for the test's own user = %s, want %s", got, private)
	}
}

func TestMain(m *testing.M) { Main(m) }

// Each call gets a database of its own on the one server.
func TestPostgres(t *testing.T) {
	ctx := context.Background()
	conn := func(dsn string) *pgx.Conn {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}
	a, b := conn(Postgres(t)), conn(Postgres(t))
	if _, err := a.Exec(ctx, `CREATE TABLE t (x int)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the second database has %d tables (%v), want none", n, err)
	}
}
