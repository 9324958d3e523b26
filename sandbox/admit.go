package sandbox

import (
	"context"
	"sort"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
)

// Admission follows Kubernetes' resource model. A running container is counted for
// Capacity.MemoryRequest; the server runs at most Capacity.MaxRunning of them (as many
// requests as fit in the allocatable memory) and a workspace at most
// MaxRunningPerWorkspace. A container that would go past a cap, or start while the
// containers' working set leaves no room for its request, first makes room by stopping
// the least recently used idle container (as the kubelet evicts under memory
// pressure): its files stay on its disk and its next use starts it again. When every
// running container is busy the start is refused with 429 and a retry-after; the
// parent cgroup's limit (oci.ParentLimits) is the hard bound behind all of this.

// capRetryAfter is how long a client refused for capacity is asked to wait: a running
// command or an idle container frees a slot within seconds to minutes.
const capRetryAfter = 10 * time.Second

// memoryMeter is a Runtime that can tell what its containers use of memory together.
type memoryMeter interface {
	MemoryUsage(ctx context.Context) (int64, error)
}

// admit counts inst as running for ws (the pool's containers have no workspace) before
// it starts or is handed to ws. With evict it stops least recently used idle containers
// to make room; without, a full server is an error at once.
func (m *Manager) admit(ctx context.Context, inst *instance, ws codebox.WorkspaceID, evict bool) error {
	if evict && m.memoryPressure(ctx) && !m.dropPooled(ctx) {
		m.evictLRU(ctx, "", inst)
	}
	for {
		m.capMu.Lock()
		owner, counted := m.live[inst.id]
		total, inWS := len(m.live), 0
		for _, w := range m.live {
			if w == ws {
				inWS++
			}
		}
		serverFull := !counted && total >= m.cfg.Capacity.MaxRunning
		wsFull := ws != "" && owner != ws && inWS >= m.cfg.Capacity.MaxRunningPerWorkspace
		if !serverFull && !wsFull {
			m.live[inst.id] = ws
			m.capMu.Unlock()
			return nil
		}
		m.capMu.Unlock()
		scope := codebox.WorkspaceID("")
		if wsFull {
			scope = ws
		}
		if evict && !wsFull && m.givePooledSlot(ctx, inst, ws) {
			return nil
		}
		if !evict || !m.evictLRU(ctx, scope, inst) {
			if wsFull {
				return errdefs.WithRetryAfter(errdefs.New(errdefs.ErrRateLimited, "container_limit",
					"this workspace already runs %d containers, all busy; try again when one finishes",
					m.cfg.Capacity.MaxRunningPerWorkspace), capRetryAfter)
			}
			return errdefs.WithRetryAfter(errdefs.New(errdefs.ErrRateLimited, "container_limit",
				"the server already runs %d containers, all busy; try again when one finishes",
				m.cfg.Capacity.MaxRunning), capRetryAfter)
		}
	}
}

// unadmit stops counting inst as running.
func (m *Manager) unadmit(inst *instance) {
	m.capMu.Lock()
	delete(m.live, inst.id)
	m.capMu.Unlock()
}

// memoryPressure reports whether the running containers' working set leaves less
// than one MemoryRequest of the allocatable memory.
func (m *Manager) memoryPressure(ctx context.Context) bool {
	mm, ok := m.rt.(memoryMeter)
	if !ok {
		return false
	}
	used, err := mm.MemoryUsage(ctx)
	if err != nil {
		return false
	}
	return used+m.cfg.Capacity.MemoryRequest > m.cfg.Capacity.Memory
}

// dropPooled destroys one container waiting in the pool to make room for one in use,
// and reports whether there was one. The pool gives way first: it may hold a burst's
// size for Config.PoolHold, and its containers are the cheapest to give up, where
// stopping an idle container in use costs its user a restart (and, without a
// checkpoint, the REPL's state).
func (m *Manager) dropPooled(ctx context.Context) bool {
	select {
	case inst := <-m.pool:
		m.destroy(context.WithoutCancel(ctx), inst)
		return true
	default:
		return false
	}
}

// givePooledSlot counts inst as running for ws in the place of a container taken from
// the pool, which it then destroys, and reports whether the pool had one. The place
// passes over at once: a refill must not take it between the destroy and inst's
// admission.
func (m *Manager) givePooledSlot(ctx context.Context, inst *instance, ws codebox.WorkspaceID) bool {
	var pooled *instance
	select {
	case pooled = <-m.pool:
	default:
		return false
	}
	m.capMu.Lock()
	delete(m.live, pooled.id)
	m.live[inst.id] = ws
	m.capMu.Unlock()
	m.destroy(context.WithoutCancel(ctx), pooled)
	return true
}

// evictLRU stops the least recently used idle running container of ws (of any
// workspace when ws is ""), never except, and reports whether it stopped one. Pool
// containers are not taken: they are idle by design and go to the next create.
func (m *Manager) evictLRU(ctx context.Context, ws codebox.WorkspaceID, except *instance) bool {
	m.capMu.Lock()
	ids := make([]string, 0, len(m.live))
	for id, w := range m.live {
		if w != "" && (ws == "" || w == ws) && id != except.id {
			ids = append(ids, id)
		}
	}
	m.capMu.Unlock()
	m.mu.Lock()
	cands := make([]*instance, 0, len(ids))
	for _, id := range ids {
		if inst := m.instances[id]; inst != nil {
			cands = append(cands, inst)
		}
	}
	m.mu.Unlock()
	last := make(map[*instance]time.Time, len(cands))
	for _, inst := range cands {
		last[inst] = inst.snapshot().LastActiveAt
	}
	sort.Slice(cands, func(i, j int) bool { return last[cands[i]].Before(last[cands[j]]) })
	for _, inst := range cands {
		if !inst.tryAcquire() {
			continue // busy: a command or a file operation holds it
		}
		stopped := false
		if inst.running {
			m.logger.Info("stopping least recently used container to make room", "container", inst.id)
			if err := m.stopLocked(ctx, inst); err != nil {
				m.logger.Warn("stop container to make room", "container", inst.id, "err", err)
			} else {
				if err := m.unmountLocked(inst); err != nil {
					m.logger.Warn("unmount stopped container's disk", "container", inst.id, "err", err)
				}
				m.setStatus(ctx, inst, StatusStopped)
				m.scheduleArchive(inst)
				stopped = true
			}
		}
		inst.release()
		if stopped {
			return true
		}
	}
	return false
}
