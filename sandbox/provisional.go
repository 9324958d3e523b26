package sandbox

import (
	"context"
	"errors"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
)

// A Messages request without a container creates one, and the client learns its ID
// only from the answer. If the server dies first, nobody will ever use that container
// again, yet it would hold its disk for the full expiry. So such containers are made
// provisional and confirmed when the request answers; the next start reclaims every
// provisional container (the request that made it died with the previous server),
// and the sweeper reclaims one unused for ProvisionalGrace (its request failed or
// hangs). This is the pattern of a two-phase create, as Kubernetes' finalizers or a
// database's uncommitted rows.

// Confirm makes ws's provisional container id permanent.
func (m *Manager) Confirm(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	inst, err := m.lookup(ctx, ws, id, true)
	if err != nil {
		return err
	}
	inst.mu.Lock()
	was := inst.c.Provisional
	inst.c.Provisional = false
	c := inst.c
	inst.mu.Unlock()
	if !was {
		return nil
	}
	return m.store.UpdateContainer(context.WithoutCancel(ctx), &c)
}

// reclaim destroys an unconfirmed container and removes its record.
func (m *Manager) reclaim(ctx context.Context, inst *instance, why string) {
	c := inst.snapshot()
	m.logger.Info("reclaiming unconfirmed container", "container", c.ID, "reason", why)
	if err := m.destroy(ctx, inst); err != nil {
		m.logger.Warn("reclaim unconfirmed container", "container", c.ID, "err", err)
		return
	}
	if err := m.store.DeleteContainer(ctx, c.Workspace, c.ID); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		m.logger.Warn("delete unconfirmed container's record", "container", c.ID, "err", err)
	}
}

// provisionalExpired reports whether c is an unconfirmed container unused for the
// grace period at now.
func (m *Manager) provisionalExpired(c *Container, now time.Time) bool {
	return c.Provisional && !now.Before(c.LastActiveAt.Add(m.cfg.ProvisionalGrace))
}
