package sandbox

import (
	"context"
	"errors"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
)

// PoolReady returns how many pre-started containers wait in the pool right now, and the
// pool's size. Benchmarks use it to measure creates served from a full pool.
func (m *Manager) PoolReady() (ready, size int) { return len(m.pool), cap(m.pool) }

// poke asks the pool to refill.
func (m *Manager) poke() {
	select {
	case m.refill <- struct{}{}:
	default:
	}
}

// fillPool keeps PoolSize started containers waiting.
func (m *Manager) fillPool(ctx context.Context) {
	if m.cfg.PoolSize == 0 {
		return
	}
	m.poke()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.refill:
		}
		for len(m.pool) < m.cfg.PoolSize && ctx.Err() == nil {
			// A start is never cut short: a runtime killed halfway can leave
			// processes and mounts behind. Close waits for it instead.
			inst, err := m.prepare(context.WithoutCancel(ctx), "", Container{}, false)
			if err == nil && ctx.Err() != nil {
				m.destroy(context.WithoutCancel(ctx), inst)
				return
			}
			if errors.Is(err, errdefs.ErrRateLimited) || errors.Is(err, errdefs.ErrInsufficientStorage) {
				break // the server is full; the next create asks again
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
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
			select {
			case m.pool <- inst:
			default:
				m.destroy(context.WithoutCancel(ctx), inst)
			}
		}
	}
}
