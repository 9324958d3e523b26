package sandbox

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
)

// The warm pool follows demand: it keeps as many started containers as were created
// in the busiest demandWindow of the last PoolHold, at least PoolSize and at most
// PoolMax. A burst of creates is served from what the pool holds: starting containers
// for it on the spot takes far longer than the burst (each start costs tens of
// milliseconds of CPU). So the pool grows to a burst's size, keeps that size for
// PoolHold so that the next burst finds it ready, and goes back to PoolSize on a
// server without bursts.
const (
	demandWindow = time.Minute
	// shrinkEvery is how often the pool gives back containers beyond its target.
	shrinkEvery = 10 * time.Second
	// A refill waits until creates have paused for refillSettle, at most
	// refillSettleMax: starting containers takes the CPU the commands of a burst's
	// new containers are waiting for, and the burst is served from what the pool
	// already holds.
	refillSettle    = 250 * time.Millisecond
	refillSettleMax = time.Second
)

// PoolReady returns how many pre-started containers wait in the pool right now, and
// how many it is filling to. Benchmarks use it to measure creates served from a full
// pool.
func (m *Manager) PoolReady() (ready, size int) { return len(m.pool), m.poolTarget() }

// recordDemand counts a create the pool could have served.
func (m *Manager) recordDemand() {
	m.lastCreate.Store(time.Now().UnixNano())
	m.demandMu.Lock()
	defer m.demandMu.Unlock()
	now := m.cfg.Now()
	m.demand = append(m.demand, now)
	m.demandLocked(now)
}

// demandLocked is the most creates seen within one demandWindow in the last PoolHold
// (at most PoolMax, which is all the pool uses). It forgets creates older than
// demandWindow, and peaks older than PoolHold. The caller holds demandMu.
func (m *Manager) demandLocked(now time.Time) int {
	since := now.Add(-demandWindow)
	i := 0
	for i < len(m.demand) && m.demand[i].Before(since) {
		i++
	}
	m.demand = m.demand[i:]
	// peaks is a monotone queue: each count is larger than every later one, so the
	// first one still within PoolHold is the maximum, and it holds at most PoolMax+1.
	n := min(len(m.demand), m.cfg.PoolMax)
	for len(m.peaks) > 0 && m.peaks[len(m.peaks)-1].n <= n {
		m.peaks = m.peaks[:len(m.peaks)-1]
	}
	m.peaks = append(m.peaks, peak{n: n, at: now})
	held := now.Add(-m.cfg.PoolHold)
	for m.peaks[0].at.Before(held) {
		m.peaks = m.peaks[1:]
	}
	return m.peaks[0].n
}

// peak is how many creates the pool saw within one demandWindow, at a time.
type peak struct {
	n  int
	at time.Time
}

// settle waits until no create has come for refillSettle, at most refillSettleMax.
func (m *Manager) settle(ctx context.Context) {
	deadline := time.Now().Add(refillSettleMax)
	for {
		wait := refillSettle - time.Since(time.Unix(0, m.lastCreate.Load()))
		wait = min(wait, time.Until(deadline))
		if wait <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// defaultPoolMax is PoolMax as Config documents it, from the configured size and
// limit (zero: the default). A pool of size zero stays off.
func defaultPoolMax(size, limit int, c Capacity) int {
	if size <= 0 {
		return 0
	}
	if limit <= 0 {
		limit = max(4*size, c.MaxRunningPerWorkspace)
	}
	return max(limit, size)
}

// poolTarget is how many containers the pool keeps now.
func (m *Manager) poolTarget() int {
	if m.cfg.PoolSize == 0 {
		return 0
	}
	m.demandMu.Lock()
	defer m.demandMu.Unlock()
	return min(max(m.demandLocked(m.cfg.Now()), m.cfg.PoolSize), m.cfg.PoolMax)
}

// poke asks the pool to refill.
func (m *Manager) poke() {
	select {
	case m.refill <- struct{}{}:
	default:
	}
}

// fillPool keeps poolTarget started containers waiting.
func (m *Manager) fillPool(ctx context.Context) {
	if m.cfg.PoolSize == 0 {
		return
	}
	m.poke()
	tick := time.NewTicker(shrinkEvery)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.refill:
			m.settle(ctx)
		case <-tick.C:
		}
		m.shrinkPool(ctx)
		for ctx.Err() == nil {
			missing := m.poolTarget() - len(m.pool)
			if missing <= 0 {
				break
			}
			full, err := m.fillSome(ctx, min(missing, m.fillWidth()))
			if full || ctx.Err() != nil {
				break // the server is full; the next create asks again
			}
			if err != nil {
				failures++
				m.logger.Error("warm pool: start container", "err", err)
				// Back off so that a broken runtime does not spin.
				select {
				case <-ctx.Done():
					return
				case <-time.After(min(time.Duration(failures)*time.Second, time.Minute)):
				}
				continue
			}
			failures = 0
		}
	}
}

// fillWidth is how many pool containers to start at once: maxConcurrentStarts on a
// server at rest, one while commands run. A start takes most of a core for tens of
// milliseconds; several at once would take the cores from commands in flight (those
// of the burst that emptied the pool, say), one leaves them the others.
func (m *Manager) fillWidth() int {
	if m.commands.Load() > 0 {
		return 1
	}
	return maxConcurrentStarts
}

// fillSome starts n pool containers at once: a pool emptied by a burst is back in the
// time of n/maxConcurrentStarts starts rather than n. It reports whether the server
// was full (capacity or space), and the first other error.
func (m *Manager) fillSome(ctx context.Context, n int) (full bool, _ error) {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A start is never cut short: a runtime killed halfway can leave
			// processes and mounts behind. Close waits for it instead.
			inst, err := m.prepare(context.WithoutCancel(ctx), "", Container{}, false)
			if err != nil {
				errs[i] = err
				return
			}
			if ctx.Err() != nil {
				m.destroy(context.WithoutCancel(ctx), inst)
				return
			}
			select {
			case m.pool <- inst:
			default:
				m.destroy(context.WithoutCancel(ctx), inst)
			}
		}()
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if errors.Is(err, errdefs.ErrRateLimited) || errors.Is(err, errdefs.ErrInsufficientStorage) {
			full = true
		} else if err != nil && first == nil {
			first = err
		}
	}
	return full, first
}

// shrinkPool destroys the containers beyond the pool's target.
func (m *Manager) shrinkPool(ctx context.Context) {
	for len(m.pool) > m.poolTarget() {
		select {
		case inst := <-m.pool:
			m.destroy(context.WithoutCancel(ctx), inst)
		default:
			return
		}
	}
}

// handOver gives the pool's inst to ws: admission, then the promise of its disk's
// space, which a container waiting in the pool does not hold. When either is refused
// inst goes back to the pool.
func (m *Manager) handOver(ctx context.Context, inst *instance, ws codebox.WorkspaceID) error {
	err := m.admit(ctx, inst, ws, true)
	if err == nil {
		if err = m.promiseDisk(ctx, inst, true); err != nil {
			m.capMu.Lock()
			m.live[inst.id] = ""
			m.capMu.Unlock()
		}
	}
	if err != nil {
		select {
		case m.pool <- inst:
		default:
			m.destroy(context.WithoutCancel(ctx), inst)
		}
	}
	return err
}
