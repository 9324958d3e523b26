package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
)

const containerFileColumns = `id, workspace_id, container_id, path, source, created_at`

func scanContainerFile(row interface{ Scan(...any) error }) (*sandbox.ContainerFile, error) {
	var (
		f           sandbox.ContainerFile
		ws, created string
	)
	if err := row.Scan(&f.ID, &ws, &f.ContainerID, &f.Path, &f.Source, &created); err != nil {
		return nil, formatError(err)
	}
	f.Workspace = codebox.WorkspaceID(ws)
	t, err := parseTime(created)
	if err != nil {
		return nil, fmt.Errorf("container file %s: %w", f.ID, err)
	}
	f.CreatedAt = t
	return &f, nil
}

// PutContainerFiles records files by container and path; a recorded path keeps its ID
// and, with replace, takes the new source and creation time.
func (db *DB) PutContainerFiles(ctx context.Context, files []*sandbox.ContainerFile, replace bool) error {
	conflict := ` ON CONFLICT (container_id, path) DO NOTHING`
	if replace {
		conflict = ` ON CONFLICT (container_id, path) DO UPDATE SET source = excluded.source, created_at = excluded.created_at`
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()
	for _, f := range files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO container_files (`+containerFileColumns+`) VALUES (?, ?, ?, ?, ?, ?)`+conflict,
			f.ID, string(f.Workspace), f.ContainerID, f.Path, f.Source, formatTime(f.CreatedAt)); err != nil {
			return formatError(err)
		}
	}
	return formatError(tx.Commit())
}

// ContainerFiles returns the file records of ws's container id.
func (db *DB) ContainerFiles(ctx context.Context, ws codebox.WorkspaceID, id string) ([]*sandbox.ContainerFile, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+containerFileColumns+` FROM container_files WHERE workspace_id = ? AND container_id = ?`, string(ws), id)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	var out []*sandbox.ContainerFile
	for rows.Next() {
		f, err := scanContainerFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, formatError(rows.Err())
}

// GetContainerFile returns one file record of ws's container id, or errdefs.ErrNotFound.
func (db *DB) GetContainerFile(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) (*sandbox.ContainerFile, error) {
	f, err := scanContainerFile(db.db.QueryRowContext(ctx,
		`SELECT `+containerFileColumns+` FROM container_files WHERE workspace_id = ? AND container_id = ? AND id = ?`, string(ws), id, fileID))
	if err != nil {
		return nil, fmt.Errorf("container file: %w", err)
	}
	return f, nil
}

// DeleteContainerFiles forgets the file records fileIDs of ws's container id.
func (db *DB) DeleteContainerFiles(ctx context.Context, ws codebox.WorkspaceID, id string, fileIDs ...string) error {
	if len(fileIDs) == 0 {
		return nil
	}
	args := []any{string(ws), id}
	for _, f := range fileIDs {
		args = append(args, f)
	}
	_, err := db.db.ExecContext(ctx, `DELETE FROM container_files WHERE workspace_id = ? AND container_id = ? AND id IN (?`+
		strings.Repeat(", ?", len(fileIDs)-1)+`)`, args...)
	return formatError(err)
}
