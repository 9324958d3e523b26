package oci

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// Paths inside the container.
const (
	// AgentPath is where the codebox binary is mounted.
	AgentPath = "/run/codebox-agent"
	// UID and GID of everything that runs in a container without a user namespace.
	UID = 1000
	GID = 1000
)

// agentCaps are all the agent keeps as its user namespace's root: signalling and
// reaping user code (which runs as another user), and dropping to the user's IDs for
// commands and for the files it writes on the user's behalf. They are capabilities of
// the container's own user namespace, worth nothing outside it.
var agentCaps = []string{"CAP_KILL", "CAP_SETUID", "CAP_SETGID"}

// SpecOpt changes one aspect of a spec. Opts create the nested structs they need, so each
// works on an empty spec.
type SpecOpt func(*specs.Spec) error

// Compose chains opts into one.
func Compose(opts ...SpecOpt) SpecOpt {
	return func(s *specs.Spec) error {
		for _, o := range opts {
			if err := o(s); err != nil {
				return err
			}
		}
		return nil
	}
}

func setProcess(s *specs.Spec) *specs.Process {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	return s.Process
}

func setLinux(s *specs.Spec) *specs.Linux {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	return s.Linux
}

func setResources(s *specs.Spec) *specs.LinuxResources {
	l := setLinux(s)
	if l.Resources == nil {
		l.Resources = &specs.LinuxResources{}
	}
	return l.Resources
}

func ptr[T any](v T) *T { return &v }

// DefaultSpec is the part of every container's config that does not depend on the
// host: an unprivileged process (uid 1000, no capabilities, no_new_privileges) in its
// own PID, IPC, UTS, mount and cgroup namespaces, the usual pseudo-filesystems with
// the kernel's sensitive files masked, and no devices beyond the runtime's defaults.
func DefaultSpec() *specs.Spec {
	noCaps := []string{}
	return &specs.Spec{
		Version:  specs.Version,
		Hostname: "sandbox",
		Process: &specs.Process{
			User:            specs.User{UID: UID, GID: GID},
			Cwd:             "/",
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: noCaps, Effective: noCaps, Permitted: noCaps, Inheritable: noCaps, Ambient: noCaps,
			},
			Rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Hard: 4096, Soft: 4096},
				{Type: "RLIMIT_CORE", Hard: 0, Soft: 0},
			},
		},
		Root: &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			// /run is the container's own small tmpfs, so mount points for the agent
			// need not exist in the shared image.
			{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755", "size=1024k"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
		},
	}
}

// maskedPaths are hidden (an empty read-only directory, or /dev/null over a file).
// The first part is Docker's default list. The rest is every place the kernel shows
// block devices: the loop devices of all containers on the host, with each disk's
// host path (and so its container's ID) in loop/backing_file and its live I/O counters
// in stat, /proc/diskstats and ext4's per-device counters, a side channel on other
// tenants' writes.
var maskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",

	"/proc/diskstats", "/proc/partitions", "/sys/block", "/sys/class/block",
	"/sys/dev/block", "/sys/devices/virtual/block", "/sys/fs/ext4",
}

// readonlyPaths are Docker's default read-only paths.
var readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// WithUserNamespace gives the container its own user namespace whose IDs 0 to size-1
// are host IDs hostID to hostID+size-1, as Docker's userns-remap and Kubernetes' user
// namespaces do: no two containers share a host user, so the kernel's per-user limits
// (pipe buffers, processes, inotify) and signal permissions separate them, and root in
// the container is an unprivileged host user. The init (the agent) runs as the
// namespace's root with agentCaps; user code runs as UID with none.
func WithUserNamespace(hostID, size uint32) SpecOpt {
	return func(s *specs.Spec) error {
		if hostID == 0 || size == 0 {
			return fmt.Errorf("user namespace %d+%d: must map a non-root range", hostID, size)
		}
		l := setLinux(s)
		for _, ns := range l.Namespaces {
			if ns.Type == specs.UserNamespace {
				return errors.New("user namespace set twice")
			}
		}
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
		l.UIDMappings, l.GIDMappings = m, m
		p := setProcess(s)
		p.User = specs.User{UID: 0, GID: 0}
		caps := agentCaps
		p.Capabilities = &specs.LinuxCapabilities{
			Bounding: caps, Effective: caps, Permitted: caps, Inheritable: []string{}, Ambient: []string{},
		}
		return nil
	}
}

