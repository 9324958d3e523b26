package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/codebox-dev/codebox"
)

// WorkspaceImage returns the image new containers of ws get when a request names
// none, or "" when none was chosen.
func (db *DB) WorkspaceImage(ctx context.Context, ws codebox.WorkspaceID) (string, error) {
	var image string
	err := db.db.QueryRowContext(ctx, `SELECT image FROM workspace_images WHERE workspace_id = ?`, string(ws)).Scan(&image)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return image, formatError(err)
}

// SetWorkspaceImage makes image the one new containers of ws get; "" goes back to the
// built-in image.
func (db *DB) SetWorkspaceImage(ctx context.Context, ws codebox.WorkspaceID, image string) error {
	var err error
	if image == "" {
		_, err = db.db.ExecContext(ctx, `DELETE FROM workspace_images WHERE workspace_id = ?`, string(ws))
	} else {
		_, err = db.db.ExecContext(ctx, `INSERT INTO workspace_images (workspace_id, image) VALUES (?, ?)
			ON CONFLICT (workspace_id) DO UPDATE SET image = excluded.image`, string(ws), image)
	}
	return formatError(err)
}
