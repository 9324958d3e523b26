package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// IDPrefix starts every container ID.
const IDPrefix = "container_"

// Defaults of Config.
const (
	DefaultExecTimeout = 5 * time.Minute
	DefaultIdle        = 5 * time.Minute
	DefaultExpiry      = 30 * 24 * time.Hour
	// DefaultProvisionalGrace is how long an unconfirmed container may go unused.
	DefaultProvisionalGrace = 30 * time.Minute
	// DefaultPoolHold is how long the pool keeps a burst's size after it.
	DefaultPoolHold = 10 * time.Minute
	// DefaultMaxOutputFiles is how many generated files one run stores.
	DefaultMaxOutputFiles = 50
	// DefaultMaxOutputFileSize is the largest generated file one run stores.
	DefaultMaxOutputFileSize = 100 << 20
	// DefaultMaxOutputBytes is the total size of the generated files one run stores.
	DefaultMaxOutputBytes = 500 << 20
	// MaxViewBytes is the largest file the editor views or edits.
	MaxViewBytes = 16 << 20
	// maxConcurrentStarts bounds container starts at once (pool refills included).
	maxConcurrentStarts = 4
	// agentReadyTimeout is how long a started container's agent may take to answer.
	agentReadyTimeout = 15 * time.Second
	// persistEvery is how stale the stored LastActiveAt may get: touching every use
	// would put a database write in every command's path.
	persistEvery = 5 * time.Second
)

// Config configures a Manager.
type Config struct {
	// Dir holds one directory per container (bundle, agent socket, workspace disk).
	Dir string
	// RootFS is the shared image root filesystem, mounted read-only.
	RootFS string
	// Images resolves the custom images containers may ask for; nil means there are
	// none.
	Images Images
	// Agent is the host path of the codebox binary run as each container's init with
	// AgentArgs (default ["agent"]).
	Agent     string
	AgentArgs []string
	Limits    Limits
	// Capacity caps what the containers take of the host together; zero fields are
	// derived from the host (Host.DefaultCapacity).
	Capacity Capacity
	// Space, when set, accounts for the host filesystem holding Dir: a mounted disk
	// is promised its size less what it has allocated, and a disk that cannot be
	// promised is not created or mounted (507 insufficient_storage).
	Space *diskspace.Ledger
	// ExecTimeout is the wall-clock limit of a command or cell that names none; a
	// request may ask for less, never more than MaxExecTimeout (default ExecTimeout).
	ExecTimeout    time.Duration
	MaxExecTimeout time.Duration
	// Idle is how long an unused container runs before it is stopped; Expiry is how
	// long after creation it is destroyed with its files.
	Idle   time.Duration
	Expiry time.Duration
	// ProvisionalGrace is how long a provisional container may go unused before it
	// is destroyed (default DefaultProvisionalGrace).
	ProvisionalGrace time.Duration
	// PoolSize is how many pre-started containers wait for Create.
	PoolSize int
	// PoolMax is how many the pool grows to when creates come faster: it keeps as
	// many as were created in the busiest minute of the last PoolHold, between
	// PoolSize and PoolMax. The default is what one workspace may run at once
	// (Capacity.MaxRunningPerWorkspace), at least 4 × PoolSize: any burst one tenant
	// can make finds the pool warm the next time.
	PoolMax int
	// PoolHold is how long the pool keeps the size of a burst after it, so that
	// the next burst finds it ready (default DefaultPoolHold).
	PoolHold time.Duration
	// Caps on the generated files one run stores.
	MaxOutputFiles    int
	MaxOutputFileSize int64
	MaxOutputBytes    int64
	// PythonWarmup, if set, is Python code each REPL runs when it starts (e.g.
	// "import pandas"), so that the first cell does not pay for it.
	PythonWarmup string
	// Prefork starts every python3 of user code from a fork of an interpreter
	// that has already imported numpy, pandas, matplotlib and scipy (package
	// sandbox/agent/prefork).
	Prefork bool
	// Checkpoint saves an idle container's memory to disk when it is stopped, and
	// restores it on its next use (checkpoint.go), where the runtime can.
	Checkpoint bool
	// IDBase is the first host user and group ID of the containers' ID ranges
	// (default DefaultIDBase); container n maps IDBase+n*IDRangeSize onwards. Servers
	// sharing a host need bases far enough apart.
	IDBase uint32
	// StopOnClose stops every running container at Close instead of leaving it
	// running for the next server to adopt.
	StopOnClose bool
	// Now returns the current time; tests replace it.
	Now    func() time.Time
	Logger *slog.Logger
	// Observer, if set, is told about every command and Python run (metrics).
	Observer ExecObserver
	// Egress serves the network allow-lists of containers that have one; nil refuses
	// every allow-list (containers have no network).
	Egress *egress.Proxy
	// Node names this server among the nodes of a cluster sharing one store ("" on a
	// single machine). New containers record it, and the Manager runs, reconciles,
	// sweeps and evicts only the containers whose Container.Node it is: another
	// node's container is reached through that node (package cluster).
	Node string
	// Disks, if set, keeps a copy of each stopped container's disk, so that a node
	// can start a container whose disk is not here (adopted from a node that died)
	// or older than the copy, with its files (archive.go). Without it such a
	// container is errdefs.ErrUnreachable.
	Disks DiskArchive
}

