package postgres

import (
	"context"
	"time"

	"github.com/codebox-dev/codebox/cluster"
	"github.com/codebox-dev/codebox/errdefs"
)

var _ cluster.Store = (*DB)(nil)

// Heartbeat records n as alive now by the database's clock, registering it the first
// time.
func (db *DB) Heartbeat(ctx context.Context, n cluster.Node) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO nodes (name, url, capacity, running, started_at, heartbeat_at)
		VALUES ($1, $2, $3, $4, $5, clock_timestamp())
		ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url, capacity = EXCLUDED.capacity, running = EXCLUDED.running,
			started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at`,
		n.Name, n.URL, n.Capacity, n.Running, n.StartedAt)
	return formatError(err)
}

// Nodes returns every registered node, by name, with the age of its last heartbeat
// by the database's clock.
func (db *DB) Nodes(ctx context.Context) ([]cluster.Node, error) {
	rows, err := db.pool.Query(ctx, `SELECT name, url, capacity, running, started_at,
		EXTRACT(EPOCH FROM clock_timestamp() - heartbeat_at)::float8 FROM nodes ORDER BY name`)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	var out []cluster.Node
	for rows.Next() {
		var (
			n   cluster.Node
			age float64
		)
		if err := rows.Scan(&n.Name, &n.URL, &n.Capacity, &n.Running, &n.StartedAt, &age); err != nil {
			return nil, formatError(err)
		}
		n.Since = time.Duration(age * float64(time.Second))
		out = append(out, n)
	}
	return out, formatError(rows.Err())
}

// Leave marks node name as gone: its heartbeat goes back to the epoch.
func (db *DB) Leave(ctx context.Context, name string) error {
	_, err := db.pool.Exec(ctx, `UPDATE nodes SET heartbeat_at = 'epoch' WHERE name = $1`, name)
	return formatError(err)
}

// MoveContainer gives container id, stopped on node from, to node to in one
// compare-and-set, so that of two nodes adopting it one wins.
func (db *DB) MoveContainer(ctx context.Context, id, from, to string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE containers SET node = $3 WHERE id = $1 AND node = $2 AND status = 'stopped'`, id, from, to)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM containers WHERE id = $1)`, id).Scan(&exists); err != nil {
		return formatError(err)
	}
	if !exists {
		return errdefs.New(errdefs.ErrNotFound, "", "container %s not found", id)
	}
	return errdefs.New(errdefs.ErrConflict, "", "container %s is no longer a stopped container of node %s", id, from)
}
