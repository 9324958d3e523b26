package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/errdefs"
)

// Every transaction that moves requests of a batch locks the batch's row first (several
// in ID order), so that its counts and status change in step with its requests on every
// node, and so that no two transactions wait on each other's locks. ClaimRequest, one
// statement, only takes a request with FOR UPDATE SKIP LOCKED and never waits.

var _ batches.Store = (*DB)(nil)

const batchColumns = `id, workspace_id, processing_status, processing, succeeded, errored, canceled, expired,
	created_at, expires_at, ended_at, cancel_initiated_at, archived_at`

func scanBatch(row pgx.Row) (*batches.Batch, error) {
	var b batches.Batch
	var ws, status string
	var ended, canceled, archived *time.Time
	c := &b.Counts
	if err := row.Scan(&b.ID, &ws, &status, &c.Processing, &c.Succeeded, &c.Errored, &c.Canceled, &c.Expired,
		&b.CreatedAt, &b.ExpiresAt, &ended, &canceled, &archived); err != nil {
		return nil, formatError(err)
	}
	b.Workspace, b.Status = codebox.WorkspaceID(ws), batches.Status(status)
	b.CreatedAt, b.ExpiresAt = b.CreatedAt.UTC(), b.ExpiresAt.UTC()
	for _, t := range []struct {
		dst *time.Time
		v   *time.Time
	}{{&b.EndedAt, ended}, {&b.CancelInitiatedAt, canceled}, {&b.ArchivedAt, archived}} {
		if t.v != nil {
			*t.dst = t.v.UTC()
		}
	}
	return &b, nil
}

// CreateBatch stores b and its requests in one transaction, the requests copied in.
func (db *DB) CreateBatch(ctx context.Context, b *batches.Batch, reqs []batches.NewRequest) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		c := b.Counts
		if _, err := tx.Exec(ctx, `INSERT INTO message_batches (`+batchColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			b.ID, string(b.Workspace), string(b.Status), c.Processing, c.Succeeded, c.Errored, c.Canceled, c.Expired,
			b.CreatedAt, b.ExpiresAt, nullTime(b.EndedAt), nullTime(b.CancelInitiatedAt), nullTime(b.ArchivedAt)); err != nil {
			return formatError(err)
		}
		// COPY keeps the rows' order, so the identity column numbers them as sent: the
		// queue runs a batch's requests in order.
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"message_batch_requests"}, []string{"batch_id", "custom_id", "params"},
			pgx.CopyFromSlice(len(reqs), func(i int) ([]any, error) {
				return []any{b.ID, reqs[i].CustomID, reqs[i].Params}, nil
			}))
		return formatError(err)
	})
	if err != nil {
		return fmt.Errorf("create batch: %w", err)
	}
	return nil
}

// GetBatch returns ws's batch id.
func (db *DB) GetBatch(ctx context.Context, ws codebox.WorkspaceID, id string) (*batches.Batch, error) {
	return getBatch(ctx, db.pool, ws, id, "")
}

// getBatch reads ws's batch id, with lock ("FOR UPDATE") appended when set.
func getBatch(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, ws codebox.WorkspaceID, id, lock string) (*batches.Batch, error) {
	b, err := scanBatch(q.QueryRow(ctx, `SELECT `+batchColumns+` FROM message_batches WHERE id = $1 AND workspace_id = $2 `+lock,
		id, string(ws)))
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	return b, nil
}

