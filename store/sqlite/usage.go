package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
)

// RecordUsage stores one request's usage. The container time billed is computed here,
// in the same transaction that moves the container's billed window, so concurrent
// requests on one container never bill the same time twice (see agentloop.BillSession).
func (db *DB) RecordUsage(ctx context.Context, ws codebox.WorkspaceID, rec agentloop.UsageRecord) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	defer tx.Rollback()
	var used, billed time.Duration
	if rec.ContainerID != "" {
		var until time.Time
		var s string
		err := tx.QueryRowContext(ctx, `SELECT billed_until FROM container_billing WHERE container_id = ? AND workspace_id = ?`,
			rec.ContainerID, string(ws)).Scan(&s)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("record usage: %w", err)
		default:
			if until, err = parseTime(s); err != nil {
				return fmt.Errorf("record usage: billed_until: %w", err)
			}
		}
		used = rec.ContainerEnd.Sub(rec.ContainerStart)
		var newUntil time.Time
		billed, newUntil = agentloop.BillSession(until, rec.ContainerStart, rec.ContainerEnd)
		if _, err := tx.ExecContext(ctx, `INSERT INTO container_billing (container_id, workspace_id, billed_until) VALUES (?, ?, ?)
			ON CONFLICT (container_id) DO UPDATE SET billed_until = excluded.billed_until`,
			rec.ContainerID, string(ws), formatTime(newUntil)); err != nil {
			return fmt.Errorf("record usage: %w", formatError(err))
		}
	}
	created := rec.CreatedAt
	if created.IsZero() {
		created = db.Now()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO usage_records (workspace_id, message_id, model, input_tokens, output_tokens,
		cache_creation_input_tokens, cache_read_input_tokens, code_execution_requests, container_id, container_ms,
		container_billed_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(ws), rec.MessageID, rec.Model, rec.InputTokens, rec.OutputTokens, rec.CacheCreationInputTokens,
		rec.CacheReadInputTokens, rec.CodeExecutionRequests, rec.ContainerID, used.Milliseconds(), billed.Milliseconds(),
		formatTime(created)); err != nil {
		return fmt.Errorf("record usage: %w", formatError(err))
	}
	return tx.Commit()
}

// UsageSummary totals ws's usage recorded in [start, end).
func (db *DB) UsageSummary(ctx context.Context, ws codebox.WorkspaceID, start, end time.Time) (*agentloop.UsageSummary, error) {
	sum := &agentloop.UsageSummary{Start: start, End: end}
	var usedMS, billedMS int64
	err := db.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(input_tokens),0), COALESCE(SUM(output_tokens),0),
		COALESCE(SUM(cache_creation_input_tokens),0), COALESCE(SUM(cache_read_input_tokens),0),
		COALESCE(SUM(code_execution_requests),0), COALESCE(SUM(container_ms),0), COALESCE(SUM(container_billed_ms),0)
		FROM usage_records WHERE workspace_id = ? AND created_at >= ? AND created_at < ?`,
		string(ws), formatTime(start), formatTime(end)).Scan(&sum.Requests, &sum.InputTokens, &sum.OutputTokens,
		&sum.CacheCreationInputTokens, &sum.CacheReadInputTokens, &sum.CodeExecutionRequests, &usedMS, &billedMS)
	if err != nil {
		return nil, fmt.Errorf("usage summary: %w", err)
	}
	sum.ContainerSeconds = float64(usedMS) / 1000
	sum.ContainerBilledSeconds = float64(billedMS) / 1000
	return sum, nil
}
