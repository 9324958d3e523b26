package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/errdefs"
)

var _ batches.Store = (*DB)(nil)

const batchColumns = `id, workspace_id, processing_status, processing, succeeded, errored, canceled, expired,
	created_at, expires_at, COALESCE(ended_at, ''), COALESCE(cancel_initiated_at, ''), COALESCE(archived_at, '')`

type rowScanner interface{ Scan(dest ...any) error }

func scanBatch(row rowScanner) (*batches.Batch, error) {
	var b batches.Batch
	var ws, status, created, expires, ended, canceled, archived string
	c := &b.Counts
	if err := row.Scan(&b.ID, &ws, &status, &c.Processing, &c.Succeeded, &c.Errored, &c.Canceled, &c.Expired,
		&created, &expires, &ended, &canceled, &archived); err != nil {
		return nil, formatError(err)
	}
	b.Workspace, b.Status = codebox.WorkspaceID(ws), batches.Status(status)
	for _, t := range []struct {
		dst *time.Time
		s   string
	}{{&b.CreatedAt, created}, {&b.ExpiresAt, expires}, {&b.EndedAt, ended}, {&b.CancelInitiatedAt, canceled}, {&b.ArchivedAt, archived}} {
		if t.s == "" {
			continue
		}
		v, err := parseTime(t.s)
		if err != nil {
			return nil, fmt.Errorf("batch %s: %w", b.ID, err)
		}
		*t.dst = v
	}
	return &b, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

// CreateBatch stores b and its requests in one transaction.
func (db *DB) CreateBatch(ctx context.Context, b *batches.Batch, reqs []batches.NewRequest) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create batch: %w", err)
	}
	defer tx.Rollback()
	c := b.Counts
	if _, err := tx.ExecContext(ctx, `INSERT INTO message_batches (id, workspace_id, processing_status, processing,
		succeeded, errored, canceled, expired, created_at, expires_at, ended_at, cancel_initiated_at, archived_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, string(b.Workspace), string(b.Status), c.Processing, c.Succeeded, c.Errored, c.Canceled, c.Expired,
		formatTime(b.CreatedAt), formatTime(b.ExpiresAt), nullTime(b.EndedAt), nullTime(b.CancelInitiatedAt),
		nullTime(b.ArchivedAt)); err != nil {
		return fmt.Errorf("create batch: %w", formatError(err))
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO message_batch_requests (batch_id, custom_id, params) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("create batch: %w", err)
	}
	defer stmt.Close()
	for _, r := range reqs {
		if _, err := stmt.ExecContext(ctx, b.ID, r.CustomID, r.Params); err != nil {
			return fmt.Errorf("create batch: request %s: %w", r.CustomID, formatError(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create batch: %w", formatError(err))
	}
	return nil
}

// GetBatch returns ws's batch id.
func (db *DB) GetBatch(ctx context.Context, ws codebox.WorkspaceID, id string) (*batches.Batch, error) {
	return getBatch(ctx, db.db, ws, id)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getBatch(ctx context.Context, q querier, ws codebox.WorkspaceID, id string) (*batches.Batch, error) {
	b, err := scanBatch(q.QueryRowContext(ctx, `SELECT `+batchColumns+` FROM message_batches WHERE id = ? AND workspace_id = ?`,
		id, string(ws)))
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	return b, nil
}

// ListBatches pages through ws's batches, newest first. Batches created in the same
// instant are ordered by id, so the order is total.
func (db *DB) ListBatches(ctx context.Context, ws codebox.WorkspaceID, q batches.ListQuery) ([]*batches.Batch, bool, error) {
	where, args := `workspace_id = ?`, []any{string(ws)}
	order := `created_at DESC, id DESC`
	cursor := q.AfterID
	cmp := `<`
	if q.BeforeID != "" {
		cursor, cmp, order = q.BeforeID, `>`, `created_at ASC, id ASC`
	}
	if cursor != "" {
		var created string
		err := db.db.QueryRowContext(ctx, `SELECT created_at FROM message_batches WHERE id = ? AND workspace_id = ?`,
			cursor, string(ws)).Scan(&created)
		if err != nil {
			return nil, false, fmt.Errorf("batch %s: %w", cursor, formatError(err))
		}
		where += ` AND (created_at ` + cmp + ` ? OR (created_at = ? AND id ` + cmp + ` ?))`
		args = append(args, created, created, cursor)
	}
	args = append(args, q.Limit+1)
	rows, err := db.db.QueryContext(ctx, `SELECT `+batchColumns+` FROM message_batches WHERE `+where+
		` ORDER BY `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list batches: %w", err)
	}
	defer rows.Close()
	var out []*batches.Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, false, fmt.Errorf("list batches: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list batches: %w", err)
	}
	more := len(out) > q.Limit
	if more {
		out = out[:q.Limit]
	}
	if q.BeforeID != "" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, more, nil
}

// CancelBatch cancels ws's batch id's pending requests.
func (db *DB) CancelBatch(ctx context.Context, ws codebox.WorkspaceID, id string, now time.Time) (*batches.Batch, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cancel batch: %w", err)
	}
	defer tx.Rollback()
	b, err := getBatch(ctx, tx, ws, id)
	if err != nil {
		return nil, err
	}
	if b.Status != batches.StatusInProgress {
		return b, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE message_batch_requests SET state = 'canceled', params = x'', claimed_by = ''
		WHERE batch_id = ? AND state = 'pending'`, id)
	if err != nil {
		return nil, fmt.Errorf("cancel batch: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `UPDATE message_batches SET processing_status = ?, cancel_initiated_at = ?,
		processing = processing - ?, canceled = canceled + ? WHERE id = ?`,
		string(batches.StatusCanceling), formatTime(now), n, n, id); err != nil {
		return nil, fmt.Errorf("cancel batch: %w", err)
	}
	if err := endIfDone(ctx, tx, id, now); err != nil {
		return nil, err
	}
	if b, err = getBatch(ctx, tx, ws, id); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("cancel batch: %w", formatError(err))
	}
	return b, nil
}

// endIfDone ends batch id when none of its requests awaits an answer.
func endIfDone(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE message_batches SET processing_status = ?, ended_at = ?
		WHERE id = ? AND processing = 0 AND processing_status != ?`,
		string(batches.StatusEnded), formatTime(now), id, string(batches.StatusEnded)); err != nil {
		return fmt.Errorf("end batch %s: %w", id, err)
	}
	return nil
}

