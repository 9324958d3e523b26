package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
)

var _ sandbox.Store = (*DB)(nil)

const containerColumns = `id, workspace_id, name, image, status, created_at, last_active_at, idle_expires_at, expires_at,
	provisional, memory_limit, expires_after_seconds, network_policy, node, disk_generation, disk_checksum`

func scanContainer(row pgx.Row) (*sandbox.Container, error) {
	var (
		c            sandbox.Container
		ws, status   string
		expiresAfter int64
		policy       []byte
	)
	if err := row.Scan(&c.ID, &ws, &c.Name, &c.Image, &status, &c.CreatedAt, &c.LastActiveAt, &c.IdleExpiresAt, &c.ExpiresAt,
		&c.Provisional, &c.MemoryLimit, &expiresAfter, &policy, &c.Node, &c.DiskGeneration, &c.DiskChecksum); err != nil {
		return nil, formatError(err)
	}
	if policy != nil {
		if err := json.Unmarshal(policy, &c.NetworkPolicy); err != nil {
			return nil, fmt.Errorf("container %s: network policy: %w", c.ID, err)
		}
	}
	c.Workspace, c.Status = codebox.WorkspaceID(ws), sandbox.Status(status)
	c.ExpiresAfter = time.Duration(expiresAfter) * time.Second
	for _, t := range []*time.Time{&c.CreatedAt, &c.LastActiveAt, &c.IdleExpiresAt, &c.ExpiresAt} {
		*t = t.UTC()
	}
	return &c, nil
}

// CreateContainer records a new container; a duplicate ID is errdefs.ErrConflict.
func (db *DB) CreateContainer(ctx context.Context, c *sandbox.Container) error {
	var policy []byte
	if c.NetworkPolicy.Enabled() {
		var err error
		if policy, err = json.Marshal(c.NetworkPolicy); err != nil {
			return err
		}
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO containers (`+containerColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, string(c.Workspace), c.Name, c.Image, string(c.Status), c.CreatedAt, c.LastActiveAt, c.IdleExpiresAt, c.ExpiresAt,
		c.Provisional, c.MemoryLimit, int64(c.ExpiresAfter/time.Second), policy, c.Node, c.DiskGeneration, c.DiskChecksum)
	return formatError(err)
}

// GetContainer returns ws's container id, or errdefs.ErrNotFound.
func (db *DB) GetContainer(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error) {
	c, err := scanContainer(db.pool.QueryRow(ctx, `SELECT `+containerColumns+` FROM containers WHERE workspace_id = $1 AND id = $2`,
		string(ws), id))
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	return c, nil
}

// ListContainers returns ws's containers newest first (oldest first with
// opts.Ascending), of opts.Name when set, after opts.After. Containers created in the
// same instant are ordered by ID, so the order is total.
func (db *DB) ListContainers(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.ListOptions) ([]*sandbox.Container, bool, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 1000)
	q := `SELECT ` + containerColumns + ` FROM containers WHERE workspace_id = $1`
	args := []any{string(ws)}
	if opts.Name != "" {
		args = append(args, opts.Name)
		q += fmt.Sprintf(` AND name = $%d`, len(args))
	}
	cmp, order := "<", "DESC"
	if opts.Ascending {
		cmp, order = ">", "ASC"
	}
	if opts.After != "" {
		after, err := db.GetContainer(ctx, ws, opts.After)
		if err != nil {
			return nil, false, err
		}
		args = append(args, after.CreatedAt, after.ID)
		q += fmt.Sprintf(` AND (created_at, id) %s ($%d, $%d)`, cmp, len(args)-1, len(args))
	}
	args = append(args, limit+1)
	q += fmt.Sprintf(` ORDER BY created_at %s, id %s LIMIT $%d`, order, order, len(args))
	out, err := db.queryContainers(ctx, q, args...)
	if err != nil {
		return nil, false, err
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

func (db *DB) queryContainers(ctx context.Context, q string, args ...any) ([]*sandbox.Container, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, formatError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sandbox.Container, error) { return scanContainer(r) })
	return out, formatError(err)
}

// UpdateContainer saves c's status, activity and expiry times, whether it is
// provisional and its disk archive's generation and checksum.
func (db *DB) UpdateContainer(ctx context.Context, c *sandbox.Container) error {
	tag, err := db.pool.Exec(ctx, `UPDATE containers SET status = $1, last_active_at = $2, idle_expires_at = $3, expires_at = $4,
		provisional = $5, disk_generation = $6, disk_checksum = $7 WHERE workspace_id = $8 AND id = $9`,
		string(c.Status), c.LastActiveAt, c.IdleExpiresAt, c.ExpiresAt, c.Provisional, c.DiskGeneration, c.DiskChecksum,
		string(c.Workspace), c.ID)
	return oneRow(tag, err, "container", c.ID)
}

// DeleteContainer removes ws's container record and its files' records, or returns
// errdefs.ErrNotFound.
func (db *DB) DeleteContainer(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM container_files WHERE workspace_id = $1 AND container_id = $2`, string(ws), id); err != nil {
			return formatError(err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM containers WHERE workspace_id = $1 AND id = $2`, string(ws), id)
		return oneRow(tag, err, "container", id)
	})
}

// AllContainers returns every container that has not expired, of every workspace.
func (db *DB) AllContainers(ctx context.Context) ([]*sandbox.Container, error) {
	return db.queryContainers(ctx, `SELECT `+containerColumns+` FROM containers WHERE status <> $1 ORDER BY created_at, id`,
		string(sandbox.StatusExpired))
}
