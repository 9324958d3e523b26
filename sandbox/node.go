package sandbox

// A cluster's nodes share one store, and each runs the containers recorded on it
// (Config.Node). A stopped container of a node that died may be moved to another
// node (package cluster changes its Container.Node in the store so that only one node
// takes it); its disk stayed behind, so the new node restores the copy archived in
// Config.Disks when the container stopped before it first mounts it (archive.go).

// owns reports whether c is run by this node.
func (m *Manager) owns(c *Container) bool { return c.Node == m.cfg.Node }

// Load is how many containers of workspaces this node runs and how many it may run
// at once (Capacity.MaxRunning): what a cluster's placement compares between nodes.
// The warm pool's containers are not counted; they are there for the next create.
func (m *Manager) Load() (running, capacity int) {
	m.capMu.Lock()
	defer m.capMu.Unlock()
	for _, ws := range m.live {
		if ws != "" {
			running++
		}
	}
	return running, m.cfg.Capacity.MaxRunning
}

// FetchesDisks reports whether a container moved here from another node can have
// its disk brought here (Config.Disks): only then may this node adopt one.
func (m *Manager) FetchesDisks() bool { return m.cfg.Disks != nil }
