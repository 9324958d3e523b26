package batches_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/store/sqlite"
)

// countingStore counts the claims made on the real store.
type countingStore struct {
	*sqlite.DB
	claims atomic.Int64
}

func (s *countingStore) ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration, skip []codebox.WorkspaceID) (*batches.Claim, error) {
	s.claims.Add(1)
	return s.DB.ClaimRequest(ctx, owner, now, lease, skip)
}

// heldExecutor answers once the test lets it; it stands for the Messages path, which
// this test is not about.
type heldExecutor struct{ release chan struct{} }

func (e heldExecutor) Execute(ctx context.Context, ws codebox.WorkspaceID, params []byte) batches.Outcome {
	select {
	case <-e.release:
	case <-ctx.Done():
	}
	return batches.Outcome{Type: batches.Succeeded, Body: []byte(`{}`)}
}

// TestIdleWorkersDoNotSpin: when a workspace is at its cap, the idle workers look
// for work at their poll interval (or when woken by a new batch), never in a loop of
// waking each other, which took the database's write lock from interactive requests.
func TestIdleWorkersDoNotSpin(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := &countingStore{DB: db}
	ex := heldExecutor{release: make(chan struct{})}
	svc := batches.New(batches.Config{Workers: 4, WorkersPerWorkspace: 1, Poll: time.Hour,
		Logger: slog.New(slog.DiscardHandler)}, store, ex)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	b, err := svc.Create(ctx, "ws", []batches.NewRequest{{CustomID: "a", Params: []byte(`{}`)}, {CustomID: "b", Params: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	// Workers' first looks, the create's wake and the chain it starts: a handful.
	if n := store.claims.Load(); n > 20 {
		t.Errorf("%d claims in half a second with one request running and one waiting for its workspace", n)
	}
	close(ex.release)
	for {
		got, err := svc.Get(ctx, "ws", b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == batches.StatusEnded {
			if got.Counts.Succeeded != 2 {
				t.Errorf("counts = %+v", got.Counts)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// finishingExecutor answers even when its context ends, as a request does whose answer
// was complete when the server began to stop.
type finishingExecutor struct{ started chan struct{} }

func (e finishingExecutor) Execute(ctx context.Context, ws codebox.WorkspaceID, params []byte) batches.Outcome {
	close(e.started)
	<-ctx.Done()
	return batches.Outcome{Type: batches.Succeeded, Body: []byte(`{"id":"msg_1"}`)}
}

// TestStopKeepsAnswers: a request that answered as the server stopped keeps its answer
// rather than running again at the next start.
func TestStopKeepsAnswers(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ex := finishingExecutor{started: make(chan struct{})}
	svc := batches.New(batches.Config{Workers: 1, Logger: slog.New(slog.DiscardHandler)}, db, ex)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	b, err := svc.Create(ctx, "ws", []batches.NewRequest{{CustomID: "a", Params: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	<-ex.started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := svc.Get(ctx, "ws", b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != batches.StatusEnded || got.Counts.Succeeded != 1 {
		t.Errorf("batch after the stop = %+v, want ended with its answer", got)
	}
}