// WithReadonlyRoot makes path, shared by all containers, the read-only root.
func WithReadonlyRoot(path string) SpecOpt {
	return func(s *specs.Spec) error {
		s.Root = &specs.Root{Path: path, Readonly: true}
		return nil
	}
}

// WithAgent mounts the binary at AgentPath read-only and runs it as the container's
// init with args and env.
func WithAgent(binary string, args, env []string) SpecOpt {
	return func(s *specs.Spec) error {
		p := setProcess(s)
		p.Args = append([]string{AgentPath}, args...)
		p.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
		s.Mounts = append(s.Mounts, specs.Mount{Destination: AgentPath, Type: "bind", Source: binary,
			Options: []string{"bind", "ro", "nosuid", "nodev"}})
		return nil
	}
}

// WithRunDir mounts the host directory holding the agent's socket at agent.SocketDir.
func WithRunDir(dir string) SpecOpt {
	return func(s *specs.Spec) error {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: agent.SocketDir, Type: "bind", Source: dir,
			Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}})
		return nil
	}
}

// WithSkillsMount mounts dir read-only at /skills: the skills of the request using the
// container, which the host changes between requests. "" mounts nothing.
func WithSkillsMount(dir string) SpecOpt {
	return func(s *specs.Spec) error {
		if dir != "" {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: sandbox.SkillsPath, Type: "bind", Source: dir,
				Options: []string{"rbind", "ro", "nosuid", "nodev"}})
		}
		return nil
	}
}

// WithWorkspaceMount mounts the container's persistent disk: workspace at /workspace
// and tmp at /tmp, so both survive stops and server restarts.
func WithWorkspaceMount(workspace, tmp string) SpecOpt {
	return func(s *specs.Spec) error {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: agent.WorkDir, Type: "bind", Source: workspace,
				Options: []string{"rbind", "rw", "nosuid", "nodev"}},
			specs.Mount{Destination: "/tmp", Type: "bind", Source: tmp,
				Options: []string{"rbind", "rw", "nosuid", "nodev"}})
		return nil
	}
}

// WithMemoryLimit caps RAM at bytes and grants no swap on top (memory+swap = bytes).
func WithMemoryLimit(bytes int64) SpecOpt {
	return func(s *specs.Spec) error {
		if bytes <= 0 {
			return fmt.Errorf("memory limit %d: must be positive", bytes)
		}
		r := setResources(s)
		r.Memory = &specs.LinuxMemory{Limit: ptr(bytes), Swap: ptr(bytes)}
		return nil
	}
}

// WithPidsLimit caps the number of tasks (processes and threads) at n.
func WithPidsLimit(n int64) SpecOpt {
	return func(s *specs.Spec) error {
		if n <= 0 {
			return fmt.Errorf("pids limit %d: must be positive", n)
		}
		setResources(s).Pids = &specs.LinuxPids{Limit: ptr(n)}
		return nil
	}
}

// cpuPeriod is the CFS period the CPU quota is expressed in.
const cpuPeriod = 100000

// WithCPU limits CPU time to cpus CPUs' worth per wall-clock second.
func WithCPU(cpus float64) SpecOpt {
	return func(s *specs.Spec) error {
		if cpus <= 0 {
			return fmt.Errorf("cpus %v: must be positive", cpus)
		}
		setResources(s).CPU = &specs.LinuxCPU{Quota: ptr(int64(cpus * cpuPeriod)), Period: ptr(uint64(cpuPeriod))}
		return nil
	}
}

// WithRlimitNPROC sets RLIMIT_NPROC. gVisor enforces it inside the sandbox, where a low
// host pids limit would crash its kernel instead.
func WithRlimitNPROC(n uint64) SpecOpt {
	return func(s *specs.Spec) error {
		p := setProcess(s)
		p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NPROC", Hard: n, Soft: n})
		return nil
	}
}

