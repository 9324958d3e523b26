package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/store/sqlite"
)

func newBatch(t *testing.T, db *sqlite.DB, ws codebox.WorkspaceID, id string, at time.Time, n int) {
	t.Helper()
	reqs := make([]batches.NewRequest, n)
	for i := range reqs {
		reqs[i] = batches.NewRequest{CustomID: fmt.Sprintf("r%d", i), Params: []byte(`{}`)}
	}
	b := &batches.Batch{ID: id, Workspace: ws, Status: batches.StatusInProgress, Counts: batches.Counts{Processing: int64(n)},
		CreatedAt: at, ExpiresAt: at.Add(batches.Lifetime)}
	if err := db.CreateBatch(context.Background(), b, reqs); err != nil {
		t.Fatal(err)
	}
}

func mustClaim(t *testing.T, db *sqlite.DB, owner string, now time.Time, skip ...codebox.WorkspaceID) *batches.Claim {
	t.Helper()
	c, err := db.ClaimRequest(context.Background(), owner, now, time.Minute, skip)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return c
}

// TestBatchClaimsAnswerOnce: a claim is a lease; once it lapses another server takes the
// request, and the first one's late result is refused, so a request is answered once.
func TestBatchClaimsAnswerOnce(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	newBatch(t, db, "ws", "msgbatch_a", t0, 2)

	c1 := mustClaim(t, db, "node1", t0)
	c2 := mustClaim(t, db, "node1", t0)
	if c1.CustomID != "r0" || c2.CustomID != "r1" || c1.Workspace != "ws" || string(c1.Params) != "{}" {
		t.Fatalf("claims = %+v, %+v", c1, c2)
	}
	if _, err := db.ClaimRequest(ctx, "node1", t0, time.Minute, nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("third claim: %v, want ErrNotFound", err)
	}
	// node1 stalls; its lease on r0 lapses and node2 takes it.
	later := t0.Add(2 * time.Minute)
	if err := db.RenewClaim(ctx, c2, "node1", later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	taken := mustClaim(t, db, "node2", later)
	if taken.CustomID != "r0" || taken.Token != c1.Token+1 {
		t.Fatalf("takeover = %+v", taken)
	}
	if err := db.FinishRequest(ctx, c1, "node1", batches.Succeeded, []byte(`{"late":true}`), later); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("late finish: %v, want ErrConflict", err)
	}
	if err := db.RenewClaim(ctx, c1, "node1", later); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("late renew: %v, want ErrConflict", err)
	}
	if err := db.FinishRequest(ctx, taken, "node2", batches.Succeeded, []byte(`{"id":"msg_1"}`), later); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishRequest(ctx, taken, "node2", batches.Succeeded, []byte(`{"id":"msg_2"}`), later); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second finish: %v, want ErrConflict", err)
	}
	b, _ := db.GetBatch(ctx, "ws", "msgbatch_a")
	if b.Status != batches.StatusInProgress || b.Counts != (batches.Counts{Processing: 1, Succeeded: 1}) {
		t.Fatalf("batch = %+v", b)
	}
	if err := db.FinishRequest(ctx, c2, "node1", batches.Errored, []byte(`{"type":"error"}`), later); err != nil {
		t.Fatal(err)
	}
	b, _ = db.GetBatch(ctx, "ws", "msgbatch_a")
	if b.Status != batches.StatusEnded || !b.EndedAt.Equal(later) || b.Counts != (batches.Counts{Succeeded: 1, Errored: 1}) {
		t.Fatalf("ended batch = %+v", b)
	}
	var got []string
	db.Results(ctx, "ws", "msgbatch_a", func(r batches.Result) error {
		got = append(got, r.CustomID+":"+string(r.Type)+":"+string(r.Body))
		return nil
	})
	if fmt.Sprint(got) != `[r0:succeeded:{"id":"msg_1"} r1:errored:{"type":"error"}]` {
		t.Errorf("results = %v", got)
	}
	if err := db.Results(ctx, "other", "msgbatch_a", func(batches.Result) error { return nil }); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("other workspace's results: %v", err)
	}
}

