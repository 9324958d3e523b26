package sandbox

import "context"

// SweepOnce runs one pass of the idle/expiry sweeper.
func (m *Manager) SweepOnce(ctx context.Context) { m.sweepOnce(ctx) }
