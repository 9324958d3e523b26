package sandbox

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// instance is the server's handle on one container.
type instance struct {
	id  string
	dir string

	// sem is held (ctx-aware) by whoever runs an operation or changes the lifecycle;
	// the fields below it belong to the holder.
	sem     chan struct{}
	running bool
	mounted bool
	client  *agent.Client
	// egress serves the container's allow-list while it runs; nil without one.
	egress *egress.Session
	// hostID is the first host ID of the container's user namespace (userns.go);
	// zero until it has one.
	hostID uint32

	mu sync.Mutex
	// c is the container's metadata; persisted is when its LastActiveAt was last
	// stored; holds are the open host-side readers (downloads, listings), which keep
	// the disk mounted; diskReady mirrors mounted for readers that do not take sem;
	// gone is set once it is destroyed.
	c         Container
	persisted time.Time
	holds     map[*diskHold]struct{}
	diskReady bool
	gone      bool
}

func (m *Manager) newInstance(id string) *instance {
	inst := &instance{id: id, dir: filepath.Join(m.cfg.Dir, id), sem: make(chan struct{}, 1)}
	host, err := inst.loadHostID()
	if err != nil {
		m.logger.Warn("container's user ID range", "container", id, "err", err)
	}
	if host != 0 {
		inst.hostID = host
		m.ids.claim(id, host)
	}
	return inst
}

func (inst *instance) acquire(ctx context.Context) error {
	select {
	case inst.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (inst *instance) tryAcquire() bool {
	select {
	case inst.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (inst *instance) release() { <-inst.sem }

func (inst *instance) snapshot() *Container {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	c := inst.c
	return &c
}

// Paths of a container's directory.
func (inst *instance) bundleDir() string { return filepath.Join(inst.dir, "bundle") }
func (inst *instance) diskPath() string  { return filepath.Join(inst.dir, "disk.img") }
func (inst *instance) mntDir() string    { return filepath.Join(inst.dir, "mnt") }
func (inst *instance) tokenPath() string { return filepath.Join(inst.dir, "token") }

// runDir, the agent's socket directory, is on the container's own disk (not reachable
// from inside but through its mount), so that the mount shows no host path inside.
func (inst *instance) runDir() string { return filepath.Join(inst.mntDir(), "run") }

func notFound(id string) error {
	return errdefs.New(errdefs.ErrNotFound, "", "container %s not found", id)
}

// elsewhere is the error for a container another node hosts, when a request for it
// reached this one: package cluster forwards such requests before they get here, so
// it comes from work that cannot be forwarded (a batch) or a container that moved.
func elsewhere(c *Container) error {
	return errdefs.WithRetryAfter(errdefs.New(errdefs.ErrUnreachable, errdefs.CodeContainerUnavailable,
		"container %s is hosted by node %s, not by the node that received this request; try again", c.ID, c.Node), time.Second)
}

func expired(id string) error {
	return errdefs.New(errdefs.ErrInvalid, errdefs.CodeContainerExpired, "container %s has expired", id)
}

// closeEgress stops the container's proxy, if it has one. The caller holds sem.
func (inst *instance) closeEgress() {
	if inst.egress != nil {
		inst.egress.Close()
		inst.egress = nil
	}
}
