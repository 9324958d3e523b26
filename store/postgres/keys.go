package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/errdefs"
)

var _ apikey.Store = (*DB)(nil)

// EnsureWorkspace creates ws unless it exists and reports whether it did.
func (db *DB) EnsureWorkspace(ctx context.Context, ws codebox.WorkspaceID) (bool, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO workspaces (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
		string(ws), db.Now())
	if err != nil {
		return false, formatError(err)
	}
	return tag.RowsAffected() > 0, nil
}

// InsertKey records k and the hash of its secret.
func (db *DB) InsertKey(ctx context.Context, k *apikey.Key, hash string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO api_keys (id, workspace_id, hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, string(k.Workspace), hash, k.Hint, k.CreatedAt)
	return formatError(err)
}

const keyColumns = `id, workspace_id, prefix, created_at, revoked_at`

func scanKey(row pgx.Row) (*apikey.Key, error) {
	var k apikey.Key
	var ws string
	var revoked *time.Time
	if err := row.Scan(&k.ID, &ws, &k.Hint, &k.CreatedAt, &revoked); err != nil {
		return nil, formatError(err)
	}
	k.Workspace = codebox.WorkspaceID(ws)
	k.CreatedAt = k.CreatedAt.UTC()
	if revoked != nil {
		k.RevokedAt = revoked.UTC()
	}
	return &k, nil
}

// KeyByHash returns the key with that hash, or errdefs.ErrNotFound.
func (db *DB) KeyByHash(ctx context.Context, hash string) (*apikey.Key, error) {
	return scanKey(db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash))
}

// ListKeys returns every key, oldest first.
func (db *DB) ListKeys(ctx context.Context) ([]*apikey.Key, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, formatError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*apikey.Key, error) { return scanKey(r) })
	return out, formatError(err)
}

// SetKeyRevoked sets the revocation time of id, or clears it when at is zero.
func (db *DB) SetKeyRevoked(ctx context.Context, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2`, nullTime(at), id)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("key %s: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// CountKeys returns the number of keys of ws, revoked ones included.
func (db *DB) CountKeys(ctx context.Context, ws codebox.WorkspaceID) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE workspace_id = $1`, string(ws)).Scan(&n)
	return n, formatError(err)
}
