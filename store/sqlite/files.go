package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
)

var _ files.Store = (*DB)(nil)

const fileColumns = `id, workspace_id, filename, mime_type, size_bytes, checksum, downloadable, created_at, expires_at`

// InsertFile records f unless the workspace's bytes plus f.Size would exceed quota
// (errdefs.ErrQuota). The transaction takes the write lock at BEGIN (_txlock=immediate),
// so the sum and the insert see no concurrent upload in between.
func (db *DB) InsertFile(ctx context.Context, f *files.File, quota int64) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()
	var used int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(size_bytes), 0) FROM files WHERE workspace_id = ?`, string(f.Workspace)).Scan(&used); err != nil {
		return formatError(err)
	}
	if used+f.Size > quota {
		return fmt.Errorf("workspace %s: %d + %d bytes over %d: %w", f.Workspace, used, f.Size, quota, errdefs.ErrQuota)
	}
	var expires any
	if !f.ExpiresAt.IsZero() {
		expires = formatTime(f.ExpiresAt)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO files (`+fileColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, string(f.Workspace), f.Filename, f.MimeType, f.Size, f.Checksum, f.Downloadable, formatTime(f.CreatedAt), expires); err != nil {
		return formatError(err)
	}
	return formatError(tx.Commit())
}

type scanner interface{ Scan(dest ...any) error }

func scanFile(row scanner) (*files.File, error) {
	var f files.File
	var ws, created string
	var expires sql.NullString
	if err := row.Scan(&f.ID, &ws, &f.Filename, &f.MimeType, &f.Size, &f.Checksum, &f.Downloadable, &created, &expires); err != nil {
		return nil, formatError(err)
	}
	f.Workspace = codebox.WorkspaceID(ws)
	var err error
	if f.CreatedAt, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("file %s created_at: %w", f.ID, err)
	}
	if expires.Valid {
		if f.ExpiresAt, err = parseTime(expires.String); err != nil {
			return nil, fmt.Errorf("file %s expires_at: %w", f.ID, err)
		}
	}
	return &f, nil
}

// GetFile returns id if it belongs to ws, else errdefs.ErrNotFound.
func (db *DB) GetFile(ctx context.Context, ws codebox.WorkspaceID, id string) (*files.File, error) {
	row := db.db.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM files WHERE id = ? AND workspace_id = ?`, id, string(ws))
	return scanFile(row)
}

// ListFiles returns a page of ws's files newest first, ordered by (created_at, id), and
// whether more files lie beyond the page in the direction of the query.
func (db *DB) ListFiles(ctx context.Context, ws codebox.WorkspaceID, q files.ListQuery) ([]*files.File, bool, error) {
	var (
		where = []string{"workspace_id = ?"}
		args  = []any{string(ws)}
		order = "created_at DESC, id DESC"
	)
	switch {
	case len(q.IDs) > 0:
		where = append(where, "id IN (?"+strings.Repeat(", ?", len(q.IDs)-1)+")")
		for _, id := range q.IDs {
			args = append(args, id)
		}
	case q.After != nil:
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		c := formatTime(q.After.CreatedAt)
		args = append(args, c, c, q.After.ID)
	case q.Before != nil:
		where = append(where, "(created_at > ? OR (created_at = ? AND id > ?))")
		c := formatTime(q.Before.CreatedAt)
		args = append(args, c, c, q.Before.ID)
		order = "created_at ASC, id ASC"
	}
	args = append(args, q.PageSize()+1)
	rows, err := db.db.QueryContext(ctx, `SELECT `+fileColumns+` FROM files WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, false, formatError(err)
	}
	defer rows.Close()
	var out []*files.File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, false, formatError(err)
	}
	out, more := q.Page(out)
	return out, more, nil
}

// DeleteFile deletes id from ws, or returns errdefs.ErrNotFound.
func (db *DB) DeleteFile(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	res, err := db.db.ExecContext(ctx, `DELETE FROM files WHERE id = ? AND workspace_id = ?`, id, string(ws))
	if err != nil {
		return formatError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("file %s: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// StorageUsed returns the total size of ws's files.
func (db *DB) StorageUsed(ctx context.Context, ws codebox.WorkspaceID) (int64, error) {
	var n int64
	err := db.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(size_bytes), 0) FROM files WHERE workspace_id = ?`, string(ws)).Scan(&n)
	return n, formatError(err)
}

// StoredFiles returns how many files every workspace holds together, and their total
// size; metrics read it on each scrape.
func (db *DB) StoredFiles(ctx context.Context) (files, bytes int64, err error) {
	err = db.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM files`).Scan(&files, &bytes)
	return files, bytes, formatError(err)
}

// ExpiredFiles returns up to limit files, of any workspace, that expired before t.
func (db *DB) ExpiredFiles(ctx context.Context, before time.Time, limit int) ([]*files.File, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+fileColumns+` FROM files WHERE expires_at IS NOT NULL AND expires_at < ? ORDER BY expires_at LIMIT ?`,
		formatTime(before), limit)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	var out []*files.File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, formatError(rows.Err())
}

// FileExists reports whether id exists in any workspace.
func (db *DB) FileExists(ctx context.Context, id string) (bool, error) {
	var n int
	err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM files WHERE id = ?`, id).Scan(&n)
	return n > 0, formatError(err)
}