// ListBatches pages through ws's batches, newest first. Batches created in the same
// instant are ordered by ID, so the order is total.
func (db *DB) ListBatches(ctx context.Context, ws codebox.WorkspaceID, q batches.ListQuery) ([]*batches.Batch, bool, error) {
	query, args := `SELECT `+batchColumns+` FROM message_batches WHERE workspace_id = $1`, []any{string(ws)}
	order, cursor, cmp := `DESC`, q.AfterID, `<`
	if q.BeforeID != "" {
		order, cursor, cmp = `ASC`, q.BeforeID, `>`
	}
	if cursor != "" {
		var created time.Time
		if err := db.pool.QueryRow(ctx, `SELECT created_at FROM message_batches WHERE id = $1 AND workspace_id = $2`,
			cursor, string(ws)).Scan(&created); err != nil {
			return nil, false, fmt.Errorf("batch %s: %w", cursor, formatError(err))
		}
		args = append(args, created, cursor)
		query += fmt.Sprintf(` AND (created_at, id) %s ($2, $3)`, cmp)
	}
	args = append(args, q.Limit+1)
	query += fmt.Sprintf(` ORDER BY created_at %s, id %s LIMIT $%d`, order, order, len(args))
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list batches: %w", formatError(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*batches.Batch, error) { return scanBatch(r) })
	if err != nil {
		return nil, false, fmt.Errorf("list batches: %w", formatError(err))
	}
	more := len(out) > q.Limit
	if more {
		out = out[:q.Limit]
	}
	if q.BeforeID != "" {
		slices.Reverse(out)
	}
	return out, more, nil
}

// CancelBatch cancels ws's batch id's pending requests.
func (db *DB) CancelBatch(ctx context.Context, ws codebox.WorkspaceID, id string, now time.Time) (*batches.Batch, error) {
	var b *batches.Batch
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		if b, err = getBatch(ctx, tx, ws, id, `FOR UPDATE`); err != nil || b.Status != batches.StatusInProgress {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE message_batch_requests SET state = 'canceled', params = '', claimed_by = ''
			WHERE batch_id = $1 AND state = 'pending'`, id)
		if err != nil {
			return formatError(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE message_batches SET processing_status = $2, cancel_initiated_at = $3 WHERE id = $1`,
			id, string(batches.StatusCanceling), now); err != nil {
			return formatError(err)
		}
		if err := count(ctx, tx, id, "canceled", tag.RowsAffected(), now); err != nil {
			return err
		}
		b, err = getBatch(ctx, tx, ws, id, "")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cancel batch: %w", err)
	}
	return b, nil
}

// count moves n requests of batch id from processing to col (a result type's column),
// ending the batch at now when none is left. The batch's row must be locked.
func count(ctx context.Context, tx pgx.Tx, id, col string, n int64, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE message_batches SET processing = processing - $2, `+col+` = `+col+` + $2,
		processing_status = CASE WHEN processing = $2 THEN $3 ELSE processing_status END,
		ended_at = CASE WHEN processing = $2 AND ended_at IS NULL THEN $4 ELSE ended_at END
		WHERE id = $1`, id, n, string(batches.StatusEnded), now); err != nil {
		return fmt.Errorf("count batch %s: %w", id, formatError(err))
	}
	return nil
}

// lockBatches locks the rows of batches ids, in ID order.
func lockBatches(ctx context.Context, tx pgx.Tx, ids []string) error {
	if _, err := tx.Exec(ctx, `SELECT id FROM message_batches WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
		return fmt.Errorf("lock batches: %w", formatError(err))
	}
	return nil
}

// DeleteBatch removes ws's ended batch id with its requests.
func (db *DB) DeleteBatch(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		b, err := getBatch(ctx, tx, ws, id, `FOR UPDATE`)
		if err != nil {
			return err
		}
		if b.Status != batches.StatusEnded {
			return errdefs.New(errdefs.ErrInvalid, "", "Batch %s has not ended: cancel it first, and delete it once its processing_status is ended", id)
		}
		_, err = tx.Exec(ctx, `DELETE FROM message_batches WHERE id = $1`, id)
		return formatError(err)
	})
	if err != nil {
		return fmt.Errorf("delete batch: %w", err)
	}
	return nil
}

// resultsPage is how many results Results reads per query, so that a slow client never
// holds one query open for the whole download.
const resultsPage = 200

