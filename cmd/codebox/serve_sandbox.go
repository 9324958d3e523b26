package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/image"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/oci"
	"github.com/codebox-dev/codebox/tools"
)

var _ tools.Sandbox = (*sandbox.Manager)(nil)

// sandboxConfig is the sandbox section of the server's configuration.
type sandboxConfig struct {
	Sandbox      bool
	Runtime      string
	RuntimeRoot  string
	ImageDir     string
	Memory       binarySize
	CPUs         float64
	PIDs         int64
	Disk         binarySize
	ExecTimeout  time.Duration
	Idle         time.Duration
	Expiry       time.Duration
	PoolSize     int
	PoolMax      int
	PoolHold     time.Duration
	PythonWarmup string
	Prefork      bool
	Checkpoint   bool
	DiskArchive  string
	UIDBase      uint32

	// Capacity of the containers together; zero means derived from the host.
	CgroupParent           string
	TotalMemory            binarySize
	TotalPIDs              int64
	MemoryRequest          binarySize
	MaxRunning             int
	MaxRunningPerWorkspace int

	egressConfig
}

// binarySize is a size flag that reads like byteSize ("5GiB", "512MB") and prints in
// binary units, which is how memory and disk limits are usually stated.
type binarySize struct{ byteSize }

func (b *binarySize) String() string { return humanize.IBytes(uint64(b.byteSize)) }

func bindSandboxFlags(fs *pflag.FlagSet, c *sandboxConfig) {
	c.Memory.byteSize, c.Disk.byteSize = sandbox.DefaultMemory, sandbox.DefaultDisk
	fs.BoolVar(&c.Sandbox, "sandbox", true, "run code in sandboxed containers (false serves the Files API alone)")
	fs.StringVar(&c.Runtime, "sandbox-runtime", "runc", "OCI runtime binary: runc, or runsc for gVisor")
	fs.StringVar(&c.RuntimeRoot, "sandbox-runtime-root", "", "runtime state directory (default <data-dir>/runtime/<runtime>)")
	fs.StringVar(&c.ImageDir, "image-dir", "", "directory of container root filesystems (default <data-dir>/images)")
	fs.Var(&c.Memory, "sandbox-memory", "memory limit of each container")
	fs.Float64Var(&c.CPUs, "sandbox-cpus", sandbox.DefaultCPUs, "CPUs each container may use")
	fs.Int64Var(&c.PIDs, "sandbox-pids", sandbox.DefaultPIDs, "processes and threads each container may run")
	fs.Var(&c.Disk, "sandbox-disk", "size of each container's workspace disk")
	fs.DurationVar(&c.ExecTimeout, "exec-timeout", sandbox.DefaultExecTimeout, "wall-clock limit of one command or Python cell")
	fs.DurationVar(&c.Idle, "container-idle", sandbox.DefaultIdle, "stop a container unused this long (its files are kept)")
	fs.DurationVar(&c.Expiry, "container-expiry", sandbox.DefaultExpiry, "destroy a container and its files this long after creation")
	fs.IntVar(&c.PoolSize, "pool-size", 2, "pre-started containers kept ready for create")
	fs.IntVar(&c.PoolMax, "pool-max", 0, "pre-started containers the pool grows to when creates come faster (default: what one workspace may run at once, at least 4 × --pool-size)")
	fs.DurationVar(&c.PoolHold, "pool-hold", sandbox.DefaultPoolHold, "how long the pool keeps the size of a burst of creates after it, ready for the next one")
	fs.Uint32Var(&c.UIDBase, "sandbox-uid-base", sandbox.DefaultIDBase, "first host uid/gid of the containers' user namespaces; each container maps 65536 from here on")
	fs.StringVar(&c.PythonWarmup, "python-warmup", "", `Python run when a container's REPL starts, e.g. "import pandas, numpy"`)
	fs.BoolVar(&c.Checkpoint, "container-checkpoint", true, "save an idle container's memory (the REPL's state) to disk when it is stopped, and restore it on its next use (runsc only)")
	fs.StringVar(&c.DiskArchive, "disk-archive", diskArchiveAuto, "on: archive a stopped container's disk (its data only) where --blobs keeps bytes (disks/ of the bucket, or <data-dir>/disks), and restore it from there on whichever node starts it next when its local copy is missing or older; off: disks stay local; auto: on when --blobs is a bucket")
	fs.BoolVar(&c.Prefork, "python-prefork", true, "start each python3 of a command from a fork of an interpreter with numpy, pandas, matplotlib and scipy imported")
	c.MemoryRequest.byteSize = sandbox.DefaultMemoryRequest
	fs.StringVar(&c.CgroupParent, "sandbox-cgroup-parent", oci.DefaultCgroupParent, "cgroup the containers' cgroups are made in, limited by --sandbox-total-memory and --sandbox-total-pids")
	fs.Var(&c.TotalMemory, "sandbox-total-memory", "memory all containers may use together (default: the host's less a tenth, at least 1GiB)")
	fs.Int64Var(&c.TotalPIDs, "sandbox-total-pids", 0, "tasks all containers may run together (default: pid_max less a quarter)")
	fs.Var(&c.MemoryRequest, "sandbox-memory-request", "memory a running container is counted for when admitting it")
	fs.IntVar(&c.MaxRunning, "max-running-containers", 0, "running containers on the server (default: --sandbox-total-memory / --sandbox-memory-request)")
	fs.IntVar(&c.MaxRunningPerWorkspace, "max-running-containers-per-workspace", 0, "running containers of one workspace (default: half of --max-running-containers)")
	bindEgressFlags(fs, &c.egressConfig)
}

