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
