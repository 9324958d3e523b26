package tools_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/tools"
)

func TestLimiterWorkspace(t *testing.T) {
	l := &tools.Limiter{PerWorkspace: 1, Wait: 50 * time.Millisecond}
	ctx, release, err := l.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	// The holder's own calls run in its seat.
	if _, again, err := l.Acquire(ctx, "a"); err != nil {
		t.Fatalf("nested acquire: %v", err)
	} else {
		again()
	}
	_, _, err = l.Acquire(context.Background(), "a")
	if !errors.Is(err, errdefs.ErrRateLimited) {
		t.Fatalf("second seat = %v, want ErrRateLimited", err)
	}
	if d, ok := errdefs.RetryAfter(err); !ok || d < time.Second {
		t.Errorf("retry-after = %v, %v", d, ok)
	}
	// Another workspace has its own seats.
	if _, r, err := l.Acquire(context.Background(), "b"); err != nil {
		t.Fatal(err)
	} else {
		r()
	}
	// A waiter gets the seat when it frees up.
	l.Wait = time.Minute
	got := make(chan error, 1)
	go func() {
		_, r, err := l.Acquire(context.Background(), "a")
		if err == nil {
			r()
		}
		got <- err
	}()
	release()
	release() // freeing twice frees once
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

func TestLimiterGlobalQueue(t *testing.T) {
	l := &tools.Limiter{Global: 1, Queue: 1, Wait: time.Minute}
	_, release, err := l.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	queued := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, r, err := l.Acquire(ctx, "b")
		if err == nil {
			r()
		}
		queued <- err
	}()
	for l.Waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	// With the queue's one place taken, the next request is refused at once.
	_, _, err = l.Acquire(context.Background(), "c")
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("beyond the queue = %v, want ErrUnavailable", err)
	}
	if _, ok := errdefs.RetryAfter(err); !ok {
		t.Error("no retry-after on overload")
	}
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter = %v", err)
	}
	release()
	if _, r, err := l.Acquire(context.Background(), "c"); err != nil {
		t.Errorf("after release: %v", err)
	} else {
		r()
	}
}

// TestTryAcquire takes only free seats: never a place in the queue, never a workspace
// seat kept when the server is full.
func TestTryAcquire(t *testing.T) {
	l := &tools.Limiter{PerWorkspace: 1, Global: 2, Queue: 1, Wait: time.Second}
	ctx := context.Background()
	seated, release, ok := l.TryAcquire(ctx, "a")
	if !ok {
		t.Fatal("first seat refused")
	}
	if _, _, ok := l.TryAcquire(ctx, "a"); ok {
		t.Fatal("a second seat of workspace a taken past its limit")
	}
	if again, rel, ok := l.TryAcquire(seated, "a"); !ok || again != seated {
		t.Fatal("a context holding a seat was not let through")
	} else {
		rel()
	}
	_, releaseB, ok := l.TryAcquire(ctx, "b")
	if !ok {
		t.Fatal("seat of workspace b refused")
	}
	// The server is full: c is refused, and keeps no seat of its own workspace.
	if _, _, ok := l.TryAcquire(ctx, "c"); ok || l.Waiting() != 0 {
		t.Fatalf("try on a full server: ok %v, waiting %d", ok, l.Waiting())
	}
	releaseB()
	if _, rel, ok := l.TryAcquire(ctx, "c"); !ok {
		t.Fatal("workspace c kept a seat from its refused try")
	} else {
		rel()
	}
	release()
	if _, rel, ok := l.TryAcquire(ctx, "a"); !ok {
		t.Fatal("released seat not free")
	} else {
		rel()
	}
}