// capacity derives the containers' caps from the host and the flags.
func (c *sandboxConfig) capacity() (sandbox.Capacity, error) {
	host, err := sandbox.ReadHost()
	if err != nil {
		return sandbox.Capacity{}, fmt.Errorf("host capacity: %w", err)
	}
	return host.DefaultCapacity(sandbox.Capacity{
		Memory: int64(c.TotalMemory.byteSize), PIDs: c.TotalPIDs, MemoryRequest: int64(c.MemoryRequest.byteSize),
		MaxRunning: c.MaxRunning, MaxRunningPerWorkspace: c.MaxRunningPerWorkspace,
	}), nil
}

// setupSandbox builds (or finds) the root filesystem, reconciles the containers the
// previous run left, and starts the pool and the idle/expiry sweeper.
func setupSandbox(ctx context.Context, a *app) error {
	cfg := &a.cfg.sandboxConfig
	if !cfg.Sandbox {
		a.logger.Info("sandbox disabled: code execution is unavailable")
		return nil
	}
	imageDir := cfg.ImageDir
	if imageDir == "" {
		imageDir = filepath.Join(a.cfg.DataDir, "images")
	}
	img, err := image.EnsureBuilt(ctx, imageDir, os.Stderr)
	if err != nil {
		return fmt.Errorf("sandbox image: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return err
	}
	root := cfg.RuntimeRoot
	if root == "" {
		root = filepath.Join(a.cfg.DataDir, "runtime", filepath.Base(cfg.Runtime))
	}
	capacity, err := cfg.capacity()
	if err != nil {
		return err
	}
	rt, err := oci.New(oci.Config{Binary: cfg.Runtime, Root: root, CgroupParent: cfg.CgroupParent,
		ParentLimits: oci.ParentLimits{Memory: capacity.Memory, PIDs: capacity.PIDs}})
	if err != nil {
		return err
	}
	a.logger.Info("sandbox capacity", "memory", humanize.IBytes(uint64(capacity.Memory)), "tasks", capacity.PIDs,
		"running", capacity.MaxRunning, "running_per_workspace", capacity.MaxRunningPerWorkspace)
	a.onClose(func(context.Context) error { return rt.Close() })
	a.api.Checks = append(a.api.Checks, api.Check{Name: "runtime", Func: func(ctx context.Context) error {
		_, err := rt.List(ctx)
		return err
	}}) // after the Manager's Close; see oci/runsc.go
	proxy, err := cfg.proxy(a.logger)
	if err != nil {
		return err
	}
	node, err := a.nodeName()
	if err != nil {
		return err
	}
	archive, err := openDiskArchive(ctx, a)
	if err != nil {
		return err
	}
	var fstore sandbox.FileStore
	if a.files != nil {
		fstore = a.files
	}
	m, err := sandbox.New(sandbox.Config{
		Dir:          filepath.Join(a.cfg.DataDir, "containers"),
		RootFS:       img.RootFS,
		Images:       image.Catalog{Dir: imageDir},
		Agent:        self,
		Limits:       sandbox.Limits{Memory: int64(cfg.Memory.byteSize), CPUs: cfg.CPUs, PIDs: cfg.PIDs, Disk: int64(cfg.Disk.byteSize)},
		Capacity:     capacity,
		Space:        a.space,
		ExecTimeout:  cfg.ExecTimeout,
		Idle:         cfg.Idle,
		Expiry:       cfg.Expiry,
		PoolSize:     cfg.PoolSize,
		PoolMax:      cfg.PoolMax,
		PoolHold:     cfg.PoolHold,
		PythonWarmup: cfg.PythonWarmup,
		Prefork:      cfg.Prefork,
		Checkpoint:   cfg.Checkpoint,
		IDBase:       cfg.UIDBase,
		Logger:       a.logger,
		Observer:     a.metrics,
		Egress:       proxy,
		Node:         node,
		Disks:        archive,
	}, rt, a.db, fstore)
	if err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	a.onClose(m.Close)
	if err := m.Check(ctx); err != nil {
		return fmt.Errorf("sandbox runtime %s: %w", cfg.Runtime, err)
	}
	a.sandbox = m
	a.api.ContainersConfig.Containers = m
	if fstore != nil {
		a.api.ContainersConfig.StoredFiles = fstore
	}
	return nil
}