// Results calls fn for each answered request of ws's batch id, in request order.
func (db *DB) Results(ctx context.Context, ws codebox.WorkspaceID, id string, fn func(batches.Result) error) error {
	if _, err := db.GetBatch(ctx, ws, id); err != nil {
		return err
	}
	var after int64
	for {
		rows, err := db.pool.Query(ctx, `SELECT id, custom_id, state, COALESCE(result, '') FROM message_batch_requests
			WHERE batch_id = $1 AND id > $2 AND state NOT IN ('pending', 'running') ORDER BY id LIMIT $3`, id, after, resultsPage)
		if err != nil {
			return fmt.Errorf("batch results: %w", formatError(err))
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (batches.Result, error) {
			var res batches.Result
			var typ string
			err := r.Scan(&after, &res.CustomID, &typ, &res.Body)
			res.Type = batches.ResultType(typ)
			return res, err
		})
		if err != nil {
			return fmt.Errorf("batch results: %w", formatError(err))
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < resultsPage {
			return nil
		}
	}
}

// ClaimRequest takes the oldest runnable request in one statement: FOR UPDATE SKIP
// LOCKED passes over requests another node is taking at this moment instead of waiting
// for it, so claimers on every node share the queue without ever taking one request
// twice.
func (db *DB) ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration, skip []codebox.WorkspaceID) (*batches.Claim, error) {
	skipped := make([]string, len(skip))
	for i, ws := range skip {
		skipped[i] = string(ws)
	}
	var c batches.Claim
	var ws string
	err := db.pool.QueryRow(ctx, `WITH next AS (
			SELECT r.id FROM message_batch_requests r JOIN message_batches b ON b.id = r.batch_id
			WHERE r.state IN ('pending', 'running')
			  AND ((r.state = 'pending' AND (r.not_before IS NULL OR r.not_before <= $1)) OR (r.state = 'running' AND r.lease_until < $1))
			  AND b.processing_status = 'in_progress' AND b.expires_at > $1 AND b.workspace_id <> ALL($2)
			ORDER BY r.id LIMIT 1
			FOR UPDATE OF r SKIP LOCKED)
		UPDATE message_batch_requests r SET state = 'running', claimed_by = $3, lease_until = $4, attempts = r.attempts + 1
		FROM next, message_batches b WHERE r.id = next.id AND b.id = r.batch_id
		RETURNING r.id, r.batch_id, b.workspace_id, r.custom_id, r.params, r.attempts`,
		now, skipped, owner, now.Add(lease)).Scan(&c.RequestID, &c.BatchID, &ws, &c.CustomID, &c.Params, &c.Token)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errdefs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("claim batch request: %w", formatError(err))
	}
	c.Workspace = codebox.WorkspaceID(ws)
	return &c, nil
}

// held is the condition under which claim $1 (request ID) with token $3 is still owner
// $2's.
const held = `id = $1 AND state = 'running' AND claimed_by = $2 AND attempts = $3`

func claimLost(c *batches.Claim) error {
	return fmt.Errorf("request %s of %s: claim lost: %w", c.CustomID, c.BatchID, errdefs.ErrConflict)
}

// RenewClaim extends c's lease.
func (db *DB) RenewClaim(ctx context.Context, c *batches.Claim, owner string, until time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE message_batch_requests SET lease_until = $4 WHERE `+held,
		c.RequestID, owner, c.Token, until)
	if err != nil {
		return fmt.Errorf("renew claim: %w", formatError(err))
	}
	if tag.RowsAffected() == 0 {
		return claimLost(c)
	}
	return nil
}

// FinishRequest records c's result and counts it in its batch, in one transaction.
func (db *DB) FinishRequest(ctx context.Context, c *batches.Claim, owner string, typ batches.ResultType, body []byte, now time.Time) error {
	col := map[batches.ResultType]string{batches.Succeeded: "succeeded", batches.Errored: "errored"}[typ]
	if col == "" {
		return fmt.Errorf("finish request: result type %q: %w", typ, errdefs.ErrInvalid)
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockBatches(ctx, tx, []string{c.BatchID}); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE message_batch_requests SET state = $4, result = $5, params = '', claimed_by = '',
			lease_until = NULL WHERE `+held, c.RequestID, owner, c.Token, string(typ), body)
		if err != nil {
			return fmt.Errorf("finish request: %w", formatError(err))
		}
		if tag.RowsAffected() == 0 {
			return claimLost(c)
		}
		return count(ctx, tx, c.BatchID, col, 1, now)
	})
}

