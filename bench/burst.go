package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
)

// burstTarget is the p99 for a container created in a burst and running one
// command.
const burstTarget = 250 * time.Millisecond

// burstRows creates cfg.Burst containers at once on the pooled server, runs one command
// in each, and measures each create-plus-command; then again once the pool has grown
// to the demand; beside both, the same one at a time.
func burstRows(ctx context.Context, cfg Config, n int, progress func(string)) []Row {
	one := func() (time.Duration, error) {
		start := time.Now()
		c, err := cfg.Pooled.Create(ctx, ws, sandbox.CreateOptions{})
		if err != nil {
			return 0, err
		}
		defer cfg.Pooled.Delete(context.WithoutCancel(ctx), ws, c.ID)
		res, err := cfg.Pooled.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "echo hi"})
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		return d, checkResult(res, "hi")
	}
	progress("one container at a time: create and echo hi")
	seq := measure("create + echo hi, one at a time", 0, 1, n, func() (time.Duration, error) {
		if cfg.PoolReady != nil {
			if err := cfg.PoolReady(ctx); err != nil {
				return 0, err
			}
		}
		return one()
	})
	seq.Note = "Create() and one exec on the pooled server, the pool refilled in between"
	first := burst(ctx, cfg, one, "burst of %d: create + echo hi", progress)
	// The pool grew to the demand it saw: the next burst finds it ready.
	if cfg.PoolReady != nil {
		progress("waiting for the pool to grow")
		cfg.PoolReady(ctx)
	}
	again := burst(ctx, cfg, one, "burst of %d again, pool grown", progress)
	return []Row{{first, seq}, {again, seq}}
}

// burst runs one cfg.Burst times at once.
func burst(ctx context.Context, cfg Config, one func() (time.Duration, error), name string, progress func(string)) *Series {
	progress(fmt.Sprintf(name, cfg.Burst))
	b := &Series{Name: fmt.Sprintf(name, cfg.Burst), Target: burstTarget, TargetAt: 99}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range cfg.Burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := one()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			b.Samples = append(b.Samples, d)
		}()
	}
	wg.Wait()
	b.Note = fmt.Sprintf("%d Create() + exec started at once on the pooled server; %d of %d failed; the target applies to p99",
		cfg.Burst, len(errs), cfg.Burst)
	if len(errs) > 0 {
		b.Note += fmt.Sprintf(" (first: %v)", errs[0])
	}
	if len(b.Samples) == 0 {
		b.Err = fmt.Errorf("all %d failed, first: %w", cfg.Burst, errs[0])
	}
	return b
}
