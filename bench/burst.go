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

// burstRow creates cfg.Burst containers at once on the pooled server, runs one command
// in each, and measures each create-plus-command; beside it, the same one at a time.
func burstRow(ctx context.Context, cfg Config, n int, progress func(string)) Row {
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
	progress(fmt.Sprintf("burst: %d containers at once", cfg.Burst))
	if cfg.PoolReady != nil {
		cfg.PoolReady(ctx)
	}
	burst := &Series{Name: fmt.Sprintf("burst of %d: create + echo hi", cfg.Burst), Target: burstTarget, TargetAt: 99}
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
			burst.Samples = append(burst.Samples, d)
		}()
	}
	wg.Wait()
	burst.Note = fmt.Sprintf("%d Create() + exec started at once on the pooled server; %d of %d failed; the target applies to p99",
		cfg.Burst, len(errs), cfg.Burst)
	if len(errs) > 0 {
		burst.Note += fmt.Sprintf(" (first: %v)", errs[0])
	}
	if len(burst.Samples) == 0 {
		burst.Err = fmt.Errorf("all %d failed, first: %w", cfg.Burst, errs[0])
	}
	return Row{burst, seq}
}
