package sandbox

// PoolReady returns how many pre-started containers wait in the pool right now, and the
// pool's size. Benchmarks use it to measure creates served from a full pool.
func (m *Manager) PoolReady() (ready, size int) { return len(m.pool), cap(m.pool) }
