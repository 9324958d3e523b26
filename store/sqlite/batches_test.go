package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/batches/batchestest"
)

func TestBatchStore(t *testing.T) {
	batchestest.RunStore(t, func(t *testing.T) batches.Store { return MustOpen(t) })
}

// TestBatchPurgeRemovesRequests: a purged batch's requests go with it, not only its row.
func TestBatchPurgeRemovesRequests(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	batchestest.NewBatch(t, db, "ws", "msgbatch_a", t0, 3)
	if _, err := db.CancelBatch(ctx, "ws", "msgbatch_a", t0); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PurgeBatches(ctx, t0.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v", n, err)
	}
	var left int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM message_batch_requests WHERE batch_id = 'msgbatch_a'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d requests of a purged batch left (%v)", left, err)
	}
}