// WithLoopbackOnly gives the container a new, empty network namespace: the runtime
// brings up lo and nothing else, so there is no route, no DNS and no egress.
func WithLoopbackOnly() SpecOpt {
	return func(s *specs.Spec) error {
		l := setLinux(s)
		for _, ns := range l.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				if ns.Path != "" {
					return fmt.Errorf("network namespace %q is shared", ns.Path)
				}
				return nil
			}
		}
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
		return nil
	}
}

// WithCgroupsPath places the container's cgroups at the absolute path p. Without it runc
// nests them under the caller's own cgroup.
func WithCgroupsPath(p string) SpecOpt {
	return func(s *specs.Spec) error {
		setLinux(s).CgroupsPath = p
		return nil
	}
}

// WithSeccomp installs the filter sc.
func WithSeccomp(sc *specs.LinuxSeccomp) SpecOpt {
	return func(s *specs.Spec) error {
		setLinux(s).Seccomp = sc
		return nil
	}
}

// deniedSyscalls fail with EPERM: kernel surfaces an unprivileged process has no use
// for (modules, mounts, namespaces, tracing, keyrings, io_uring, bpf, clocks, swap,
// reboot, NUMA policy). Everything else is allowed, which keeps numpy, pandas and
// matplotlib working; capabilities, not the filter, guard the privileged calls.
var deniedSyscalls = []string{
	"acct", "add_key", "bpf", "chroot", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "fanotify_init", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
	"get_kernel_syms", "get_mempolicy", "init_module", "io_uring_enter", "io_uring_register",
	"io_uring_setup", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
	"lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount", "move_pages",
	"name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open",
	"personality", "pivot_root", "process_madvise", "process_vm_readv", "process_vm_writev",
	"ptrace", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key",
	"set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "syslog",
	"sysfs", "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vhangup",
}

// Namespace flags of clone(2); a clone asking for any of them is refused.
var cloneNamespaceFlags = []uint64{
	0x00020000, // CLONE_NEWNS
	0x02000000, // CLONE_NEWCGROUP
	0x04000000, // CLONE_NEWUTS
	0x08000000, // CLONE_NEWIPC
	0x10000000, // CLONE_NEWUSER
	0x20000000, // CLONE_NEWPID
	0x40000000, // CLONE_NEWNET
}

// DefaultSeccomp is the container's syscall filter: allow by default, deny the list
// above with EPERM, refuse clone with namespace flags, and make clone3 (whose flags a
// filter cannot see) fail with ENOSYS so that libc falls back to clone.
func DefaultSeccomp() *specs.LinuxSeccomp {
	sc := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: deniedSyscalls, Action: specs.ActErrno, ErrnoRet: ptr(uint(1))},
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(38))},
		},
	}
	for _, f := range cloneNamespaceFlags {
		sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{
			Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(1)),
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: f, ValueTwo: f, Op: specs.OpMaskedEqual}},
		})
	}
	return sc
}

// Spec builds the full config of one container.
func Spec(cs *sandbox.ContainerSpec, gvisor bool) (*specs.Spec, error) {
	s := DefaultSpec()
	pids := cs.Limits.PIDs
	opts := []SpecOpt{
		WithReadonlyRoot(cs.RootFS),
		WithAgent(cs.Agent, cs.AgentArgs, cs.Env),
		WithRunDir(cs.RunDir),
		WithWorkspaceMount(cs.WorkspaceDir, cs.TmpDir),
		WithSkillsMount(cs.SkillsDir),
		WithMemoryLimit(cs.Limits.Memory),
		WithCPU(cs.Limits.CPUs),
		WithLoopbackOnly(),
		WithCgroupsPath(CgroupsPath(cs.ID)),
		WithSeccomp(DefaultSeccomp()),
	}
	if cs.HostID != 0 {
		opts = append(opts, WithUserNamespace(cs.HostID, sandbox.IDRangeSize))
	}
	if gvisor {
		// The sentry and its stubs are host tasks of the sandbox: the process limit
		// moves inside, and the host limit only bounds the sentry.
		opts = append(opts, WithRlimitNPROC(uint64(pids)))
		pids = max(pids, 1024) + 1024
	}
	opts = append(opts, WithPidsLimit(pids))
	if err := Compose(opts...)(s); err != nil {
		return nil, err
	}
	return s, nil
}

// CgroupsPath is the absolute cgroup of container id.
func CgroupsPath(id string) string { return "/codebox/" + id }
