package tools

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
)

// Limiter bounds code execution: at most PerWorkspace seats per workspace and Global
// seats in all, with at most Queue requests waiting for a global seat. A seat is held
// by a Messages request with code execution from before its first model turn to its
// end (the container it uses is busy all that time), or by one call run outside such a
// request. Waiting is bounded by Wait; a request that cannot get a seat in time is
// refused with retry-after: 429 rate_limit_error when its workspace is at its limit,
// 529 overloaded_error when the whole server is (the queue is full or the wait ran out).
type Limiter struct {
	PerWorkspace int
	Global       int
	Queue        int
	Wait         time.Duration

	mu      sync.Mutex
	ws      map[codebox.WorkspaceID]chan struct{}
	global  chan struct{}
	waiting int
	// held is a moving average of how long seats are held, from which retry-after is
	// estimated.
	held time.Duration
}

// DefaultLimiter returns a Limiter sized for this host: executions are CPU bound, so
// four seats per core in all, two per core for one workspace (so no single workspace
// can take the whole server), as many waiting as running, and ten seconds of wait.
func DefaultLimiter() *Limiter {
	n := runtime.NumCPU()
	return &Limiter{PerWorkspace: 2 * n, Global: 4 * n, Queue: 4 * n, Wait: 10 * time.Second}
}

type seatKey struct{}

// seat is the limiter seat a request holds, recorded in its context so that the calls it
// runs do not take another.
type seat struct {
	l  *Limiter
	ws codebox.WorkspaceID
}

// Acquire waits for a seat in workspace ws and returns ctx marked as holding it, and the
// function that frees it. A ctx already holding a seat of this limiter for ws is
// returned as is, with a release that does nothing.
func (l *Limiter) Acquire(ctx context.Context, ws codebox.WorkspaceID) (context.Context, func(), error) {
	if s, ok := ctx.Value(seatKey{}).(seat); ok && s.l == l && s.ws == ws {
		return ctx, func() {}, nil
	}
	wait := l.Wait
	deadline := time.NewTimer(wait)
	defer deadline.Stop()

	wsSem, global := l.sems(ws)
	if wsSem != nil {
		select {
		case wsSem <- struct{}{}:
		default:
			select {
			case wsSem <- struct{}{}:
			case <-deadline.C:
				return nil, nil, errdefs.WithRetryAfter(errdefs.New(errdefs.ErrRateLimited, "",
					"Too many code execution requests running at once in this workspace (limit %d); retry after a few seconds", l.PerWorkspace), l.retryAfter())
			case <-ctx.Done():
				return nil, nil, context.Cause(ctx)
			}
		}
	}
	releaseWS := func() {
		if wsSem != nil {
			<-wsSem
		}
	}
	if global != nil {
		select {
		case global <- struct{}{}:
		default:
			if err := l.queue(ctx, global, deadline.C); err != nil {
				releaseWS()
				return nil, nil, err
			}
		}
	}
	ctx, release := l.seated(ctx, ws, wsSem, global)
	return ctx, release, nil
}

// seated returns ctx marked as holding the seat taken in wsSem and global, and the
// function that frees it.
func (l *Limiter) seated(ctx context.Context, ws codebox.WorkspaceID, wsSem, global chan struct{}) (context.Context, func()) {
	start := time.Now()
	var once sync.Once
	release := func() {
		once.Do(func() {
			if global != nil {
				<-global
			}
			if wsSem != nil {
				<-wsSem
			}
			l.observe(time.Since(start))
		})
	}
	return context.WithValue(ctx, seatKey{}, seat{l: l, ws: ws}), release
}

// queue waits for a global seat in the bounded queue.
func (l *Limiter) queue(ctx context.Context, global chan struct{}, deadline <-chan time.Time) error {
	l.mu.Lock()
	if l.waiting >= l.Queue {
		l.mu.Unlock()
		return l.overloaded()
	}
	l.waiting++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
	}()
	select {
	case global <- struct{}{}:
		return nil
	case <-deadline:
		return l.overloaded()
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (l *Limiter) overloaded() error {
	return errdefs.WithRetryAfter(errdefs.New(errdefs.ErrUnavailable, "",
		"The server is running as much code as it can (%d executions, %d waiting); retry after a few seconds", l.Global, l.Queue), l.retryAfter())
}

// sems returns workspace ws's semaphore and the global one, nil where there is no limit.
func (l *Limiter) sems(ws codebox.WorkspaceID) (chan struct{}, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.global == nil && l.Global > 0 {
		l.global = make(chan struct{}, l.Global)
	}
	if l.PerWorkspace <= 0 {
		return nil, l.global
	}
	if l.ws == nil {
		l.ws = map[codebox.WorkspaceID]chan struct{}{}
	}
	sem, ok := l.ws[ws]
	if !ok {
		sem = make(chan struct{}, l.PerWorkspace)
		l.ws[ws] = sem
	}
	return sem, l.global
}

// Waiting reports how many requests wait for a global seat.
func (l *Limiter) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting
}

// observe folds a seat's hold time into the average.
func (l *Limiter) observe(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == 0 {
		l.held = d
		return
	}
	l.held += (d - l.held) / 8
}

// retryAfter estimates when a seat frees up: the average hold time, between 1 and 30 s.
func (l *Limiter) retryAfter() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return min(max(l.held, time.Second), 30*time.Second)
}

// TryAcquire takes a seat in workspace ws if one is free now, without waiting or
// joining the queue, and returns ctx marked as holding it and the function that frees
// it; ok is false when none is free. Background work (batches) uses it to take only
// what interactive requests leave, never a place in their queue.
func (l *Limiter) TryAcquire(ctx context.Context, ws codebox.WorkspaceID) (_ context.Context, release func(), ok bool) {
	if s, held := ctx.Value(seatKey{}).(seat); held && s.l == l && s.ws == ws {
		return ctx, func() {}, true
	}
	wsSem, global := l.sems(ws)
	if wsSem != nil {
		select {
		case wsSem <- struct{}{}:
		default:
			return nil, nil, false
		}
	}
	if global != nil {
		select {
		case global <- struct{}{}:
		default:
			if wsSem != nil {
				<-wsSem
			}
			return nil, nil, false
		}
	}
	ctx, release = l.seated(ctx, ws, wsSem, global)
	return ctx, release, true
}
