package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// burstTarget is the p99 for a container created in a burst and running one
// command.
const burstTarget = 250 * time.Millisecond

// burstSample is one create-plus-command of a burst: the whole, the create alone, and
// how long the command ran in the container.
type burstSample struct {
	id                     string
	total, create, command time.Duration
	err                    error
}

// burstRows creates cfg.Burst containers at once through the pooled server's HTTP API
// and runs one command in each, measuring each create-plus-command: first with the pool
// at its configured size (no demand seen yet), then once it holds the demand the first
// burst showed (as it does for --pool-hold after a burst); beside both, the same one at
// a time. It also reports how long the pool took to grow and to refill after the second
// burst.
func burstRows(ctx context.Context, cfg Config, n int, progress func(string)) ([]Row, []string) {
	api := cfg.PooledAPI
	one := func() burstSample {
		start := time.Now()
		id, err := api.Create(ctx)
		s := burstSample{id: id, create: time.Since(start), err: err}
		if err != nil {
			return s
		}
		var out string
		out, s.command, s.err = api.Exec(ctx, id, "echo hi")
		s.total = time.Since(start)
		if s.err == nil && out != "hi\n" {
			s.err = fmt.Errorf("stdout %q, want hi", out)
		}
		return s
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
	first.Name = fmt.Sprintf("burst of %d, HTTP, first (cold pool)", cfg.Burst)
	first.Note = "the first burst the server sees, its pool at --pool-size: the creates beyond it start containers on the spot. " + first.Note
	waitPool("grow to the demand")
	again := burst(ctx, cfg, one, progress)
	again.Name = fmt.Sprintf("burst of %d, HTTP, pool warm to demand", cfg.Burst)
	again.Note = "the next burst: the pool holds the demand the first one showed (it keeps it for --pool-hold). " + again.Note
	again.Target, again.TargetAt = burstTarget, 99
	waitPool("refill after the burst")
	progress("one container at a time: create and echo hi over HTTP")
	seq := measure("create + echo hi, HTTP, one at a time", 0, 1, n, func() (time.Duration, error) {
		if cfg.PoolReady != nil {
			if err := cfg.PoolReady(ctx); err != nil {
				return 0, err
			}
		}
		s := one()
		if s.id != "" {
			api.Delete(context.WithoutCancel(ctx), s.id)
		}
		return s.total, s.err
	})
	seq.Note = "POST /v1/containers + POST /v1/containers/{id}/exec on the pooled server, the pool refilled in between"
	return []Row{{first, seq}, {again, seq}}, notes
}

// burst runs one cfg.Burst times at once, then deletes what it created.
func burst(ctx context.Context, cfg Config, one func() burstSample, progress func(string)) *Series {
	ready, _ := cfg.PoolSize()
	load := loadAverage()
	progress(fmt.Sprintf("burst of %d, %d in the pool", cfg.Burst, ready))
	b, creates, commands := &Series{}, &Series{}, &Series{}
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
			s := one()
			mu.Lock()
			defer mu.Unlock()
			if s.id != "" {
				ids = append(ids, s.id)
			}
			if s.err != nil {
				errs = append(errs, s.err)
				return
			}
			b.Samples = append(b.Samples, s.total)
			creates.Samples = append(creates.Samples, s.create)
			commands.Samples = append(commands.Samples, s.command)
		}()
	}
	cpu0, began := cpuTime(), time.Now()
	close(start)
	wg.Wait()
	took, cpu := time.Since(began), cpuTime()-cpu0
	b.Note = fmt.Sprintf("%d × (POST /v1/containers + exec echo hi) started at once, %d ready in the pool when it began; "+
		"the create alone p50 %s, p99 %s; the command in its container p50 %s, p99 %s; "+
		"the burst took %s, in which the machine's CPUs were busy %s (%s per container: server, client, containers and anything else running; on %d CPUs that work alone takes %s); "+
		"%d of %d failed; load average %s before, %s after",
		cfg.Burst, ready, ms(creates.Percentile(50)), ms(creates.Percentile(99)), ms(commands.Percentile(50)), ms(commands.Percentile(99)),
		ms(took), ms(cpu), ms(cpu/time.Duration(cfg.Burst)), runtime.NumCPU(), ms(cpu/time.Duration(runtime.NumCPU())),
		len(errs), cfg.Burst, load, loadAverage())
	b.Failed = len(errs)
	if len(errs) > 0 {
		b.Note += fmt.Sprintf(" (first: %v)", errs[0])
		if strings.Contains(errs[0].Error(), "insufficient_storage") {
			b.Note += "; every container's disk is promised its full --sandbox-disk when handed out, and the burst's disks together did not fit in the data directory's free space less its reserve"
		}
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

// cpuTime is the CPU time the whole machine has spent so far, from /proc/stat (every
// state but idle and iowait), or 0 when it cannot be read.
func cpuTime() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already counted in user
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	// USER_HZ is 100 on every Linux architecture codebox runs on.
	return time.Duration(ticks) * 10 * time.Millisecond
}
