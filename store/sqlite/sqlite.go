// Package sqlite stores codebox's metadata (workspaces, keys, files, containers, usage)
// in one SQLite database file, using the pure-Go modernc.org/sqlite driver.
//
// The database runs in WAL mode with foreign keys on and a busy timeout, so readers never
// block the writer and the CLI can change keys while the server runs. Schema changes are
// numbered SQL files in migrations/, applied in name order, each in its own transaction
// and recorded in schema_migrations. Each domain's queries live in their own file
// (files.go, keys.go, containers.go, usage.go) and satisfy the small interfaces the
// consuming packages define.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/errdefs"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is an open codebox metadata database.
type DB struct {
	db *sql.DB
	// containerWrites queues this process's writes of container records, which a
	// burst of creates sends all at once. Waiting here is a queue served in turn;
	// waiting in SQLite's busy handler is sleeping ever longer between tries (up to
	// 100 ms each), which left a create of a 40-container burst a second behind the
	// others' inserts of a few milliseconds each.
	containerWrites sync.Mutex
	// inserts commits concurrent container inserts together (group.go).
	inserts group
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Open opens (creating if needed) the database at path and applies pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate"
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(8)
	db := &DB{db: sqldb, Now: func() time.Time { return time.Now().UTC() }}
	db.inserts = group{db: sqldb, mu: &db.containerWrites}
	if err := db.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return db, nil
}

// Ping checks that the database answers a query (for readiness probes).
func (db *DB) Ping(ctx context.Context) error {
	var n int
	return db.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n)
}

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// SQL exposes the handle for packages' own tests and tools; production code goes through
// the typed methods.
func (db *DB) SQL() *sql.DB { return db.db }

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.applyMigration(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) applyMigration(ctx context.Context, name string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := migrationFS.ReadFile(name)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(body)) != "" {
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, db.Now().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	return tx.Commit()
}

// formatError turns driver errors into errdefs kinds: a unique-constraint hit is a
// conflict, a full disk is insufficient storage; anything else passes through wrapped.
func formatError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w", errdefs.ErrNotFound)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", errdefs.ErrConflict, err)
		}
		if se.Code()&0xff == sqlite3.SQLITE_FULL {
			return diskspace.Refuse(err)
		}
	}
	return err
}

// timeFormat is how times are stored: RFC 3339 in UTC with fixed-width nanoseconds, so
// that string order is time order.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeFormat, s) }
