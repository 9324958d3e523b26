package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/codebox-dev/codebox"
)

// WorkspaceImage returns the image new containers of ws get when a request names
// none, or "" when none was chosen.
func (db *DB) WorkspaceImage(ctx context.Context, ws codebox.WorkspaceID) (string, error) {
	var image string
	err := db.pool.QueryRow(ctx, `SELECT image FROM workspace_images WHERE workspace_id = $1`, string(ws)).Scan(&image)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return image, formatError(err)
}

// SetWorkspaceImage makes image the one new containers of ws get; "" goes back to the
// built-in image.
func (db *DB) SetWorkspaceImage(ctx context.Context, ws codebox.WorkspaceID, image string) error {
	var err error
	if image == "" {
		_, err = db.pool.Exec(ctx, `DELETE FROM workspace_images WHERE workspace_id = $1`, string(ws))
	} else {
		_, err = db.pool.Exec(ctx, `INSERT INTO workspace_images (workspace_id, image) VALUES ($1, $2)
			ON CONFLICT (workspace_id) DO UPDATE SET image = excluded.image`, string(ws), image)
	}
	return formatError(err)
}
