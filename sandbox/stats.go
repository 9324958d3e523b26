package sandbox

import "time"

// Stats is a snapshot of the Manager's containers, for metrics.
type Stats struct {
	// Containers counts the containers workspaces own, by status; one past its hard
	// expiry counts as StatusExpired whatever its record says.
	Containers map[Status]int
	// PoolReady is how many pre-started containers wait in the pool; PoolSize is how
	// many it keeps.
	PoolReady, PoolSize int
}

// Stats returns the current counts. It takes no container's operation lock, so a
// scrape never waits for a running command.
func (m *Manager) Stats() Stats {
	st := Stats{Containers: map[Status]int{}}
	st.PoolReady, st.PoolSize = m.PoolReady()
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, inst := range m.instances {
		inst.mu.Lock()
		status, exp, gone := inst.c.Status, inst.c.ExpiresAt, inst.gone
		inst.mu.Unlock()
		if gone {
			continue
		}
		if !now.Before(exp) {
			status = StatusExpired
		}
		st.Containers[status]++
	}
	return st
}

// ExecObserver is told about every command and Python run, for metrics. It is called
// once per run, after it ends, and must not block.
type ExecObserver interface {
	// ObserveExec gets kind ExecKindBash or ExecKindPython, the result or the error the
	// caller got, and how long the caller waited.
	ObserveExec(kind string, res *ExecResult, d time.Duration, err error)
}

// Kinds of run an ExecObserver is told about.
const (
	ExecKindBash   = "bash"
	ExecKindPython = "python"
)

// observeExec reports a run that began at start to the configured observer.
// ExecStream (which Exec calls), RunPython and RunPythonStream defer it with their
// named results, so that each run is reported once.
func (m *Manager) observeExec(kind string, start time.Time, res **ExecResult, err *error) {
	if m.cfg.Observer != nil {
		m.cfg.Observer.ObserveExec(kind, *res, time.Since(start), *err)
	}
}
