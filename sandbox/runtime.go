package sandbox

import (
	"context"
	"errors"
	"syscall"
)

// Limits are the resources one container may use. Zero fields take the defaults.
type Limits struct {
	Memory int64   // bytes of RAM (swap is not granted on top)
	CPUs   float64 // CPU time per wall-clock second
	PIDs   int64   // processes and threads
	Disk   int64   // bytes of the writable workspace disk
}

// Defaults of the hosted service the seeds describe.
const (
	DefaultMemory = 5 << 30
	DefaultCPUs   = 1
	DefaultPIDs   = 512
	DefaultDisk   = 5 << 30
)

func (l Limits) withDefaults() Limits {
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.CPUs <= 0 {
		l.CPUs = DefaultCPUs
	}
	if l.PIDs <= 0 {
		l.PIDs = DefaultPIDs
	}
	if l.Disk <= 0 {
		l.Disk = DefaultDisk
	}
	return l
}

// ContainerSpec is everything a Runtime needs to start one container. Paths are host
// paths the Manager prepared; the runtime only arranges them.
type ContainerSpec struct {
	ID        string
	BundleDir string // private to the runtime: config.json and logs go here
	RootFS    string // shared, mounted read-only as /
	// Agent is the host path of the codebox binary, mounted read-only and run as PID 1
	// with AgentArgs.
	Agent     string
	AgentArgs []string
	// RunDir is mounted at /run/codebox: the agent's socket lives there.
	RunDir string
	// WorkspaceDir and TmpDir, on the container's own disk, are mounted at /workspace
	// and /tmp.
	WorkspaceDir string
	TmpDir       string
	// SkillsDir, on the same disk, is mounted read-only at /skills (see SetSkills).
	SkillsDir string
	// Env is the agent's environment.
	Env    []string
	Limits Limits
	// HostID is the first host user and group ID of the container's own user
	// namespace, which maps its IDs 0 to IDRangeSize-1 onto HostID onwards. Zero runs
	// the container without one.
	HostID uint32
}

// RunState is what a runtime knows about a container.
type RunState int

const (
	StateAbsent  RunState = iota // the runtime has no such container
	StateRunning                 // its init is alive
	StateStopped                 // created or exited; it must be deleted before a restart
)

// Runtime starts and removes containers. It is deliberately small, like containerd's
// shim API: the Manager owns disks, lifecycle and the agent connection, the runtime only
// the isolated process tree.
type Runtime interface {
	// Start creates and starts the container described by spec and returns once its
	// init runs. Errors wrap errdefs.ErrUnavailable.
	Start(ctx context.Context, spec *ContainerSpec) error
	// Delete kills the container if it runs and removes it. Deleting an absent
	// container is not an error.
	Delete(ctx context.Context, id string) error
	// State reports whether the container exists and runs.
	State(ctx context.Context, id string) (RunState, error)
	// List returns the IDs of all containers the runtime holds.
	List(ctx context.Context) ([]string, error)
	// OOMKills returns how many processes the memory limit has killed in the container
	// so far. The Manager compares it before and after a command.
	OOMKills(ctx context.Context, id string) (uint64, error)
}

// ErrNoRuntime is returned by operations that need a container to run when the Manager
// has no runtime (the sandbox is disabled).
var ErrNoRuntime = errors.New("sandbox: no runtime configured")

// Checkpointer is a Runtime that can save a running container's memory and processes
// to disk and start it again from there (checkpoint.go).
type Checkpointer interface {
	// CanCheckpoint reports whether this runtime's containers can be checkpointed.
	CanCheckpoint() bool
	// Checkpoint saves the container into dir and ends it.
	Checkpoint(ctx context.Context, id, dir string) error
	// Restore starts the container from the checkpoint in dir with the config.json
	// its bundle was started with, and sends resume to its init once it runs. The
	// runtime must not hold a container of that id.
	Restore(ctx context.Context, id, bundleDir, dir string, resume syscall.Signal) error
}