// TestBatchReleaseAndCancel: a restart takes back its own claims at once; a cancel
// cancels what is pending and lets the running request finish; a claim put back while
// its batch cancels is canceled.
func TestBatchReleaseAndCancel(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	newBatch(t, db, "ws", "msgbatch_a", t0, 4)
	c := mustClaim(t, db, "me", t0)
	if n, err := db.ReleaseOwner(ctx, "me"); err != nil || n != 1 {
		t.Fatalf("release owner = %d, %v", n, err)
	}
	again := mustClaim(t, db, "me", t0)
	if again.RequestID != c.RequestID {
		t.Fatalf("released request not claimed first: %+v", again)
	}
	other := mustClaim(t, db, "me", t0)
	b, err := db.CancelBatch(ctx, "ws", "msgbatch_a", t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != batches.StatusCanceling || b.Counts != (batches.Counts{Processing: 2, Canceled: 2}) || b.CancelInitiatedAt.IsZero() {
		t.Fatalf("canceling batch = %+v", b)
	}
	if _, err := db.ClaimRequest(ctx, "me", t0, time.Minute, nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("claim from a canceling batch: %v", err)
	}
	if err := db.DeleteBatch(ctx, "ws", "msgbatch_a"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("delete while canceling: %v", err)
	}
	if err := db.FinishRequest(ctx, again, "me", batches.Succeeded, []byte(`{}`), t0); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseClaim(ctx, other, "me", t0); err != nil {
		t.Fatal(err)
	}
	b, _ = db.GetBatch(ctx, "ws", "msgbatch_a")
	if b.Status != batches.StatusEnded || b.Counts != (batches.Counts{Succeeded: 1, Canceled: 3}) {
		t.Fatalf("batch = %+v", b)
	}
	if err := db.DeleteBatch(ctx, "ws", "msgbatch_a"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetBatch(ctx, "ws", "msgbatch_a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("deleted batch: %v", err)
	}
}

// TestBatchQueueOrderAndSkip: requests run oldest first; a workspace at its cap is
// skipped; a request put back with a delay waits for it.
func TestBatchQueueOrderAndSkip(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	newBatch(t, db, "busy", "msgbatch_a", t0, 2)
	newBatch(t, db, "idle", "msgbatch_b", t0.Add(time.Second), 1)
	if c := mustClaim(t, db, "me", t0, "busy"); c.BatchID != "msgbatch_b" {
		t.Fatalf("claim skipping busy = %+v", c)
	}
	c := mustClaim(t, db, "me", t0)
	if c.BatchID != "msgbatch_a" || c.CustomID != "r0" {
		t.Fatalf("claim = %+v", c)
	}
	if err := db.ReleaseClaim(ctx, c, "me", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c := mustClaim(t, db, "me", t0); c.CustomID != "r1" {
		t.Fatalf("claim before the delay = %+v", c)
	}
	if c := mustClaim(t, db, "me", t0.Add(time.Minute)); c.CustomID != "r0" || c.Token != 2 {
		t.Fatalf("claim after the delay = %+v", c)
	}
}

// TestBatchExpireAndPurge: at expires_at pending requests expire; ended batches go after
// the retention.
func TestBatchExpireAndPurge(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	newBatch(t, db, "ws", "msgbatch_a", t0, 3)
	newBatch(t, db, "ws", "msgbatch_b", t0.Add(time.Hour), 1)
	running := mustClaim(t, db, "me", t0)
	if n, err := db.ExpireBatches(ctx, t0.Add(batches.Lifetime-time.Second)); err != nil || n != 0 {
		t.Fatalf("expire before due = %d, %v", n, err)
	}
	due := t0.Add(batches.Lifetime)
	if _, err := db.ClaimRequest(ctx, "me", due, time.Hour*48, []codebox.WorkspaceID{"nobody"}); err != nil {
		// msgbatch_b is not due yet and may be claimed; msgbatch_a's are not.
		t.Fatal(err)
	}
	if err := db.RenewClaim(ctx, running, "me", due.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := db.ExpireBatches(ctx, due); err != nil || n != 2 {
		t.Fatalf("expire = %d, %v, want 2", n, err)
	}
	b, _ := db.GetBatch(ctx, "ws", "msgbatch_a")
	if b.Status != batches.StatusInProgress || b.Counts != (batches.Counts{Processing: 1, Expired: 2}) {
		t.Fatalf("batch = %+v", b)
	}
	if err := db.FinishRequest(ctx, running, "me", batches.Succeeded, []byte(`{}`), due); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PurgeBatches(ctx, due); err != nil || n != 0 {
		t.Fatalf("purge at the end = %d, %v", n, err)
	}
	if n, err := db.PurgeBatches(ctx, due.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("purge after = %d, %v", n, err)
	}
	if _, err := db.GetBatch(ctx, "ws", "msgbatch_a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("purged batch: %v", err)
	}
	var left int
	db.SQL().QueryRow(`SELECT count(*) FROM message_batch_requests WHERE batch_id = 'msgbatch_a'`).Scan(&left)
	if left != 0 {
		t.Errorf("%d requests of a purged batch left", left)
	}
}

// TestBatchListPaging pages newest first both ways, batches made in one instant included.
func TestBatchListPaging(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i, at := range []time.Duration{0, time.Second, time.Second, 2 * time.Second} {
		newBatch(t, db, "ws", fmt.Sprintf("msgbatch_%d", i), t0.Add(at), 1)
	}
	newBatch(t, db, "other", "msgbatch_x", t0, 1)
	ids := func(list []*batches.Batch) string {
		var s []string
		for _, b := range list {
			s = append(s, b.ID[len("msgbatch_"):])
		}
		return fmt.Sprint(s)
	}
	page := func(q batches.ListQuery) string {
		list, more, err := db.ListBatches(ctx, "ws", q)
		if err != nil {
			t.Fatal(err)
		}
		return ids(list) + fmt.Sprint(more)
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
	if _, _, err := db.ListBatches(ctx, "ws", batches.ListQuery{Limit: 1, AfterID: "msgbatch_x"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("cursor of another workspace: %v", err)
	}
}
