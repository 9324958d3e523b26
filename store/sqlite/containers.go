package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

var _ sandbox.Store = (*DB)(nil)

const containerColumns = `id, workspace_id, name, image, status, created_at, last_active_at, idle_expires_at, expires_at, provisional, memory_limit, expires_after_seconds, network_policy, node, disk_generation, disk_checksum`

func scanContainer(row interface{ Scan(...any) error }) (*sandbox.Container, error) {
	var (
		c                                   sandbox.Container
		ws, status                          string
		created, active, idleExpires, hardE string
		expiresAfter                        int64
		policy                              string
	)
	if err := row.Scan(&c.ID, &ws, &c.Name, &c.Image, &status, &created, &active, &idleExpires, &hardE, &c.Provisional,
		&c.MemoryLimit, &expiresAfter, &policy, &c.Node, &c.DiskGeneration, &c.DiskChecksum); err != nil {
		return nil, formatError(err)
	}
	if policy != "" {
		if err := json.Unmarshal([]byte(policy), &c.NetworkPolicy); err != nil {
			return nil, fmt.Errorf("container %s: network policy: %w", c.ID, err)
		}
	}
	c.Workspace, c.Status = codebox.WorkspaceID(ws), sandbox.Status(status)
	c.ExpiresAfter = time.Duration(expiresAfter) * time.Second
	for _, t := range []struct {
		dst *time.Time
		s   string
	}{{&c.CreatedAt, created}, {&c.LastActiveAt, active}, {&c.IdleExpiresAt, idleExpires}, {&c.ExpiresAt, hardE}} {
		v, err := parseTime(t.s)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.ID, err)
		}
		*t.dst = v
	}
	return &c, nil
}

// CreateContainer records a new container; a duplicate ID is errdefs.ErrConflict.
// Concurrent creates are committed together (group.go).
func (db *DB) CreateContainer(ctx context.Context, c *sandbox.Container) error {
	var policy string
	if c.NetworkPolicy.Enabled() {
		b, err := json.Marshal(c.NetworkPolicy)
		if err != nil {
			return err
		}
		policy = string(b)
	}
	return db.inserts.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO containers (`+containerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, string(c.Workspace), c.Name, c.Image, string(c.Status), formatTime(c.CreatedAt), formatTime(c.LastActiveAt),
			formatTime(c.IdleExpiresAt), formatTime(c.ExpiresAt), c.Provisional, c.MemoryLimit, int64(c.ExpiresAfter/time.Second), policy, c.Node,
			c.DiskGeneration, c.DiskChecksum)
		return err
	})
}

// GetContainer returns ws's container id, or errdefs.ErrNotFound.
func (db *DB) GetContainer(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error) {
	return scanContainer(db.db.QueryRowContext(ctx,
		`SELECT `+containerColumns+` FROM containers WHERE workspace_id = ? AND id = ?`, string(ws), id))
}

// ListContainers returns ws's containers newest first (oldest first with
// opts.Ascending), of opts.Name when set, after opts.After.
func (db *DB) ListContainers(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.ListOptions) ([]*sandbox.Container, bool, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 1000)
	q := `SELECT ` + containerColumns + ` FROM containers WHERE workspace_id = ?`
	args := []any{string(ws)}
	if opts.Name != "" {
		q += ` AND name = ?`
		args = append(args, opts.Name)
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
		c := formatTime(after.CreatedAt)
		q += ` AND (created_at ` + cmp + ` ? OR (created_at = ? AND id ` + cmp + ` ?))`
		args = append(args, c, c, after.ID)
	}
	q += ` ORDER BY created_at ` + order + `, id ` + order + ` LIMIT ?`
	args = append(args, limit+1)
	out, err := db.queryContainers(ctx, q, args...)
	if err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

func (db *DB) queryContainers(ctx context.Context, q string, args ...any) ([]*sandbox.Container, error) {
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	var out []*sandbox.Container
	for rows.Next() {
		c, err := scanContainer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, formatError(rows.Err())
}

// UpdateContainer saves c's status, activity and expiry times, whether it is
// provisional and its disk archive's generation and checksum.
func (db *DB) UpdateContainer(ctx context.Context, c *sandbox.Container) error {
	db.containerWrites.Lock()
	defer db.containerWrites.Unlock()
	res, err := db.db.ExecContext(ctx,
		`UPDATE containers SET status = ?, last_active_at = ?, idle_expires_at = ?, expires_at = ?, provisional = ?, disk_generation = ?, disk_checksum = ? WHERE workspace_id = ? AND id = ?`,
		string(c.Status), formatTime(c.LastActiveAt), formatTime(c.IdleExpiresAt), formatTime(c.ExpiresAt), c.Provisional,
		c.DiskGeneration, c.DiskChecksum, string(c.Workspace), c.ID)
	return rowsAffected(res, err)
}

// DeleteContainer removes ws's container record and its files' records, or returns
// errdefs.ErrNotFound.
func (db *DB) DeleteContainer(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	db.containerWrites.Lock()
	defer db.containerWrites.Unlock()
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM container_files WHERE workspace_id = ? AND container_id = ?`, string(ws), id); err != nil {
		return formatError(err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM containers WHERE workspace_id = ? AND id = ?`, string(ws), id)
	if err := rowsAffected(res, err); err != nil {
		return err
	}
	return formatError(tx.Commit())
}

func rowsAffected(res sql.Result, err error) error {
	if err != nil {
		return formatError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("container: %w", errdefs.ErrNotFound)
	}
	return nil
}

// AllContainers returns every container that has not expired, of every workspace.
func (db *DB) AllContainers(ctx context.Context) ([]*sandbox.Container, error) {
	return db.queryContainers(ctx, `SELECT `+containerColumns+` FROM containers WHERE status != ? ORDER BY created_at`,
		string(sandbox.StatusExpired))
}
