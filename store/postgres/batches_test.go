package postgres_test

import (
	"context"
	"testing"

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
