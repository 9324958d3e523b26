package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/errdefs"
)

var _ apikey.Store = (*DB)(nil)

// EnsureWorkspace creates ws unless it exists and reports whether it did.
func (db *DB) EnsureWorkspace(ctx context.Context, ws codebox.WorkspaceID) (bool, error) {
	res, err := db.db.ExecContext(ctx, `INSERT INTO workspaces (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
		string(ws), formatTime(db.Now()))
	if err != nil {
		return false, formatError(err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// InsertKey records k and the hash of its secret.
func (db *DB) InsertKey(ctx context.Context, k *apikey.Key, hash string) error {
	_, err := db.db.ExecContext(ctx, `INSERT INTO api_keys (id, workspace_id, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.ID, string(k.Workspace), hash, k.Hint, formatTime(k.CreatedAt))
	return formatError(err)
}

const keyColumns = `id, workspace_id, prefix, created_at, revoked_at`

func scanKey(row scanner) (*apikey.Key, error) {
	var k apikey.Key
	var ws, created string
	var revoked sql.NullString
	if err := row.Scan(&k.ID, &ws, &k.Hint, &created, &revoked); err != nil {
		return nil, formatError(err)
	}
	k.Workspace = codebox.WorkspaceID(ws)
	var err error
	if k.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if revoked.Valid {
		if k.RevokedAt, err = parseTime(revoked.String); err != nil {
			return nil, err
		}
	}
	return &k, nil
}

// KeyByHash returns the key with that hash, or errdefs.ErrNotFound.
func (db *DB) KeyByHash(ctx context.Context, hash string) (*apikey.Key, error) {
	return scanKey(db.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash))
}

// ListKeys returns every key, oldest first.
func (db *DB) ListKeys(ctx context.Context) ([]*apikey.Key, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	var out []*apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, formatError(rows.Err())
}

// SetKeyRevoked sets the revocation time of id, or clears it when at is zero.
func (db *DB) SetKeyRevoked(ctx context.Context, id string, at time.Time) error {
	var v any
	if !at.IsZero() {
		v = formatTime(at)
	}
	res, err := db.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, v, id)
	if err != nil {
		return formatError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("key %s: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// CountKeys returns the number of keys of ws, revoked ones included.
func (db *DB) CountKeys(ctx context.Context, ws codebox.WorkspaceID) (int, error) {
	var n int
	err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE workspace_id = ?`, string(ws)).Scan(&n)
	return n, formatError(err)
}