func (c *Config) setDefaults() {
	c.Limits = c.Limits.withDefaults()
	if len(c.AgentArgs) == 0 {
		c.AgentArgs = []string{"agent"}
	}
	if c.ExecTimeout <= 0 {
		c.ExecTimeout = DefaultExecTimeout
	}
	if c.MaxExecTimeout < c.ExecTimeout {
		c.MaxExecTimeout = c.ExecTimeout
	}
	if c.Idle <= 0 {
		c.Idle = DefaultIdle
	}
	if c.Expiry <= 0 {
		c.Expiry = DefaultExpiry
	}
	if c.ProvisionalGrace <= 0 {
		c.ProvisionalGrace = DefaultProvisionalGrace
	}
	if c.PoolSize < 0 {
		c.PoolSize = 0
	}
	if c.PoolHold <= 0 {
		c.PoolHold = DefaultPoolHold
	}
	if c.MaxOutputFiles <= 0 {
		c.MaxOutputFiles = DefaultMaxOutputFiles
	}
	if c.MaxOutputFileSize <= 0 {
		c.MaxOutputFileSize = DefaultMaxOutputFileSize
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if c.IDBase == 0 {
		c.IDBase = DefaultIDBase
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Manager owns every container of the server: creation (from a warm pool when it
// can), the per-container agent connection, idle stop, transparent restart, expiry,
// and reconciliation with the runtime after a restart. All methods are safe for
// concurrent use; operations on one container are serialized.
type Manager struct {
	cfg    Config
	rt     Runtime
	store  Store
	files  FileStore
	logger *slog.Logger
	ids    *idRanges

	// starts bounds concurrent container starts.
	starts chan struct{}
	// scans bounds concurrent walks of container disks (scan.go).
	scans chan struct{}
	// archives bounds the disk archives written at once (archive.go), which run in
	// the background under bg until Close.
	archives chan struct{}
	bg       context.Context
	bgCancel context.CancelFunc
	// templateMu serializes making the empty disk template.
	templateMu sync.Mutex
	// pool holds started containers no workspace owns yet.
	pool   chan *instance
	refill chan struct{}
	// demand holds the times of the recent creates the pool could serve (pool.go).
	demandMu sync.Mutex
	demand   []time.Time
	// peaks are the counts of demand the pool keeps to for PoolHold (pool.go).
	peaks []peak
	// commands counts the commands and cells running now: the pool refills one
	// container at a time while any runs (pool.go).
	commands atomic.Int64
	// lastCreate is when the latest of those creates came (Unix ns, the host's
	// clock), for the refill to wait until they pause.
	lastCreate atomic.Int64

	mu sync.Mutex
	// instances are the containers this process has touched, by ID.
	instances map[string]*instance

	capMu sync.Mutex
	// live are the running (or starting) containers, by ID, with their workspace
	// ("" for the pool's): what admission counts.
	live map[string]codebox.WorkspaceID

	runMu  sync.Mutex
	cancel context.CancelFunc // of the background loops; nil before Start
	wg     sync.WaitGroup
	closed bool
}

// New returns a Manager. files may be nil: runs then return no generated files and
// CreateOptions.FileIDs is refused.
func New(cfg Config, rt Runtime, store Store, files FileStore) (*Manager, error) {
	cfg.setDefaults()
	if rt == nil {
		return nil, ErrNoRuntime
	}
	if cfg.Dir == "" || cfg.RootFS == "" || cfg.Agent == "" {
		return nil, errors.New("sandbox: Dir, RootFS and Agent are required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := resolvePaths(&cfg); err != nil {
		return nil, err
	}
	host, err := ReadHost()
	if err != nil {
		return nil, fmt.Errorf("sandbox: host capacity: %w", err)
	}
	cfg.Capacity = host.DefaultCapacity(cfg.Capacity)
	cfg.PoolMax = defaultPoolMax(cfg.PoolSize, cfg.PoolMax, cfg.Capacity)
	ids, err := newIDRanges(cfg.IDBase)
	if err != nil {
		return nil, err
	}
	bg, bgCancel := context.WithCancel(context.Background())
	return &Manager{
		archives:  make(chan struct{}, maxConcurrentArchives),
		bg:        bg,
		bgCancel:  bgCancel,
		ids:       ids,
		cfg:       cfg,
		rt:        rt,
		store:     store,
		files:     files,
		logger:    cfg.Logger.With("component", "sandbox"),
		starts:    make(chan struct{}, maxConcurrentStarts),
		scans:     make(chan struct{}, maxConcurrentScans),
		pool:      make(chan *instance, cfg.PoolMax),
		refill:    make(chan struct{}, 1),
		instances: make(map[string]*instance),
		live:      make(map[string]codebox.WorkspaceID),
	}, nil
}

// Start reconciles with the runtime (re-adopting containers that still run, marking
// the rest stopped, removing leftovers no record owns) and starts the pool and the
// idle/expiry sweeper. Close stops them.
func (m *Manager) Start(ctx context.Context) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.cancel != nil || m.closed {
		return errors.New("sandbox: already started")
	}
	if err := m.reconcile(ctx); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.fillPool(lctx) }()
	go func() { defer m.wg.Done(); m.sweep(lctx) }()
	return nil
}

// Run starts the Manager and blocks until ctx ends; shutdown is Close's job.
func (m *Manager) Run(ctx context.Context) error {
	if err := m.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// Close stops the background loops, destroys the pool's containers and, with
// StopOnClose, stops the running containers. Containers left running are adopted by
// the next Start.
func (m *Manager) Close(ctx context.Context) error {
	m.runMu.Lock()
	m.closed = true
	if m.cancel != nil {
		m.cancel()
	}
	m.bgCancel()
	m.runMu.Unlock()
	m.wg.Wait()
	var errs []error
	for {
		select {
		case inst := <-m.pool:
			errs = append(errs, m.destroy(ctx, inst))
			continue
		default:
		}
		break
	}
	if m.cfg.StopOnClose {
		m.mu.Lock()
		insts := make([]*instance, 0, len(m.instances))
		for _, inst := range m.instances {
			insts = append(insts, inst)
		}
		m.mu.Unlock()
		for _, inst := range insts {
			if err := inst.acquire(ctx); err != nil {
				errs = append(errs, err)
				continue
			}
			if inst.running {
				errs = append(errs, m.stopLocked(ctx, inst))
			}
			if inst.mounted {
				errs = append(errs, m.unmountLocked(inst))
			}
			inst.release()
		}
	}
	return errors.Join(errs...)
}

// lookup finds ws's container id, loading it from the store on first use. Expired
// containers are errdefs.ErrInvalid (container_expired) unless allowExpired.
func (m *Manager) lookup(ctx context.Context, ws codebox.WorkspaceID, id string, allowExpired bool) (*instance, error) {
	if !ids.Valid(IDPrefix, id) {
		return nil, notFound(id)
	}
	m.mu.Lock()
	inst := m.instances[id]
	m.mu.Unlock()
	if inst == nil {
		c, err := m.store.GetContainer(ctx, ws, id)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				return nil, notFound(id)
			}
			return nil, err
		}
		if !m.owns(c) {
			if !allowExpired && (c.Status == StatusExpired || !m.cfg.Now().Before(c.ExpiresAt)) {
				return nil, expired(id)
			}
			return nil, elsewhere(c)
		}
		fresh := m.newInstance(id)
		fresh.c, fresh.persisted = *c, c.LastActiveAt
		m.mu.Lock()
		if inst = m.instances[id]; inst == nil {
			inst = fresh
			m.instances[id] = inst
		}
		m.mu.Unlock()
	}
	inst.mu.Lock()
	owner, status, exp, gone := inst.c.Workspace, inst.c.Status, inst.c.ExpiresAt, inst.gone
	inst.mu.Unlock()
	if owner != ws || gone {
		return nil, notFound(id)
	}
	if !allowExpired && (status == StatusExpired || !m.cfg.Now().Before(exp)) {
		return nil, expired(id)
	}
	return inst, nil
}

// use looks a container up and acquires it for one operation.
func (m *Manager) use(ctx context.Context, ws codebox.WorkspaceID, id string) (*instance, error) {
	inst, err := m.lookup(ctx, ws, id, false)
	if err != nil {
		return nil, err
	}
	if err := inst.acquire(ctx); err != nil {
		return nil, err
	}
	inst.mu.Lock()
	gone := inst.gone
	inst.mu.Unlock()
	if gone {
		inst.release()
		return nil, notFound(id)
	}
	return inst, nil
}

// touch records a use: the idle clock restarts. The store is written when the status
// changed or the stored time is stale.
func (m *Manager) touch(ctx context.Context, inst *instance) {
	now := m.cfg.Now()
	inst.mu.Lock()
	changed := inst.c.Status != StatusRunning
	inst.c.Status = StatusRunning
	inst.c.LastActiveAt = now
	inst.c.IdleExpiresAt = now.Add(m.cfg.Idle)
	if inst.c.ExpiresAfter > 0 {
		inst.c.ExpiresAt = m.expiresAt(&inst.c, now)
	}
	write := changed || now.Sub(inst.persisted) >= persistEvery
	if write {
		inst.persisted = now
	}
	c := inst.c
	inst.mu.Unlock()
	if write && c.Workspace != "" {
		if err := m.store.UpdateContainer(context.WithoutCancel(ctx), &c); err != nil {
			m.logger.Warn("save container", "container", c.ID, "err", err)
		}
	}
}

func (m *Manager) setStatus(ctx context.Context, inst *instance, s Status) {
	inst.mu.Lock()
	inst.c.Status = s
	c := inst.c
	inst.mu.Unlock()
	if c.Workspace == "" {
		return
	}
	if err := m.store.UpdateContainer(context.WithoutCancel(ctx), &c); err != nil {
		m.logger.Warn("save container", "container", c.ID, "err", err)
	}
}

// Create starts a container for ws, from the pool when one is ready, and copies the
// files opts.FileIDs names into its working directory.
func (m *Manager) Create(ctx context.Context, ws codebox.WorkspaceID, opts CreateOptions) (*Container, error) {
	if len(opts.FileIDs) > 0 && m.files == nil {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "this server stores no files to copy into containers")
	}
	if opts.MemoryLimit < 0 || opts.MemoryLimit > m.cfg.Limits.Memory {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "a memory limit of %s is more than this server's maximum of %s per container",
			humanize.IBytes(uint64(max(opts.MemoryLimit, 0))), humanize.IBytes(uint64(m.cfg.Limits.Memory)))
	}
	if opts.ExpiresAfter < 0 {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "an expiry after last activity must not be negative")
	}
	img, err := m.imageFor(ctx, ws, opts.Image)
	if err != nil {
		return nil, err
	}
	policy, err := m.cfg.Egress.Check(string(ws), opts.NetworkPolicy)
	if err != nil {
		return nil, err
	}
	// The pool holds containers of the default image and limit with no network only;
	// others start cold.
	var inst *instance
	if img == "" && (opts.MemoryLimit == 0 || opts.MemoryLimit == m.cfg.Limits.Memory) && !policy.Enabled() {
		m.recordDemand()
		select {
		case inst = <-m.pool:
		default:
		}
		m.poke()
	}
	if inst != nil {
		if err := m.handOver(ctx, inst, ws); err != nil {
			return nil, err
		}
	} else {
		seed := Container{Image: img, MemoryLimit: opts.MemoryLimit, NetworkPolicy: policy}
		if inst, err = m.prepare(ctx, ws, seed, true); err != nil {
			return nil, err
		}
	}
	now := m.cfg.Now()
	inst.c = Container{
		ID: inst.id, Workspace: ws, Name: opts.Name, Image: img, NetworkPolicy: policy, Status: StatusRunning,
		CreatedAt: now, LastActiveAt: now, IdleExpiresAt: now.Add(m.cfg.Idle),
		MemoryLimit: opts.MemoryLimit, ExpiresAfter: min(opts.ExpiresAfter, m.cfg.Expiry),
		Provisional: opts.Provisional, Node: m.cfg.Node,
	}
	inst.c.ExpiresAt = m.expiresAt(&inst.c, now)
	inst.persisted = now
	if err := m.store.CreateContainer(ctx, &inst.c); err != nil {
		m.destroy(context.WithoutCancel(ctx), inst)
		return nil, err
	}
	m.mu.Lock()
	m.instances[inst.id] = inst
	m.mu.Unlock()
	for _, fid := range opts.FileIDs {
		if _, _, err := CopyFile(ctx, m.files, m, ws, inst.id, fid, ""); err != nil {
			m.Delete(context.WithoutCancel(ctx), ws, inst.id)
			return nil, err
		}
	}
	return inst.snapshot(), nil
}