// DeleteBatch removes ws's ended batch id.
func (db *DB) DeleteBatch(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete batch: %w", err)
	}
	defer tx.Rollback()
	b, err := getBatch(ctx, tx, ws, id)
	if err != nil {
		return err
	}
	if b.Status != batches.StatusEnded {
		return errdefs.New(errdefs.ErrInvalid, "", "Batch %s has not ended: cancel it first, and delete it once its processing_status is ended", id)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM message_batches WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete batch: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete batch: %w", formatError(err))
	}
	return nil
}

// resultsPage is how many results Results reads per query, so that a slow client
// never holds one read transaction open for the whole download.
const resultsPage = 200

// Results calls fn for each answered request of ws's batch id, in request order.
func (db *DB) Results(ctx context.Context, ws codebox.WorkspaceID, id string, fn func(batches.Result) error) error {
	if _, err := db.GetBatch(ctx, ws, id); err != nil {
		return err
	}
	var after int64
	for {
		page, last, err := db.resultsPage(ctx, id, after)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < resultsPage {
			return nil
		}
		after = last
	}
}

func (db *DB) resultsPage(ctx context.Context, id string, after int64) ([]batches.Result, int64, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, custom_id, state, COALESCE(result, x'') FROM message_batch_requests
		WHERE batch_id = ? AND id > ? AND state NOT IN ('pending', 'running') ORDER BY id LIMIT ?`, id, after, resultsPage)
	if err != nil {
		return nil, 0, fmt.Errorf("batch results: %w", err)
	}
	defer rows.Close()
	var out []batches.Result
	var last int64
	for rows.Next() {
		var r batches.Result
		var typ string
		if err := rows.Scan(&last, &r.CustomID, &typ, &r.Body); err != nil {
			return nil, 0, fmt.Errorf("batch results: %w", err)
		}
		r.Type = batches.ResultType(typ)
		out = append(out, r)
	}
	return out, last, rows.Err()
}

// ClaimRequest takes the oldest runnable request. The candidate is found without the
// write lock (the search may read many rows of workspaces in skip), then taken by an
// update that checks it is still runnable, and another is looked for if a concurrent
// claim took it first: the optimistic form of the SELECT … FOR UPDATE SKIP LOCKED a
// server sharing PostgreSQL uses.
func (db *DB) ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration, skip []codebox.WorkspaceID) (*batches.Claim, error) {
	ts := formatTime(now)
	q := `SELECT r.id, r.batch_id, b.workspace_id, r.custom_id, r.params, r.attempts
		FROM message_batch_requests r JOIN message_batches b ON b.id = r.batch_id
		WHERE r.state IN ('pending', 'running')
		  AND ((r.state = 'pending' AND r.not_before <= ?) OR (r.state = 'running' AND r.lease_until < ?))
		  AND b.processing_status = 'in_progress' AND b.expires_at > ?`
	args := []any{ts, ts, ts}
	if len(skip) > 0 {
		q += ` AND b.workspace_id NOT IN (?` + strings.Repeat(`, ?`, len(skip)-1) + `)`
		for _, ws := range skip {
			args = append(args, string(ws))
		}
	}
	q += ` ORDER BY r.id LIMIT 1`
	for {
		var c batches.Claim
		var ws string
		if err := db.db.QueryRowContext(ctx, q, args...).Scan(&c.RequestID, &c.BatchID, &ws, &c.CustomID, &c.Params, &c.Token); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, errdefs.ErrNotFound
			}
			return nil, fmt.Errorf("claim batch request: %w", err)
		}
		c.Workspace = codebox.WorkspaceID(ws)
		res, err := db.db.ExecContext(ctx, `UPDATE message_batch_requests SET state = 'running', claimed_by = ?, lease_until = ?,
			attempts = attempts + 1 WHERE id = ? AND attempts = ?
			AND ((state = 'pending' AND not_before <= ?) OR (state = 'running' AND lease_until < ?))
			AND EXISTS (SELECT 1 FROM message_batches WHERE id = ? AND processing_status = 'in_progress')`,
			owner, formatTime(now.Add(lease)), c.RequestID, c.Token, ts, ts, c.BatchID)
		if err != nil {
			return nil, fmt.Errorf("claim batch request: %w", formatError(err))
		}
		if n, _ := res.RowsAffected(); n == 1 {
			c.Token++
			return &c, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// held is the condition under which c is still owner's.
const held = `id = ? AND state = 'running' AND claimed_by = ? AND attempts = ?`

// RenewClaim extends c's lease.
func (db *DB) RenewClaim(ctx context.Context, c *batches.Claim, owner string, until time.Time) error {
	res, err := db.db.ExecContext(ctx, `UPDATE message_batch_requests SET lease_until = ? WHERE `+held,
		formatTime(until), c.RequestID, owner, c.Token)
	if err != nil {
		return fmt.Errorf("renew claim: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("request %s of %s: claim lost: %w", c.CustomID, c.BatchID, errdefs.ErrConflict)
	}
	return nil
}

// FinishRequest records c's result.
func (db *DB) FinishRequest(ctx context.Context, c *batches.Claim, owner string, typ batches.ResultType, body []byte, now time.Time) error {
	col := map[batches.ResultType]string{batches.Succeeded: "succeeded", batches.Errored: "errored"}[typ]
	if col == "" {
		return fmt.Errorf("finish request: result type %q: %w", typ, errdefs.ErrInvalid)
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish request: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE message_batch_requests SET state = ?, result = ?, params = x'', claimed_by = '',
		lease_until = '' WHERE `+held, string(typ), body, c.RequestID, owner, c.Token)
	if err != nil {
		return fmt.Errorf("finish request: %w", formatError(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("request %s of %s: claim lost: %w", c.CustomID, c.BatchID, errdefs.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE message_batches SET processing = processing - 1, `+col+` = `+col+` + 1
		WHERE id = ?`, c.BatchID); err != nil {
		return fmt.Errorf("finish request: %w", err)
	}
	if err := endIfDone(ctx, tx, c.BatchID, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish request: %w", formatError(err))
	}
	return nil
}

// ReleaseClaim puts c back in the queue. A batch canceled meanwhile cancels it here,
// since the cancel could not while it ran.
func (db *DB) ReleaseClaim(ctx context.Context, c *batches.Claim, owner string, notBefore time.Time) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("release claim: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE message_batch_requests SET state = 'pending', claimed_by = '', lease_until = '',
		not_before = ? WHERE `+held, formatTime(notBefore), c.RequestID, owner, c.Token); err != nil {
		return fmt.Errorf("release claim: %w", err)
	}
	if err := cancelPending(ctx, tx, c.BatchID, db.Now()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("release claim: %w", formatError(err))
	}
	return nil
}

// cancelPending cancels the pending requests of batch id if it is canceling.
func cancelPending(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE message_batch_requests SET state = 'canceled', params = x''
		WHERE batch_id = ? AND state = 'pending' AND EXISTS (SELECT 1 FROM message_batches WHERE id = ? AND processing_status = ?)`,
		id, id, string(batches.StatusCanceling))
	if err != nil {
		return fmt.Errorf("cancel batch %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE message_batches SET processing = processing - ?, canceled = canceled + ? WHERE id = ?`,
			n, n, id); err != nil {
			return fmt.Errorf("cancel batch %s: %w", id, err)
		}
	}
	return endIfDone(ctx, tx, id, now)
}

