package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/metrics"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/store/postgres"
	"github.com/codebox-dev/codebox/store/sqlite"
)

// database is the metadata database as the server's parts and commands use it: the
// union of the interfaces they consume. *sqlite.DB (one machine) and *postgres.DB (a
// cluster's shared database) implement it.
type database interface {
	apikey.Store
	files.Store
	sandbox.Store
	skills.Store
	batches.Store
	agentloop.UsageRecorder
	api.UsageReader
	metrics.StorageStats
	// SetWorkspaceImage sets the image new containers of ws get ("" is the built-in one).
	SetWorkspaceImage(ctx context.Context, ws codebox.WorkspaceID, image string) error
	// Ping answers the readiness probe.
	Ping(ctx context.Context) error
	Close() error
}

var (
	_ database = (*sqlite.DB)(nil)
	_ database = (*postgres.DB)(nil)
)

// bindDatabaseFlag binds --database, shared by serve and every command that opens the
// database.
func bindDatabaseFlag(fs *pflag.FlagSet, spec *string) {
	fs.StringVar(spec, "database", "", "metadata database: a postgres://user:pass@host:port/db URL (several nodes may share it), or empty for the SQLite file in --data-dir")
}

// openDatabase opens the database spec names: a PostgreSQL URL, or with spec empty the
// SQLite file of dataDir, created if needed.
func openDatabase(ctx context.Context, spec, dataDir string) (database, error) {
	switch {
	case spec == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		db, err := sqlite.Open(ctx, filepath.Join(dataDir, "codebox.db"))
		if err != nil {
			return nil, err
		}
		return db, nil
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		db, err := postgres.Open(ctx, spec)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	// Not quoted back: a malformed URL may still hold a password.
	return nil, fmt.Errorf("--database: want a postgres:// URL, or nothing for the SQLite database in --data-dir")
}