// expiresAt is when c expires if it was last active at lastActive: the hard expiry,
// CreatedAt plus Config.Expiry, or sooner when c expires after inactivity.
func (m *Manager) expiresAt(c *Container, lastActive time.Time) time.Time {
	hard := c.CreatedAt.Add(m.cfg.Expiry)
	if c.ExpiresAfter > 0 {
		if idle := lastActive.Add(c.ExpiresAfter); idle.Before(hard) {
			return idle
		}
	}
	return hard
}

// prepare makes a new container for ws ("" for the pool) of seed's Image ("" is the
// built-in one), MemoryLimit (0: the server's limit) and NetworkPolicy: admission (see
// admit), directory, disk, start. Each step is undone if a later one fails.
func (m *Manager) prepare(ctx context.Context, ws codebox.WorkspaceID, seed Container, evict bool) (_ *instance, retErr error) {
	inst := m.newInstance(ids.New(IDPrefix))
	inst.c.Workspace = ws
	inst.c.Image, inst.c.MemoryLimit, inst.c.NetworkPolicy = seed.Image, seed.MemoryLimit, seed.NetworkPolicy
	if err := m.admit(ctx, inst, ws, evict); err != nil {
		return nil, err
	}
	if err := os.Mkdir(inst.dir, 0o700); err != nil {
		m.unadmit(inst)
		return nil, err
	}
	defer func() {
		if retErr != nil {
			m.destroy(context.WithoutCancel(ctx), inst)
		}
	}()
	for _, d := range []string{inst.bundleDir(), inst.mntDir()} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	if ws != "" {
		if err := m.promiseDisk(ctx, inst, evict); err != nil {
			return nil, err
		}
	}
	if err := m.makeDisk(ctx, inst.diskPath(), m.cfg.Limits.Disk, ws != ""); err != nil {
		return nil, withCause(ctx, diskspace.Wrap(err))
	}
	inst.sem <- struct{}{}
	defer inst.release()
	// The first mount counts as part of the start, within the start limit.
	if err := m.acquireStart(ctx); err != nil {
		return nil, err
	}
	defer m.releaseStart()
	if err := m.mountLocked(ctx, inst); err != nil {
		return nil, err
	}
	if err := m.assignIDs(inst); err != nil {
		return nil, err
	}
	if err := initDisk(inst.mntDir(), inst.hostUser()); err != nil {
		return nil, err
	}
	if err := m.bootLocked(ctx, inst); err != nil {
		return nil, err
	}
	return inst, nil
}

