package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/batches/batchestest"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/store/postgres"
)

func TestBatchStore(t *testing.T) {
	batchestest.RunStore(t, func(t *testing.T) batches.Store { return MustOpen(t) })
}

// batchNodes opens one database n times, as n nodes sharing it do, each with its own
// connection pool.
func batchNodes(t *testing.T, n int) []batches.Store {
	dsn := testenv.Postgres(t)
	var nodes []batches.Store
	for range n {
		db, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes = append(nodes, db)
	}
	return nodes
}

// TestBatchClaimersOnSeveralNodes: nodes sharing one database, several claimers each,
// run one batch to its end: no request is claimed twice, none is lost, and the counts
// add up.
func TestBatchClaimersOnSeveralNodes(t *testing.T) {
	batchestest.RunClaimers(t, batchNodes(t, 3), 12, 300)
}

// TestBatchCancelOnSeveralNodes: batches canceled on one node while others answer and
// put back their requests end with none left waiting.
func TestBatchCancelOnSeveralNodes(t *testing.T) {
	batchestest.RunCancelUnderLoad(t, batchNodes(t, 3), 9, 20, 60)
}

// TestBatchPurgeOnSeveralNodes: nodes sweeping at once remove each ended batch once,
// and together all of them.
func TestBatchPurgeOnSeveralNodes(t *testing.T) {
	nodes := batchNodes(t, 3)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	const n = 60
	for i := range n {
		id := fmt.Sprintf("msgbatch_%02d", i)
		batchestest.NewBatch(t, nodes[0], "ws", id, t0, 2)
		if _, err := nodes[0].CancelBatch(ctx, "ws", id, t0); err != nil {
			t.Fatal(err)
		}
	}
	counts := make([]int, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, s := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = s.PurgeBatches(ctx, t0.Add(time.Second))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// What a sweep passed over because another was removing it, a later sweep finds gone.
	rest, err := nodes[0].PurgeBatches(ctx, t0.Add(time.Second))
	if total := counts[0] + counts[1] + counts[2] + rest; err != nil || total != n {
		t.Fatalf("purged %v then %d (%v): %d in all, want %d", counts, rest, err, total, n)
	}
	if list, _, err := nodes[1].ListBatches(ctx, "ws", batches.ListQuery{Limit: 100}); err != nil || len(list) != 0 {
		t.Fatalf("%d batches left, %v", len(list), err)
	}
}
