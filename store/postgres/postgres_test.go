package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/store/postgres"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// MustOpen opens a fresh database on the test server and closes it at cleanup.
func MustOpen(tb testing.TB) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), testenv.Postgres(tb))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func migrationCount(t *testing.T, db *postgres.DB) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenTwiceKeepsMigrations(t *testing.T) {
	dsn := testenv.Postgres(t)
	var counts []int
	for i := 0; i < 2; i++ {
		db, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if err := db.Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		counts = append(counts, migrationCount(t, db))
		db.Close()
	}
	if counts[0] == 0 || counts[0] != counts[1] {
		t.Fatalf("schema_migrations rows after each Open = %v, want the same non-zero count", counts)
	}
}

// Nodes of a cluster start at once against one empty database: each migration must be
// applied once, and every Open must succeed.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := testenv.Postgres(t)
	const nodes = 6
	dbs := make([]*postgres.DB, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = postgres.Open(context.Background(), dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	if n, want := migrationCount(t, dbs[0]), migrationCount(t, MustOpen(t)); n != want {
		t.Fatalf("schema_migrations has %d rows, want %d as after one Open", n, want)
	}
}

func TestOpenBadDSN(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://codebox:s3cret@127.0.0.1:1/nodb?connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if got := err.Error(); strings.Contains(got, "s3cret") {
		t.Fatalf("error shows the password: %s", got)
	}
}

func TestUniqueViolationIsConflict(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	if _, err := db.EnsureWorkspace(ctx, "ws"); err != nil {
		t.Fatal(err)
	}
	k := &apikey.Key{ID: "key_1", Workspace: codebox.WorkspaceID("ws"), Hint: "sk-1", CreatedAt: db.Now()}
	if err := db.InsertKey(ctx, k, "hash"); err != nil {
		t.Fatal(err)
	}
	k2 := *k
	k2.ID = "key_2"
	if err := db.InsertKey(ctx, &k2, "hash"); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second key with the same hash: %v, want ErrConflict", err)
	}
	if _, err := db.KeyByHash(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("KeyByHash of an unknown hash: %v, want ErrNotFound", err)
	}
}

func TestPoolSize(t *testing.T) {
	dsn := testenv.Postgres(t)
	for _, c := range []struct {
		dsn  string
		want int32
	}{{dsn, 16}, {dsn + "&pool_max_conns=3", 3}} {
		db, err := postgres.Open(context.Background(), c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := db.Pool().Config().MaxConns; got != c.want {
			t.Errorf("Open(%s): pool of %d connections, want %d", c.dsn, got, c.want)
		}
		db.Close()
	}
}
