// Package batchestest holds the conformance suite of batches.Store: every driver runs
// it, so that a new one (PostgreSQL) is held to what the SQLite driver does, leases and
// the answer-once rule included.
package batchestest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/errdefs"
)

// t0 is where the suite's clock starts; times have microsecond precision, the finest
// every driver keeps.
var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// RunStore runs the suite against stores made by newStore, one fresh store per subtest.
func RunStore(t *testing.T, newStore func(t *testing.T) batches.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s batches.Store)
	}{
		{"ClaimsAnswerOnce", testClaimsAnswerOnce},
		{"ReleaseAndCancel", testReleaseAndCancel},
		{"ReleaseOwnerIsPerOwner", testReleaseOwnerIsPerOwner},
		{"QueueOrderAndSkip", testQueueOrderAndSkip},
		{"ExpireAndPurge", testExpireAndPurge},
		{"ListPaging", testListPaging},
		{"CreateGetAndScope", testCreateGetAndScope},
		{"ConcurrentClaimers", func(t *testing.T, s batches.Store) { RunClaimers(t, []batches.Store{s}, 8, 120) }},
		{"CancelUnderLoad", func(t *testing.T, s batches.Store) { RunCancelUnderLoad(t, []batches.Store{s}, 6, 5, 40) }},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

// NewBatch stores a batch id of ws created at at, with n requests r0, r1, … .
func NewBatch(t testing.TB, s batches.Store, ws codebox.WorkspaceID, id string, at time.Time, n int) {
	t.Helper()
	reqs := make([]batches.NewRequest, n)
	for i := range reqs {
		reqs[i] = batches.NewRequest{CustomID: fmt.Sprintf("r%d", i), Params: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	b := &batches.Batch{ID: id, Workspace: ws, Status: batches.StatusInProgress, Counts: batches.Counts{Processing: int64(n)},
		CreatedAt: at, ExpiresAt: at.Add(batches.Lifetime)}
	if err := s.CreateBatch(context.Background(), b, reqs); err != nil {
		t.Fatal(err)
	}
}

func mustClaim(t *testing.T, s batches.Store, owner string, now time.Time, skip ...codebox.WorkspaceID) *batches.Claim {
	t.Helper()
	c, err := s.ClaimRequest(context.Background(), owner, now, time.Minute, skip)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return c
}

func mustGet(t *testing.T, s batches.Store, ws codebox.WorkspaceID, id string) *batches.Batch {
	t.Helper()
	b, err := s.GetBatch(context.Background(), ws, id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// results are ws's batch id's results as custom_id:type:body.
func results(t *testing.T, s batches.Store, ws codebox.WorkspaceID, id string) []string {
	t.Helper()
	var got []string
	if err := s.Results(context.Background(), ws, id, func(r batches.Result) error {
		got = append(got, r.CustomID+":"+string(r.Type)+":"+string(r.Body))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// testClaimsAnswerOnce: a claim is a lease; once it lapses another server takes the
// request, and the first one's late result is refused, so a request is answered once.
func testClaimsAnswerOnce(t *testing.T, s batches.Store) {
	ctx := context.Background()
	NewBatch(t, s, "ws", "msgbatch_a", t0, 2)

	c1 := mustClaim(t, s, "node1", t0)
	c2 := mustClaim(t, s, "node1", t0)
	if c1.CustomID != "r0" || c2.CustomID != "r1" || c1.Workspace != "ws" || c1.BatchID != "msgbatch_a" || string(c1.Params) != `{"n":0}` {
		t.Fatalf("claims = %+v, %+v", c1, c2)
	}
	if _, err := s.ClaimRequest(ctx, "node1", t0, time.Minute, nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("third claim: %v, want ErrNotFound", err)
	}
	// Only the holder writes a result: another owner presenting the claim is refused.
	if err := s.FinishRequest(ctx, c1, "node2", batches.Succeeded, []byte(`{"thief":true}`), t0); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("finish by another owner: %v, want ErrConflict", err)
	}
	if err := s.RenewClaim(ctx, c1, "node2", t0.Add(time.Hour)); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("renew by another owner: %v, want ErrConflict", err)
	}
	// node1 stalls; its lease on r0 lapses and node2 takes it.
	later := t0.Add(2 * time.Minute)
	if err := s.RenewClaim(ctx, c2, "node1", later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	taken := mustClaim(t, s, "node2", later)
	if taken.CustomID != "r0" || taken.Token != c1.Token+1 {
		t.Fatalf("takeover = %+v, want r0 with token %d", taken, c1.Token+1)
	}
	if err := s.FinishRequest(ctx, c1, "node1", batches.Succeeded, []byte(`{"late":true}`), later); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("late finish: %v, want ErrConflict", err)
	}
	if err := s.RenewClaim(ctx, c1, "node1", later); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("late renew: %v, want ErrConflict", err)
	}
	if err := s.FinishRequest(ctx, taken, "node2", batches.Canceled, nil, later); err == nil {
		t.Fatal("finish as canceled: no error; only succeeded and errored are answers")
	}
	if err := s.FinishRequest(ctx, taken, "node2", batches.Succeeded, []byte(`{"id":"msg_1"}`), later); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRequest(ctx, taken, "node2", batches.Succeeded, []byte(`{"id":"msg_2"}`), later); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second finish: %v, want ErrConflict", err)
	}
	if b := mustGet(t, s, "ws", "msgbatch_a"); b.Status != batches.StatusInProgress || b.Counts != (batches.Counts{Processing: 1, Succeeded: 1}) || !b.EndedAt.IsZero() {
		t.Fatalf("batch = %+v", b)
	}
	if got := results(t, s, "ws", "msgbatch_a"); fmt.Sprint(got) != `[r0:succeeded:{"id":"msg_1"}]` {
		t.Errorf("results while one runs = %v", got)
	}
	if err := s.FinishRequest(ctx, c2, "node1", batches.Errored, []byte(`{"type":"error"}`), later); err != nil {
		t.Fatal(err)
	}
	b := mustGet(t, s, "ws", "msgbatch_a")
	if b.Status != batches.StatusEnded || !b.EndedAt.Equal(later) || b.Counts != (batches.Counts{Succeeded: 1, Errored: 1}) {
		t.Fatalf("ended batch = %+v", b)
	}
	if got := results(t, s, "ws", "msgbatch_a"); fmt.Sprint(got) != `[r0:succeeded:{"id":"msg_1"} r1:errored:{"type":"error"}]` {
		t.Errorf("results = %v", got)
	}
	if err := s.Results(ctx, "other", "msgbatch_a", func(batches.Result) error { return nil }); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("other workspace's results: %v", err)
	}
	// fn's error stops the walk and comes back.
	stop := errors.New("stop")
	if err := s.Results(ctx, "ws", "msgbatch_a", func(batches.Result) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Results with a failing fn = %v, want its error", err)
	}
}

// testReleaseAndCancel: a restart takes back its own claims at once; a cancel cancels
// what is pending and lets the running request finish; a claim put back while its batch
// cancels is canceled.
func testReleaseAndCancel(t *testing.T, s batches.Store) {
	ctx := context.Background()
	NewBatch(t, s, "ws", "msgbatch_a", t0, 4)
	c := mustClaim(t, s, "me", t0)
	if n, err := s.ReleaseOwner(ctx, "me"); err != nil || n != 1 {
		t.Fatalf("release owner = %d, %v", n, err)
	}
	if err := s.FinishRequest(ctx, c, "me", batches.Succeeded, []byte(`{}`), t0); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("finish of a released claim: %v, want ErrConflict", err)
	}
	again := mustClaim(t, s, "me", t0)
	if again.RequestID != c.RequestID {
		t.Fatalf("released request not claimed first: %+v", again)
	}
	other := mustClaim(t, s, "me", t0)
	b, err := s.CancelBatch(ctx, "ws", "msgbatch_a", t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != batches.StatusCanceling || b.Counts != (batches.Counts{Processing: 2, Canceled: 2}) || !b.CancelInitiatedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("canceling batch = %+v", b)
	}
	if b2, err := s.CancelBatch(ctx, "ws", "msgbatch_a", t0.Add(2*time.Second)); err != nil || !b2.CancelInitiatedAt.Equal(b.CancelInitiatedAt) || b2.Counts != b.Counts {
		t.Fatalf("second cancel = %+v, %v; want the batch unchanged", b2, err)
	}
	if _, err := s.CancelBatch(ctx, "other", "msgbatch_a", t0); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("cancel from another workspace: %v", err)
	}
	if _, err := s.ClaimRequest(ctx, "me", t0, time.Minute, nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("claim from a canceling batch: %v", err)
	}
	if err := s.DeleteBatch(ctx, "ws", "msgbatch_a"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("delete while canceling: %v", err)
	}
	if err := s.FinishRequest(ctx, again, "me", batches.Succeeded, []byte(`{}`), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseClaim(ctx, other, "me", t0); err != nil {
		t.Fatal(err)
	}
	b = mustGet(t, s, "ws", "msgbatch_a")
	if b.Status != batches.StatusEnded || b.Counts != (batches.Counts{Succeeded: 1, Canceled: 3}) || b.EndedAt.IsZero() {
		t.Fatalf("batch = %+v", b)
	}
	if got := results(t, s, "ws", "msgbatch_a"); fmt.Sprint(got) != `[r0:succeeded:{} r1:canceled: r2:canceled: r3:canceled:]` {
		t.Errorf("results = %v", got)
	}
	if err := s.DeleteBatch(ctx, "other", "msgbatch_a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("delete from another workspace: %v", err)
	}
	if err := s.DeleteBatch(ctx, "ws", "msgbatch_a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBatch(ctx, "ws", "msgbatch_a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("deleted batch: %v", err)
	}
	if err := s.Results(ctx, "ws", "msgbatch_a", func(batches.Result) error { return nil }); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("results of a deleted batch: %v", err)
	}
	// A batch canceled with nothing running ends at once.
	NewBatch(t, s, "ws", "msgbatch_b", t0, 2)
	if b, err := s.CancelBatch(ctx, "ws", "msgbatch_b", t0); err != nil || b.Status != batches.StatusEnded ||
		b.Counts != (batches.Counts{Canceled: 2}) || !b.EndedAt.Equal(t0) {
		t.Fatalf("cancel of an idle batch = %+v, %v", b, err)
	}
}

// testReleaseOwnerIsPerOwner: several servers share the queue; one that restarts takes
// back its own claims only, never those another server is running.
func testReleaseOwnerIsPerOwner(t *testing.T, s batches.Store) {
	ctx := context.Background()
	NewBatch(t, s, "ws", "msgbatch_a", t0, 3)
	mine := mustClaim(t, s, "node-a", t0)
	theirs := mustClaim(t, s, "node-b", t0)
	if n, err := s.ReleaseOwner(ctx, "node-a"); err != nil || n != 1 {
		t.Fatalf("release node-a = %d, %v; want 1", n, err)
	}
	if n, err := s.ReleaseOwner(ctx, "node-c"); err != nil || n != 0 {
		t.Fatalf("release of an owner without claims = %d, %v", n, err)
	}
	if err := s.FinishRequest(ctx, theirs, "node-b", batches.Succeeded, []byte(`{}`), t0); err != nil {
		t.Fatalf("node-b's claim after node-a's release: %v", err)
	}
	if c := mustClaim(t, s, "node-a", t0); c.RequestID != mine.RequestID {
		t.Fatalf("claim after release = %+v, want the released request", c)
	}
}

// testQueueOrderAndSkip: requests run oldest first; a workspace at its cap is skipped;
// a request put back with a delay waits for it.
func testQueueOrderAndSkip(t *testing.T, s batches.Store) {
	ctx := context.Background()
	NewBatch(t, s, "busy", "msgbatch_a", t0, 2)
	NewBatch(t, s, "idle", "msgbatch_b", t0.Add(time.Second), 1)
	NewBatch(t, s, "full", "msgbatch_c", t0.Add(time.Second), 1)
	if c := mustClaim(t, s, "me", t0, "busy"); c.BatchID != "msgbatch_b" || c.Workspace != "idle" {
		t.Fatalf("claim skipping busy = %+v", c)
	}
	if _, err := s.ClaimRequest(ctx, "me", t0, time.Minute, []codebox.WorkspaceID{"busy", "full"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("claim skipping every workspace with work: %v", err)
	}
	c := mustClaim(t, s, "me", t0)
	if c.BatchID != "msgbatch_a" || c.CustomID != "r0" {
		t.Fatalf("claim = %+v", c)
	}
	if err := s.ReleaseClaim(ctx, c, "me", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c := mustClaim(t, s, "me", t0); c.CustomID != "r1" {
		t.Fatalf("claim before the delay = %+v", c)
	}
	if c := mustClaim(t, s, "me", t0, "busy"); c.BatchID != "msgbatch_c" {
		t.Fatalf("claim = %+v, want msgbatch_c's", c)
	}
	if c := mustClaim(t, s, "me", t0.Add(time.Minute)); c.CustomID != "r0" || c.Token != 2 {
		t.Fatalf("claim after the delay = %+v", c)
	}
}

// testExpireAndPurge: at expires_at pending requests expire; ended batches go after the
// retention.
func testExpireAndPurge(t *testing.T, s batches.Store) {
	ctx := context.Background()
	NewBatch(t, s, "ws", "msgbatch_a", t0, 3)
	NewBatch(t, s, "ws", "msgbatch_b", t0.Add(time.Hour), 1)
	running := mustClaim(t, s, "me", t0)
	if n, err := s.ExpireBatches(ctx, t0.Add(batches.Lifetime-time.Second)); err != nil || n != 0 {
		t.Fatalf("expire before due = %d, %v", n, err)
	}
	due := t0.Add(batches.Lifetime)
	// msgbatch_a is due: its requests are no longer claimed; msgbatch_b's is.
	if c := mustClaim(t, s, "me", due); c.BatchID != "msgbatch_b" {
		t.Fatalf("claim at expiry = %+v, want msgbatch_b's", c)
	}
	if err := s.RenewClaim(ctx, running, "me", due.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ExpireBatches(ctx, due); err != nil || n != 2 {
		t.Fatalf("expire = %d, %v, want 2", n, err)
	}
	if b := mustGet(t, s, "ws", "msgbatch_a"); b.Status != batches.StatusInProgress || b.Counts != (batches.Counts{Processing: 1, Expired: 2}) {
		t.Fatalf("batch = %+v", b)
	}
	if err := s.FinishRequest(ctx, running, "me", batches.Succeeded, []byte(`{}`), due); err != nil {
		t.Fatal(err)
	}
	if got := results(t, s, "ws", "msgbatch_a"); fmt.Sprint(got) != `[r0:succeeded:{} r1:expired: r2:expired:]` {
		t.Errorf("results = %v", got)
	}
	if n, err := s.PurgeBatches(ctx, due); err != nil || n != 0 {
		t.Fatalf("purge at the end = %d, %v", n, err)
	}
	if n, err := s.PurgeBatches(ctx, due.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("purge after = %d, %v", n, err)
	}
	if _, err := s.GetBatch(ctx, "ws", "msgbatch_a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("purged batch: %v", err)
	}
	if err := s.Results(ctx, "ws", "msgbatch_a", func(batches.Result) error { return nil }); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("results of a purged batch: %v", err)
	}
	if _, err := s.GetBatch(ctx, "ws", "msgbatch_b"); err != nil {
		t.Fatalf("a batch still running was purged: %v", err)
	}
	// A request whose lease ran out expires with the pending ones, ending the batch.
	if n, err := s.ExpireBatches(ctx, due.Add(batches.Lifetime)); err != nil || n != 1 {
		t.Fatalf("expire of a lapsed claim = %d, %v, want 1", n, err)
	}
	if b := mustGet(t, s, "ws", "msgbatch_b"); b.Status != batches.StatusEnded || b.Counts != (batches.Counts{Expired: 1}) {
		t.Fatalf("batch b = %+v", b)
	}
}

// testListPaging pages newest first both ways, batches made in one instant included.
func testListPaging(t *testing.T, s batches.Store) {
	ctx := context.Background()
	for i, at := range []time.Duration{0, time.Second, time.Second, 2 * time.Second} {
		NewBatch(t, s, "ws", fmt.Sprintf("msgbatch_%d", i), t0.Add(at), 1)
	}
	NewBatch(t, s, "other", "msgbatch_x", t0, 1)
	page := func(q batches.ListQuery) string {
		list, more, err := s.ListBatches(ctx, "ws", q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, b := range list {
			ids = append(ids, b.ID[len("msgbatch_"):])
		}
		return fmt.Sprint(ids) + fmt.Sprint(more)
	}
	for _, tc := range []struct {
		q    batches.ListQuery
		want string
	}{
		{batches.ListQuery{Limit: 10}, "[3 2 1 0]false"},
		{batches.ListQuery{Limit: 2}, "[3 2]true"},
		{batches.ListQuery{Limit: 2, AfterID: "msgbatch_2"}, "[1 0]false"},
		{batches.ListQuery{Limit: 1, AfterID: "msgbatch_2"}, "[1]true"},
		{batches.ListQuery{Limit: 2, BeforeID: "msgbatch_0"}, "[2 1]true"},
		{batches.ListQuery{Limit: 5, BeforeID: "msgbatch_1"}, "[3 2]false"},
	} {
		if got := page(tc.q); got != tc.want {
			t.Errorf("%+v = %s, want %s", tc.q, got, tc.want)
		}
	}
	if _, _, err := s.ListBatches(ctx, "ws", batches.ListQuery{Limit: 1, AfterID: "msgbatch_x"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("cursor of another workspace: %v", err)
	}
}

// testCreateGetAndScope: a batch reads back as it went in, a repeated ID is a conflict,
// and another workspace sees nothing of it.
func testCreateGetAndScope(t *testing.T, s batches.Store) {
	ctx := context.Background()
	at := t0.Add(123456 * time.Microsecond)
	NewBatch(t, s, "ws", "msgbatch_a", at, 3)
	b := mustGet(t, s, "ws", "msgbatch_a")
	if b.ID != "msgbatch_a" || b.Workspace != "ws" || b.Status != batches.StatusInProgress || b.Counts != (batches.Counts{Processing: 3}) ||
		!b.CreatedAt.Equal(at) || !b.ExpiresAt.Equal(at.Add(batches.Lifetime)) ||
		!b.EndedAt.IsZero() || !b.CancelInitiatedAt.IsZero() || !b.ArchivedAt.IsZero() {
		t.Fatalf("GetBatch = %+v", b)
	}
	dup := &batches.Batch{ID: "msgbatch_a", Workspace: "other", Status: batches.StatusInProgress, Counts: batches.Counts{Processing: 1},
		CreatedAt: t0, ExpiresAt: t0.Add(batches.Lifetime)}
	if err := s.CreateBatch(ctx, dup, []batches.NewRequest{{CustomID: "r0", Params: []byte(`{}`)}}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("repeated batch ID: %v, want ErrConflict", err)
	}
	if _, err := s.GetBatch(ctx, "other", "msgbatch_a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("GetBatch from another workspace: %v", err)
	}
	if list, more, err := s.ListBatches(ctx, "other", batches.ListQuery{Limit: 10}); err != nil || len(list) != 0 || more {
		t.Fatalf("ListBatches of another workspace = %d, %v, %v", len(list), more, err)
	}
	// A batch whose creation failed left nothing behind: its requests are not claimed.
	bad := &batches.Batch{ID: "msgbatch_bad", Workspace: "ws", Status: batches.StatusInProgress, Counts: batches.Counts{Processing: 2},
		CreatedAt: t0, ExpiresAt: t0.Add(batches.Lifetime)}
	if err := s.CreateBatch(ctx, bad, []batches.NewRequest{{CustomID: "x", Params: []byte(`{}`)}, {CustomID: "x", Params: []byte(`{}`)}}); err == nil {
		t.Fatal("batch with a repeated custom_id stored")
	}
	if _, err := s.GetBatch(ctx, "ws", "msgbatch_bad"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("half-created batch: %v", err)
	}
	for range 3 {
		c := mustClaim(t, s, "me", t0)
		if c.BatchID != "msgbatch_a" {
			t.Fatalf("claimed %+v", c)
		}
	}
	// Results run in pages; a batch larger than one page comes back whole, in order.
	const n = 450
	NewBatch(t, s, "ws", "msgbatch_big", t0.Add(time.Hour), n)
	if _, err := s.CancelBatch(ctx, "ws", "msgbatch_big", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := results(t, s, "ws", "msgbatch_big")
	if len(got) != n || got[0] != "r0:canceled:" || got[n-1] != fmt.Sprintf("r%d:canceled:", n-1) {
		t.Fatalf("results of %d canceled requests: %d, first %q", n, len(got), got[:min(1, len(got))])
	}
}

// RunClaimers has workers claimers, spread over stores (one per server or connection,
// sharing one database), run a batch of n requests to its end: each claims, answers
// with its name, and claims again. No request may be claimed twice, none may be lost,
// and the counts must add up.
func RunClaimers(t *testing.T, stores []batches.Store, workers, n int) {
	ctx := context.Background()
	NewBatch(t, stores[0], "ws", "msgbatch_many", t0, n)
	now := t0.Add(time.Second)
	var (
		mu      sync.Mutex
		claimed = map[int64]string{}
		errs    []error
		wg      sync.WaitGroup
	)
	for w := range workers {
		s, owner := stores[w%len(stores)], fmt.Sprintf("claimer-%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := s.ClaimRequest(ctx, owner, now, time.Hour, nil)
				if errors.Is(err, errdefs.ErrNotFound) {
					return
				}
				if err == nil {
					mu.Lock()
					if prev, dup := claimed[c.RequestID]; dup {
						err = fmt.Errorf("request %s claimed by %s and %s", c.CustomID, prev, owner)
					}
					claimed[c.RequestID] = owner
					mu.Unlock()
				}
				if err == nil {
					err = s.FinishRequest(ctx, c, owner, batches.Succeeded, []byte(`"`+owner+`"`), now)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(claimed) != n {
		t.Fatalf("%d requests claimed, want %d", len(claimed), n)
	}
	b := mustGet(t, stores[0], "ws", "msgbatch_many")
	if b.Status != batches.StatusEnded || b.Counts != (batches.Counts{Succeeded: int64(n)}) {
		t.Fatalf("batch = %+v", b)
	}
	got := results(t, stores[len(stores)-1], "ws", "msgbatch_many")
	if len(got) != n {
		t.Fatalf("%d results, want %d", len(got), n)
	}
	for i, r := range got {
		if want := fmt.Sprintf("r%d:succeeded:", i); len(r) <= len(want) || r[:len(want)] != want {
			t.Fatalf("result %d = %q, want %s…", i, r, want)
		}
	}
}

// RunCancelUnderLoad cancels batches while workers claimers, spread over stores, claim
// their requests and mostly put them back, sometimes answer them: however cancels,
// answers and releases interleave, each batch ends with every request answered or
// canceled, none left waiting. Such a race is won or lost by chance, so it runs rounds
// times, a batch of n requests each.
func RunCancelUnderLoad(t *testing.T, stores []batches.Store, workers, rounds, n int) {
	for r := range rounds {
		cancelUnderLoad(t, stores, workers, fmt.Sprintf("msgbatch_cancel%d", r), n)
	}
}

func cancelUnderLoad(t *testing.T, stores []batches.Store, workers int, id string, n int) {
	t.Helper()
	ctx := context.Background()
	NewBatch(t, stores[0], "ws", id, t0, n)
	now := t0.Add(time.Second)
	var (
		answered atomic.Int64
		canceled atomic.Bool
		started  = make(chan struct{})
		once     sync.Once
		mu       sync.Mutex
		errs     []error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for w := range workers {
		s, owner := stores[w%len(stores)], fmt.Sprintf("worker-%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				c, err := s.ClaimRequest(ctx, owner, now, time.Hour, nil)
				if errors.Is(err, errdefs.ErrNotFound) {
					if canceled.Load() {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					fail(err)
					return
				}
				if i%4 != 3 {
					err = s.ReleaseClaim(ctx, c, owner, now)
				} else if err = s.FinishRequest(ctx, c, owner, batches.Succeeded, []byte(`{}`), now); err == nil && answered.Add(1) >= int64(n/10) {
					once.Do(func() { close(started) })
				}
				if err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	<-started
	b, err := stores[len(stores)-1].CancelBatch(ctx, "ws", id, now)
	canceled.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if b.Status == batches.StatusInProgress {
		t.Fatalf("batch after cancel = %+v", b)
	}
	b = mustGet(t, stores[0], "ws", id)
	c := b.Counts
	if b.Status != batches.StatusEnded || c.Processing != 0 || c.Succeeded+c.Canceled != int64(n) || c.Succeeded != answered.Load() {
		t.Fatalf("batch = %+v, %d answered; want it ended with every request answered or canceled", b, answered.Load())
	}
	if got := results(t, stores[0], "ws", id); len(got) != n {
		t.Fatalf("%d results, want %d", len(got), n)
	}
}
