package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// burstTarget is the p99 for a container created in a burst and running one
// command.
const burstTarget = 250 * time.Millisecond

// burstRows creates cfg.Burst containers at once through the pooled server's HTTP API
// and runs one command in each, measuring each create-plus-command: first with the pool
// as it is, then once it has grown to the demand it saw; beside both, the same one at a
// time. It also reports how long the pool took to grow and to refill after the second
// burst.
func burstRows(ctx context.Context, cfg Config, n int, progress func(string)) ([]Row, []string) {
	api := cfg.PooledAPI
	one := func() (string, time.Duration, time.Duration, error) {
		start := time.Now()
		id, err := api.Create(ctx)
		created := time.Since(start)
		if err != nil {
			return "", 0, 0, err
		}
		out, err := api.Exec(ctx, id, "echo hi")
		d := time.Since(start)
		if err == nil && out != "hi\n" {
			err = fmt.Errorf("stdout %q, want hi", out)
		}
		return id, d, created, err
	}
	var notes []string
	waitPool := func(what string) {
		if cfg.PoolReady == nil {
			return
		}
		progress("waiting for the pool to " + what)
		start := time.Now()
		if err := cfg.PoolReady(ctx); err != nil {
			notes = append(notes, fmt.Sprintf("pool did not %s: %v", what, err))
			return
		}
		ready, _ := cfg.PoolSize()
		notes = append(notes, fmt.Sprintf("pool: %s to %d ready containers in %s (load average %s)",
			what, ready, time.Since(start).Round(10*time.Millisecond), loadAverage()))
	}
	first := burst(ctx, cfg, one, progress)
	first.Name = fmt.Sprintf("burst of %d, HTTP, pool as it was", cfg.Burst)
	waitPool("grow to the demand")
	again := burst(ctx, cfg, one, progress)
	again.Name = fmt.Sprintf("burst of %d, HTTP, pool grown", cfg.Burst)
	again.Target, again.TargetAt = burstTarget, 99
	waitPool("refill after the burst")
	progress("one container at a time: create and echo hi over HTTP")
	seq := measure("create + echo hi, HTTP, one at a time", 0, 1, n, func() (time.Duration, error) {
		if cfg.PoolReady != nil {
			if err := cfg.PoolReady(ctx); err != nil {
				return 0, err
			}
		}
		id, d, _, err := one()
		if id != "" {
			api.Delete(context.WithoutCancel(ctx), id)
		}
		return d, err
	})
	seq.Note = "POST /v1/containers + POST /v1/containers/{id}/exec on the pooled server, the pool refilled in between"
	return []Row{{first, seq}, {again, seq}}, notes
}

// burst runs one cfg.Burst times at once, then deletes what it created.
func burst(ctx context.Context, cfg Config, one func() (string, time.Duration, time.Duration, error), progress func(string)) *Series {
	ready, _ := cfg.PoolSize()
	load := loadAverage()
	progress(fmt.Sprintf("burst of %d, %d in the pool", cfg.Burst, ready))
	b, creates := &Series{}, &Series{}
	var mu sync.Mutex
	var errs []error
	var ids []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range cfg.Burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			id, d, created, err := one()
			mu.Lock()
			defer mu.Unlock()
			if id != "" {
				ids = append(ids, id)
			}
			if err != nil {
				errs = append(errs, err)
				return
			}
			b.Samples = append(b.Samples, d)
			creates.Samples = append(creates.Samples, created)
		}()
	}
	close(start)
	wg.Wait()
	b.Note = fmt.Sprintf("%d × (POST /v1/containers + exec echo hi) started at once; %d ready in the pool when it began; the create alone p50 %s, p99 %s; %d of %d failed; load average %s before, %s after",
		cfg.Burst, ready, ms(creates.Percentile(50)), ms(creates.Percentile(99)), len(errs), cfg.Burst, load, loadAverage())
	b.Failed = len(errs)
	if len(errs) > 0 {
		b.Note += fmt.Sprintf(" (first: %v)", errs[0])
	}
	if len(b.Samples) == 0 {
		b.Err = fmt.Errorf("all %d failed, first: %w", cfg.Burst, errs[0])
	}
	var dw sync.WaitGroup
	for _, id := range ids {
		dw.Add(1)
		go func() {
			defer dw.Done()
			cfg.PooledAPI.Delete(context.WithoutCancel(ctx), id)
		}()
	}
	dw.Wait()
	return b
}
