package sandbox

import "context"

// SweepOnce runs one pass of the idle/expiry sweeper.
func (m *Manager) SweepOnce(ctx context.Context) { m.sweepOnce(ctx) }

// PoolLen is how many started containers wait in the pool.
func (m *Manager) PoolLen() int { return len(m.pool) }

// PokePool asks the pool to refill (or shrink) now.
func (m *Manager) PokePool() { m.poke() }

// DirSize is the bytes of the files directly in dir.
func DirSize(dir string) (int64, error) { return dirSize(dir) }

// StartsNow is how many container starts run now.
func (m *Manager) StartsNow() int { return len(m.starts) }
