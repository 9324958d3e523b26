package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
)

// billingLockClass is the first key of the advisory lock on a container's billed
// window (the second is the hash of the container's id).
const billingLockClass = 0x62696c6c // "bill"

// RecordUsage stores one request's usage. The container time billed is computed here,
// in the same transaction that moves the container's billed window, under a
// transaction-scoped advisory lock on the container (its row may not exist yet, so a
// row lock would not do), so that concurrent requests on one container, on any node,
// never bill the same time twice (see agentloop.BillSession).
func (db *DB) RecordUsage(ctx context.Context, ws codebox.WorkspaceID, rec agentloop.UsageRecord) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var used, billed time.Duration
		if rec.ContainerID != "" {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, billingLockClass, rec.ContainerID); err != nil {
				return err
			}
			var until time.Time
			err := tx.QueryRow(ctx, `SELECT billed_until FROM container_billing WHERE container_id = $1 AND workspace_id = $2`,
				rec.ContainerID, string(ws)).Scan(&until)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			used = rec.ContainerEnd.Sub(rec.ContainerStart)
			var newUntil time.Time
			billed, newUntil = agentloop.BillSession(until, rec.ContainerStart, rec.ContainerEnd)
			if _, err := tx.Exec(ctx, `INSERT INTO container_billing (container_id, workspace_id, billed_until) VALUES ($1, $2, $3)
				ON CONFLICT (container_id) DO UPDATE SET billed_until = excluded.billed_until`,
				rec.ContainerID, string(ws), newUntil); err != nil {
				return err
			}
		}
		created := rec.CreatedAt
		if created.IsZero() {
			created = db.Now()
		}
		_, err := tx.Exec(ctx, `INSERT INTO usage_records (workspace_id, message_id, model, input_tokens, output_tokens,
			cache_creation_input_tokens, cache_read_input_tokens, code_execution_requests, container_id, container_ms,
			container_billed_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			string(ws), rec.MessageID, rec.Model, rec.InputTokens, rec.OutputTokens, rec.CacheCreationInputTokens,
			rec.CacheReadInputTokens, rec.CodeExecutionRequests, rec.ContainerID, used.Milliseconds(), billed.Milliseconds(),
			created)
		return err
	})
	if err != nil {
		return fmt.Errorf("record usage: %w", formatError(err))
	}
	return nil
}

// UsageSummary totals ws's usage recorded in [start, end).
func (db *DB) UsageSummary(ctx context.Context, ws codebox.WorkspaceID, start, end time.Time) (*agentloop.UsageSummary, error) {
	sum := &agentloop.UsageSummary{Start: start, End: end}
	var usedMS, billedMS int64
	err := db.pool.QueryRow(ctx, `SELECT count(*), COALESCE(SUM(input_tokens),0), COALESCE(SUM(output_tokens),0),
		COALESCE(SUM(cache_creation_input_tokens),0), COALESCE(SUM(cache_read_input_tokens),0),
		COALESCE(SUM(code_execution_requests),0), COALESCE(SUM(container_ms),0), COALESCE(SUM(container_billed_ms),0)
		FROM usage_records WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3`,
		string(ws), start, end).Scan(&sum.Requests, &sum.InputTokens, &sum.OutputTokens,
		&sum.CacheCreationInputTokens, &sum.CacheReadInputTokens, &sum.CodeExecutionRequests, &usedMS, &billedMS)
	if err != nil {
		return nil, fmt.Errorf("usage summary: %w", formatError(err))
	}
	sum.ContainerSeconds = float64(usedMS) / 1000
	sum.ContainerBilledSeconds = float64(billedMS) / 1000
	return sum, nil
}