// stopLocked stops the container; its disk stays as it is. The caller holds sem.
func (m *Manager) stopLocked(ctx context.Context, inst *instance) error {
	inst.running, inst.client = false, nil
	inst.closeEgress()
	m.unadmit(inst)
	if err := m.rt.Delete(context.WithoutCancel(ctx), inst.id); err != nil {
		return err
	}
	return nil
}

// destroy removes the container and everything of it on disk. A command running in
// it is killed with it rather than waited for, and host-side readers of its disk
// (downloads) are cut. It acquires sem. Its files are removed only once its disk is
// unmounted; when that fails the container is left whole, stopped, and an error
// returned, so it is never half deleted.
func (m *Manager) destroy(ctx context.Context, inst *instance) error {
	inst.mu.Lock()
	inst.gone = true
	inst.mu.Unlock()
	inst.cutHolds()
	if !inst.tryAcquire() {
		// Busy: removing the container ends the command, which then lets go.
		m.rt.Delete(ctx, inst.id)
		if err := inst.acquire(ctx); err != nil {
			m.undoGone(inst)
			return err
		}
	}
	defer inst.release()
	inst.running, inst.client = false, nil
	inst.closeEgress()
	m.unadmit(inst)
	if err := m.rt.Delete(ctx, inst.id); err != nil {
		m.undoGone(inst)
		return err
	}
	if err := m.unmountLocked(inst); err != nil {
		m.undoGone(inst)
		return err
	}
	if mounted, err := isMountpoint(inst.mntDir()); err == nil && mounted {
		m.undoGone(inst)
		return fmt.Errorf("destroy %s: its disk is still mounted", inst.id)
	}
	m.cfg.Space.Release(inst.id)
	m.mu.Lock()
	if m.instances[inst.id] == inst {
		delete(m.instances, inst.id)
	}
	m.mu.Unlock()
	// The container is gone for good now; leftovers of a failed removal are found by
	// the next reconcile.
	if err := os.RemoveAll(inst.dir); err != nil {
		m.logger.Warn("remove container directory", "container", inst.id, "err", err)
	} else {
		m.ids.release(inst.id, inst.hostID)
	}
	m.removeArchive(ctx, inst)
	return nil
}

