package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
)

var _ files.Store = (*DB)(nil)

const fileColumns = `id, workspace_id, filename, mime_type, size_bytes, checksum, downloadable, created_at, expires_at`

// quotaLockClass is the first key of the advisory lock that serialises a workspace's
// uploads (the second is the hash of the workspace's id).
const quotaLockClass = 0x66696c65 // "file"

// InsertFile records f unless the workspace's bytes plus f.Size would exceed quota
// (errdefs.ErrQuota). Under read committed, two uploads could each sum the bytes before
// the other's insert and overrun the quota together; a transaction-scoped advisory
// lock per workspace makes the sum and the insert one step, whichever node runs them,
// and does not need the workspace's row to exist.
func (db *DB) InsertFile(ctx context.Context, f *files.File, quota int64) error {
	return formatError(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, quotaLockClass, string(f.Workspace)); err != nil {
			return err
		}
		var used int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(SUM(size_bytes), 0) FROM files WHERE workspace_id = $1`, string(f.Workspace)).Scan(&used); err != nil {
			return err
		}
		if used+f.Size > quota {
			return fmt.Errorf("workspace %s: %d + %d bytes over %d: %w", f.Workspace, used, f.Size, quota, errdefs.ErrQuota)
		}
		_, err := tx.Exec(ctx, `INSERT INTO files (`+fileColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			f.ID, string(f.Workspace), f.Filename, f.MimeType, f.Size, f.Checksum, f.Downloadable, f.CreatedAt, nullTime(f.ExpiresAt))
		return err
	}))
}

func scanFile(row pgx.Row) (*files.File, error) {
	var f files.File
	var ws string
	var expires *time.Time
	if err := row.Scan(&f.ID, &ws, &f.Filename, &f.MimeType, &f.Size, &f.Checksum, &f.Downloadable, &f.CreatedAt, &expires); err != nil {
		return nil, formatError(err)
	}
	f.Workspace = codebox.WorkspaceID(ws)
	f.CreatedAt = f.CreatedAt.UTC()
	if expires != nil {
		f.ExpiresAt = expires.UTC()
	}
	return &f, nil
}

func collectFiles(rows pgx.Rows, err error) ([]*files.File, error) {
	if err != nil {
		return nil, formatError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*files.File, error) { return scanFile(r) })
	return out, formatError(err)
}

// GetFile returns id if it belongs to ws, else errdefs.ErrNotFound.
func (db *DB) GetFile(ctx context.Context, ws codebox.WorkspaceID, id string) (*files.File, error) {
	return scanFile(db.pool.QueryRow(ctx, `SELECT `+fileColumns+` FROM files WHERE id = $1 AND workspace_id = $2`, id, string(ws)))
}

// ListFiles returns a page of ws's files newest first, ordered by (created_at, id), and
// whether more files lie beyond the page in the direction of the query.
func (db *DB) ListFiles(ctx context.Context, ws codebox.WorkspaceID, q files.ListQuery) ([]*files.File, bool, error) {
	var (
		where = []string{"workspace_id = $1"}
		args  = []any{string(ws)}
		order = "created_at DESC, id DESC"
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	switch {
	case len(q.IDs) > 0:
		where = append(where, "id = ANY("+arg(q.IDs)+")")
	case q.After != nil:
		where = append(where, "(created_at, id) < ("+arg(q.After.CreatedAt)+", "+arg(q.After.ID)+")")
	case q.Before != nil:
		where = append(where, "(created_at, id) > ("+arg(q.Before.CreatedAt)+", "+arg(q.Before.ID)+")")
		order = "created_at ASC, id ASC"
	}
	out, err := collectFiles(db.pool.Query(ctx, `SELECT `+fileColumns+` FROM files WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT `+arg(q.PageSize()+1), args...))
	if err != nil {
		return nil, false, err
	}
	out, more := q.Page(out)
	return out, more, nil
}

// DeleteFile deletes id from ws, or returns errdefs.ErrNotFound.
func (db *DB) DeleteFile(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM files WHERE id = $1 AND workspace_id = $2`, id, string(ws))
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("file %s: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// StorageUsed returns the total size of ws's files.
func (db *DB) StorageUsed(ctx context.Context, ws codebox.WorkspaceID) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT COALESCE(SUM(size_bytes), 0) FROM files WHERE workspace_id = $1`, string(ws)).Scan(&n)
	return n, formatError(err)
}

// StoredFiles returns how many files every workspace holds together, and their total
// size; metrics read it on each scrape.
func (db *DB) StoredFiles(ctx context.Context) (files, bytes int64, err error) {
	err = db.pool.QueryRow(ctx, `SELECT count(*), COALESCE(SUM(size_bytes), 0) FROM files`).Scan(&files, &bytes)
	return files, bytes, formatError(err)
}

// ExpiredFiles returns up to limit files, of any workspace, that expired before t.
func (db *DB) ExpiredFiles(ctx context.Context, before time.Time, limit int) ([]*files.File, error) {
	return collectFiles(db.pool.Query(ctx, `SELECT `+fileColumns+` FROM files WHERE expires_at IS NOT NULL AND expires_at < $1 ORDER BY expires_at LIMIT $2`,
		before, limit))
}

// FileExists reports whether id exists in any workspace.
func (db *DB) FileExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE id = $1)`, id).Scan(&ok)
	return ok, formatError(err)
}

// nullTime is t for a nullable column: NULL when t is zero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