// ReleaseClaim puts c back in the queue. A batch canceled meanwhile cancels it here,
// since the cancel could not while it ran.
func (db *DB) ReleaseClaim(ctx context.Context, c *batches.Claim, owner string, notBefore time.Time) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockBatches(ctx, tx, []string{c.BatchID}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE message_batch_requests SET state = 'pending', claimed_by = '', lease_until = NULL,
			not_before = $4 WHERE `+held, c.RequestID, owner, c.Token, notBefore); err != nil {
			return fmt.Errorf("release claim: %w", formatError(err))
		}
		return cancelPending(ctx, tx, c.BatchID, db.Now())
	})
}

// cancelPending cancels the pending requests of batch id if it is canceling. The
// batch's row must be locked.
func cancelPending(ctx context.Context, tx pgx.Tx, id string, now time.Time) error {
	tag, err := tx.Exec(ctx, `UPDATE message_batch_requests SET state = 'canceled', params = ''
		WHERE batch_id = $1 AND state = 'pending'
		  AND EXISTS (SELECT 1 FROM message_batches WHERE id = $1 AND processing_status = $2)`,
		id, string(batches.StatusCanceling))
	if err != nil {
		return fmt.Errorf("cancel batch %s: %w", id, formatError(err))
	}
	if n := tag.RowsAffected(); n > 0 {
		return count(ctx, tx, id, "canceled", n, now)
	}
	return nil
}

// ReleaseOwner puts owner's claims back in the queue.
func (db *DB) ReleaseOwner(ctx context.Context, owner string) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT batch_id FROM message_batch_requests WHERE state = 'running' AND claimed_by = $1`, owner)
		if err != nil {
			return formatError(err)
		}
		touched, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return formatError(err)
		}
		if err := lockBatches(ctx, tx, touched); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE message_batch_requests SET state = 'pending', claimed_by = '', lease_until = NULL
			WHERE state = 'running' AND claimed_by = $1 AND batch_id = ANY($2)`, owner, touched)
		if err != nil {
			return formatError(err)
		}
		n = int(tag.RowsAffected())
		for _, id := range touched {
			if err := cancelPending(ctx, tx, id, db.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("release claims: %w", err)
	}
	return n, nil
}

// ExpireBatches expires the pending requests of batches past their expires_at.
func (db *DB) ExpireBatches(ctx context.Context, now time.Time) (int, error) {
	total := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM message_batches WHERE processing_status <> $1 AND expires_at <= $2
			ORDER BY id FOR UPDATE`, string(batches.StatusEnded), now)
		if err != nil {
			return formatError(err)
		}
		due, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return formatError(err)
		}
		for _, id := range due {
			// A request whose lease ran out is not running anywhere any more: it expires too.
			tag, err := tx.Exec(ctx, `UPDATE message_batch_requests SET state = 'expired', params = '', claimed_by = ''
				WHERE batch_id = $1 AND (state = 'pending' OR (state = 'running' AND lease_until < $2))`, id, now)
			if err != nil {
				return fmt.Errorf("expire batch %s: %w", id, formatError(err))
			}
			if err := count(ctx, tx, id, "expired", tag.RowsAffected(), now); err != nil {
				return err
			}
			total += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expire batches: %w", err)
	}
	return total, nil
}

// PurgeBatches removes batches that ended before cutoff, with their requests. Every
// node sweeps: one passes over the batches another is removing rather than wait for
// them, so that two sweeps never lock the same rows in opposite orders.
func (db *DB) PurgeBatches(ctx context.Context, cutoff time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM message_batches WHERE id IN (
		SELECT id FROM message_batches WHERE ended_at < $1 FOR UPDATE SKIP LOCKED)`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge batches: %w", formatError(err))
	}
	return int(tag.RowsAffected()), nil
}