// undoGone makes a container whose destruction failed usable again.
func (m *Manager) undoGone(inst *instance) {
	inst.mu.Lock()
	inst.gone = false
	inst.mu.Unlock()
}

// Get returns ws's container id without starting it.
func (m *Manager) Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*Container, error) {
	inst, err := m.lookup(ctx, ws, id, false)
	if err != nil {
		return nil, err
	}
	return inst.snapshot(), nil
}

// Touch marks a use of the container, restarting it if it was stopped, and returns
// it with its new expiry times.
func (m *Manager) Touch(ctx context.Context, ws codebox.WorkspaceID, id string) (*Container, error) {
	inst, err := m.use(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	defer inst.release()
	if err := m.startLocked(ctx, inst); err != nil {
		return nil, err
	}
	m.touch(ctx, inst)
	return inst.snapshot(), nil
}

// Stop stops ws's container now rather than at its idle time. Its files are kept and
// its next use starts it again; the Python REPL's state is lost.
func (m *Manager) Stop(ctx context.Context, ws codebox.WorkspaceID, id string) (*Container, error) {
	return m.stop(ctx, ws, id, m.stopLocked)
}

// Suspend stops ws's container now as its idle time would: where checkpoints are on
// and the runtime can, its memory (the REPL's state) is saved and its next use
// restores it (checkpoint.go); elsewhere it is Stop.
func (m *Manager) Suspend(ctx context.Context, ws codebox.WorkspaceID, id string) (*Container, error) {
	return m.stop(ctx, ws, id, m.idleStopLocked)
}

func (m *Manager) stop(ctx context.Context, ws codebox.WorkspaceID, id string, stopLocked func(context.Context, *instance) error) (*Container, error) {
	inst, err := m.use(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	defer inst.release()
	if inst.running {
		if err := stopLocked(ctx, inst); err != nil {
			return nil, err
		}
	}
	if err := m.unmountLocked(inst); err != nil {
		m.logger.Warn("unmount stopped container's disk", "container", id, "err", err)
	}
	m.setStatus(ctx, inst, StatusStopped)
	m.scheduleArchive(inst)
	return inst.snapshot(), nil
}

// List returns ws's containers, newest first.
func (m *Manager) List(ctx context.Context, ws codebox.WorkspaceID, opts ListOptions) ([]*Container, bool, error) {
	list, more, err := m.store.ListContainers(ctx, ws, opts)
	if err != nil {
		return nil, false, err
	}
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, c := range list {
		if inst := m.instances[c.ID]; inst != nil {
			list[i] = inst.snapshot()
		}
		if !now.Before(list[i].ExpiresAt) {
			list[i].Status = StatusExpired
		}
	}
	return list, more, nil
}

// Delete destroys ws's container id and its files.
func (m *Manager) Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	inst, err := m.lookup(ctx, ws, id, true)
	if err != nil {
		return err
	}
	if err := m.destroy(ctx, inst); err != nil {
		return err
	}
	if err := m.store.DeleteContainer(ctx, ws, id); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return nil
}

// withAgent runs fn against the running container, starting it first if needed. If the
// agent cannot be reached (the container died under us), the container is restarted
// once and fn retried.
func (m *Manager) withAgent(ctx context.Context, inst *instance, fn func(*agent.Client) error) error {
	if err := m.startLocked(ctx, inst); err != nil {
		return err
	}
	err := fn(inst.client)
	if err != nil && isDialError(err) && ctx.Err() == nil {
		m.logger.Warn("container agent unreachable; restarting", "container", inst.id, "err", err)
		m.stopLocked(ctx, inst)
		if err := m.startLocked(ctx, inst); err != nil {
			return err
		}
		err = fn(inst.client)
	}
	return agentError(err)
}

func isDialError(err error) bool {
	var de *agent.DialError
	return errors.As(err, &de)
}

// agentError maps the agent's error kinds onto errdefs kinds.
func agentError(err error) error {
	if err == nil {
		return nil
	}
	var ae *agent.Error
	if !errors.As(err, &ae) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	}
	switch ae.Kind {
	case agent.KindNotFound:
		return errdefs.New(errdefs.ErrNotFound, errdefs.CodeFileNotFound, "%s", ae.Message)
	case agent.KindIsDir:
		return errdefs.New(errdefs.ErrInvalid, "", "%s", ae.Message)
	case agent.KindTooLarge:
		return errdefs.New(errdefs.ErrTooLarge, "", "%s", ae.Message)
	case agent.KindInvalid:
		return errdefs.New(errdefs.ErrInvalid, "", "%s", ae.Message)
	}
	return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
}
