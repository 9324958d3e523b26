package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
)

const containerFileColumns = `id, workspace_id, container_id, path, source, created_at`

func scanContainerFile(row pgx.Row) (*sandbox.ContainerFile, error) {
	var f sandbox.ContainerFile
	var ws string
	if err := row.Scan(&f.ID, &ws, &f.ContainerID, &f.Path, &f.Source, &f.CreatedAt); err != nil {
		return nil, formatError(err)
	}
	f.Workspace, f.CreatedAt = codebox.WorkspaceID(ws), f.CreatedAt.UTC()
	return &f, nil
}

// PutContainerFiles records files by container and path; a recorded path keeps its ID
// and, with replace, takes the new source and creation time. The rows go in one
// transaction sent as one batch, so that a listing of many new files costs one round
// trip.
func (db *DB) PutContainerFiles(ctx context.Context, files []*sandbox.ContainerFile, replace bool) error {
	if len(files) == 0 {
		return nil
	}
	conflict := ` ON CONFLICT (container_id, path) DO NOTHING`
	if replace {
		conflict = ` ON CONFLICT (container_id, path) DO UPDATE SET source = excluded.source, created_at = excluded.created_at`
	}
	var b pgx.Batch
	for _, f := range files {
		b.Queue(`INSERT INTO container_files (`+containerFileColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`+conflict,
			f.ID, string(f.Workspace), f.ContainerID, f.Path, f.Source, f.CreatedAt)
	}
	return formatError(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() }))
}

// ContainerFiles returns the file records of ws's container id.
func (db *DB) ContainerFiles(ctx context.Context, ws codebox.WorkspaceID, id string) ([]*sandbox.ContainerFile, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+containerFileColumns+` FROM container_files WHERE workspace_id = $1 AND container_id = $2`,
		string(ws), id)
	if err != nil {
		return nil, formatError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sandbox.ContainerFile, error) { return scanContainerFile(r) })
	return out, formatError(err)
}

// GetContainerFile returns one file record of ws's container id, or errdefs.ErrNotFound.
func (db *DB) GetContainerFile(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) (*sandbox.ContainerFile, error) {
	f, err := scanContainerFile(db.pool.QueryRow(ctx, `SELECT `+containerFileColumns+` FROM container_files
		WHERE workspace_id = $1 AND container_id = $2 AND id = $3`, string(ws), id, fileID))
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
	_, err := db.pool.Exec(ctx, `DELETE FROM container_files WHERE workspace_id = $1 AND container_id = $2 AND id = ANY($3)`,
		string(ws), id, fileIDs)
	return formatError(err)
}