// ReleaseOwner puts owner's claims back in the queue.
func (db *DB) ReleaseOwner(ctx context.Context, owner string) (int, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("release claims: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `UPDATE message_batch_requests SET state = 'pending', claimed_by = '', lease_until = ''
		WHERE state = 'running' AND claimed_by = ? RETURNING batch_id`, owner)
	if err != nil {
		return 0, fmt.Errorf("release claims: %w", err)
	}
	touched := map[string]bool{}
	n := 0
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("release claims: %w", err)
		}
		touched[id] = true
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("release claims: %w", err)
	}
	for id := range touched {
		if err := cancelPending(ctx, tx, id, db.Now()); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("release claims: %w", formatError(err))
	}
	return n, nil
}

// ExpireBatches expires the pending requests of batches past their expires_at.
func (db *DB) ExpireBatches(ctx context.Context, now time.Time) (int, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("expire batches: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM message_batches WHERE processing_status != ? AND expires_at <= ?`,
		string(batches.StatusEnded), formatTime(now))
	if err != nil {
		return 0, fmt.Errorf("expire batches: %w", err)
	}
	var due []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("expire batches: %w", err)
		}
		due = append(due, id)
	}
	rows.Close()
	total := 0
	for _, id := range due {
		// A request whose lease ran out is not running anywhere any more: it expires too.
		res, err := tx.ExecContext(ctx, `UPDATE message_batch_requests SET state = 'expired', params = x'', claimed_by = ''
			WHERE batch_id = ? AND (state = 'pending' OR (state = 'running' AND lease_until < ?))`, id, formatTime(now))
		if err != nil {
			return 0, fmt.Errorf("expire batch %s: %w", id, err)
		}
		n, _ := res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE message_batches SET processing = processing - ?, expired = expired + ? WHERE id = ?`,
			n, n, id); err != nil {
			return 0, fmt.Errorf("expire batch %s: %w", id, err)
		}
		if err := endIfDone(ctx, tx, id, now); err != nil {
			return 0, err
		}
		total += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("expire batches: %w", formatError(err))
	}
	return total, nil
}

// PurgeBatches removes batches that ended before cutoff.
func (db *DB) PurgeBatches(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := db.db.ExecContext(ctx, `DELETE FROM message_batches WHERE ended_at IS NOT NULL AND ended_at < ?`, formatTime(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge batches: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
