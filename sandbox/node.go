package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/codebox-dev/codebox/errdefs"
)

// A cluster's nodes share one store, and each runs the containers recorded on it
// (Config.Node). A stopped container of a node that died may be moved to another
// node (package cluster changes its Container.Node in the store so that only one node
// takes it); its disk stayed behind, so the new node brings the copy saved when the
// container stopped through Config.Disks before it first mounts it.

// DiskSource brings a container's saved disk to this node.
type DiskSource interface {
	// FetchDisk writes the disk image saved for container c to path, a file that does
	// not exist yet. A container with no saved disk is errdefs.ErrNotFound.
	FetchDisk(ctx context.Context, c *Container, path string) error
}

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

// fetchDiskLocked brings inst's disk to this node when it has none here: the
// container was adopted from another node. The caller holds sem.
func (m *Manager) fetchDiskLocked(ctx context.Context, inst *instance) (retErr error) {
	if _, err := os.Stat(inst.diskPath()); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	c := inst.snapshot()
	if m.cfg.Disks == nil {
		return errdefs.New(errdefs.ErrUnreachable, errdefs.CodeContainerUnavailable,
			"the files of container %s are not on this node and no copy of them was saved", c.ID)
	}
	for _, d := range []string{inst.dir, inst.bundleDir(), inst.mntDir()} {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	// The image appears whole or not at all: a fetch cut short leaves no disk that a
	// later start would take for the container's.
	tmp := inst.diskPath() + ".fetch"
	os.Remove(tmp)
	defer func() {
		if retErr != nil {
			os.Remove(tmp)
		}
	}()
	m.logger.Info("fetching adopted container's disk", "container", c.ID)
	if err := m.cfg.Disks.FetchDisk(ctx, c, tmp); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return &errdefs.Public{Kind: errdefs.ErrUnreachable, Code: errdefs.CodeContainerUnavailable,
				Message: fmt.Sprintf("the files of container %s were not saved by the node that hosted it", c.ID), Err: err}
		}
		return withCause(ctx, fmt.Errorf("fetch disk of %s: %w", c.ID, err))
	}
	return os.Rename(tmp, inst.diskPath())
}
