// Package postgres stores codebox's metadata (workspaces, keys, files, containers, usage,
// …) in a PostgreSQL database, using pgx's connection pool. It is the cluster's
// database: several codebox nodes may share one.
//
// Schema changes are numbered SQL files in migrations/, applied in name order, each in
// its own transaction and recorded in schema_migrations, under an advisory lock so that
// nodes starting at once apply each migration exactly once. Each domain's queries live
// in their own file (files.go, keys.go, usage.go, images.go, …) and satisfy the small
// interfaces the consuming packages define, like the SQLite driver's.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLock is the advisory lock key that serialises migrations across nodes
// ("codebox" in ASCII, so that it does not collide with another application's key by
// accident).
const migrationLock int64 = 0x636f6465626f78

// defaultMaxConns is the size of a node's connection pool: several nodes' pools together
// stay well under PostgreSQL's default max_connections of 100.
const defaultMaxConns = 16

// DB is an open codebox metadata database.
type DB struct {
	pool *pgxpool.Pool
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Open connects to the database at dsn (a postgres:// URL or a key=value string, as
// libpq reads them, plus pgx's pool settings such as pool_max_conns) and applies
// pending migrations.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn masks the password in the string its error quotes.
		return nil, fmt.Errorf("parse the PostgreSQL connection string: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default, the number of CPUs but at least 4, queues a node's concurrent
		// requests behind a few connections; a URL's pool_max_conns=N overrides this.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", cfg.ConnConfig.Host, err)
	}
	db := &DB{pool: pool, Now: func() time.Time { return time.Now().UTC() }}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("PostgreSQL at %s: %w", cfg.ConnConfig.Host, err)
	}
	return db, nil
}

// Ping checks that the database answers a query (for readiness probes).
func (db *DB) Ping(ctx context.Context) error {
	var n int
	return db.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n)
}

// Close closes the pool's connections.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Pool exposes the handle for packages' own tests and tools; production code goes
// through the typed methods.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// A session lock held across all migrations: a second node waits here until the
	// first has applied them all, then finds each recorded.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// With ctx done the unlock cannot be sent; closing the connection releases the lock.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range names {
		if err := db.applyMigration(ctx, conn.Conn(), name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) applyMigration(ctx context.Context, conn *pgx.Conn, name string) error {
	body, err := migrationFS.ReadFile(name)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		if strings.TrimSpace(string(body)) != "" {
			// Exec without arguments uses the simple protocol, which runs several statements.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`, name, db.Now())
		return err
	})
}
