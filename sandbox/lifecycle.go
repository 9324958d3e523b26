package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// reconcile brings the runtime and the disk in line with the store after a restart:
// containers still running with a live agent are adopted, recorded ones that are not are
// marked stopped (their disks are mounted again on next use), and containers and
// directories no record owns (the previous server's pool, a crash mid-create) are
// removed, and so are provisional containers, whose requests died with the previous
// server (provisional.go).
func (m *Manager) reconcile(ctx context.Context) error {
	all, err := m.ownContainers(ctx)
	if err != nil {
		return err
	}
	known := make(map[string]*Container, len(all))
	for _, c := range all {
		known[c.ID] = c
	}
	running, err := m.rt.List(ctx)
	if err != nil {
		return err
	}
	for _, id := range running {
		if known[id] == nil && ids.Valid(IDPrefix, id) {
			m.logger.Info("removing unowned container", "container", id)
			m.destroy(ctx, m.newInstance(id))
		}
	}
	entries, err := os.ReadDir(m.cfg.Dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if id := e.Name(); known[id] == nil && ids.Valid(IDPrefix, id) && e.IsDir() {
			m.logger.Info("removing unowned container directory", "container", id)
			m.destroy(ctx, m.newInstance(id))
		}
	}
	for _, c := range all {
		inst := m.newInstance(c.ID)
		inst.c, inst.persisted = *c, c.LastActiveAt
		if c.Provisional {
			// Its request died with the previous server: no client knows it.
			m.reclaim(ctx, inst, "its request never answered")
			continue
		}
		if c.Status == StatusRunning && m.adopt(ctx, inst) {
			m.logger.Debug("adopted running container", "container", c.ID)
		} else {
			inst.running = false
			if st, err := m.rt.State(ctx, c.ID); err == nil && st != StateAbsent {
				m.rt.Delete(ctx, c.ID)
			}
			if c.Status == StatusRunning {
				m.setStatus(ctx, inst, StatusStopped)
			}
			// Its disk may still be mounted from before; it is mounted again on use.
			// (The instance is not shared yet, so sem is as good as held.)
			if err := m.unmountLocked(inst); err != nil {
				m.logger.Warn("unmount stopped container's disk", "container", c.ID, "err", err)
			}
			// A stop the previous server did not archive (it crashed, or shut down
			// mid-way) is archived now.
			if _, modified := inst.localDisk(); modified {
				m.scheduleArchive(inst)
			}
		}
		m.mu.Lock()
		m.instances[c.ID] = inst
		m.mu.Unlock()
	}
	return nil
}

// ownContainers returns the unexpired containers this node runs. Leftovers here of
// another node's container (one moved away while this node was down) are removed by
// reconcile like any other the store does not give this node.
func (m *Manager) ownContainers(ctx context.Context) ([]*Container, error) {
	all, err := m.store.AllContainers(ctx)
	if err != nil {
		return nil, err
	}
	own := all[:0]
	for _, c := range all {
		if m.owns(c) {
			own = append(own, c)
		}
	}
	return own, nil
}

// adopt reconnects to a container that kept running while no server did.
//
// A container with network access is not adopted: its proxy ended with the previous
// server, so it is stopped and starts again, proxy and all, on its next use.
func (m *Manager) adopt(ctx context.Context, inst *instance) bool {
	if inst.c.NetworkPolicy.Enabled() || !mountsSkills(inst.bundleDir()) {
		return false
	}
	st, err := m.rt.State(ctx, inst.id)
	if err != nil || st != StateRunning {
		return false
	}
	token, err := os.ReadFile(inst.tokenPath())
	if err != nil {
		return false
	}
	c := &agent.Client{Socket: filepath.Join(inst.runDir(), agent.SocketName), Token: string(token)}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c.Ping(pctx) != nil {
		return false
	}
	mounted, err := isMountpoint(inst.mntDir())
	if err != nil || !mounted {
		return false
	}
	inst.client, inst.running, inst.mounted = c, true, true
	if err := m.promiseDisk(ctx, inst, false); err != nil {
		m.logger.Warn("adopted container's disk is not covered by free space", "container", inst.id, "err", err)
	}
	m.capMu.Lock()
	m.live[inst.id] = inst.c.Workspace
	m.capMu.Unlock()
	return true
}

// sweepInterval is how often idle and expired containers are looked for.
func (m *Manager) sweepInterval() time.Duration {
	return min(max(m.cfg.Idle/5, 50*time.Millisecond), 30*time.Second)
}

// sweep stops idle containers and destroys expired ones until ctx ends.
func (m *Manager) sweep(ctx context.Context) {
	t := time.NewTicker(m.sweepInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.sweepOnce(ctx)
	}
}

// sweepOnce runs one pass of the sweeper; tests call it directly.
func (m *Manager) sweepOnce(ctx context.Context) {
	now := m.cfg.Now()
	m.mu.Lock()
	insts := make([]*instance, 0, len(m.instances))
	for _, inst := range m.instances {
		insts = append(insts, inst)
	}
	m.mu.Unlock()
	for _, inst := range insts {
		c := inst.snapshot()
		if !now.Before(c.ExpiresAt) {
			continue // below
		}
		if m.provisionalExpired(c, now) {
			m.reclaim(ctx, inst, "unconfirmed and unused")
			continue
		}
		if c.Status == StatusStopped {
			// A disk left mounted because a reader held it at the stop goes now.
			if inst.tryAcquire() {
				if inst.mounted && !inst.running {
					m.unmountLocked(inst)
					m.scheduleArchive(inst)
				}
				inst.release()
			}
			continue
		}
		if c.Status != StatusRunning || now.Before(c.IdleExpiresAt) {
			continue
		}
		// A busy container is in use, not idle.
		if !inst.tryAcquire() {
			continue
		}
		if c := inst.snapshot(); c.Status == StatusRunning && !now.Before(c.IdleExpiresAt) {
			m.logger.Debug("stopping idle container", "container", c.ID)
			if err := m.idleStopLocked(ctx, inst); err != nil {
				m.logger.Warn("stop idle container", "container", c.ID, "err", err)
			} else {
				m.unmountLocked(inst)
				m.setStatus(ctx, inst, StatusStopped)
				m.scheduleArchive(inst)
			}
		}
		inst.release()
	}
	all, err := m.ownContainers(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			m.logger.Warn("sweep: list containers", "err", err)
		}
		return
	}
	for _, c := range all {
		m.mu.Lock()
		if inst := m.instances[c.ID]; inst != nil {
			// Its latest use may not be stored yet (persistEvery).
			c = inst.snapshot()
		}
		m.mu.Unlock()
		if now.Before(c.ExpiresAt) {
			continue
		}
		inst, err := m.lookup(ctx, c.Workspace, c.ID, true)
		if err != nil {
			continue
		}
		if now.Before(c.CreatedAt.Add(m.cfg.Expiry)) {
			// Expiry after inactivity: a container running a command is active.
			if !inst.tryAcquire() {
				continue
			}
			inst.release()
		}
		m.logger.Info("destroying expired container", "container", c.ID)
		if err := m.destroy(ctx, inst); err != nil {
			m.logger.Warn("destroy expired container", "container", c.ID, "err", err)
			continue
		}
		// The record stays, marked expired, so that its ID reports container_expired
		// rather than not found.
		exp := *c
		exp.Status = StatusExpired
		if err := m.store.UpdateContainer(ctx, &exp); err != nil {
			m.logger.Warn("mark container expired", "container", c.ID, "err", err)
		}
	}
}
