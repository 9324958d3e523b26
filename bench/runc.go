package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Baseline drives a plain OCI bundle with the runtime binary directly (runc run,
// runc exec), to show what codebox adds or saves over the bare runtime. The bundle uses
// the same root filesystem, a read-only root, the same namespaces and limits, no seccomp
// and no agent: the process is the command itself.
type Baseline struct {
	Runtime string   // runtime binary, "runc" or "runsc"
	Args    []string // global flags before the subcommand (--root, runsc's --network…)
	RootFS  string
	dir     string
	n       int
}

// NewBaseline prepares a scratch directory for bundles. Close removes it.
func NewBaseline(runtime, rootfs string) (*Baseline, error) {
	dir, err := os.MkdirTemp("", "codebox-bench-")
	if err != nil {
		return nil, err
	}
	b := &Baseline{Runtime: runtime, RootFS: rootfs, dir: dir}
	state := filepath.Join(dir, "state")
	b.Args = []string{"--root", state}
	if filepath.Base(runtime) == "runsc" {
		b.Args = append(b.Args, "--network=none", "--platform=systrap")
	}
	return b, nil
}

// Close removes the scratch directory; containers must be gone already. runsc
// --network=none leaves a shared empty network namespace bind-mounted in its state
// directory, which is released first.
func (b *Baseline) Close() error {
	syscall.Unmount(filepath.Join(b.dir, "state", "null-netns"), syscall.MNT_DETACH)
	return os.RemoveAll(b.dir)
}

func (b *Baseline) bundle(args []string) (id, dir string, err error) {
	b.n++
	id = fmt.Sprintf("codebox-bench-%d-%d", os.Getpid(), b.n)
	dir = filepath.Join(b.dir, id)
	work := filepath.Join(dir, "workspace")
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{work, tmp} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return "", "", err
		}
		if err := os.Chown(d, 1000, 1000); err != nil {
			return "", "", err
		}
	}
	noCaps := []string{}
	mem := int64(5 << 30)
	pids := int64(512)
	var rlimits []specs.POSIXRlimit
	if filepath.Base(b.Runtime) == "runsc" {
		// gVisor's sentry needs host tasks of its own: the process limit moves inside.
		rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NPROC", Hard: uint64(pids), Soft: uint64(pids)}}
		pids = 2048
	}
	quota, period := int64(100000), uint64(100000)
	spec := &specs.Spec{
		Version:  specs.Version,
		Hostname: "sandbox",
		Process: &specs.Process{
			User: specs.User{UID: 1000, GID: 1000}, Cwd: "/workspace", Args: args, NoNewPrivileges: true,
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"HOME=/workspace", "MPLCONFIGDIR=/tmp/mpl", "LANG=C.UTF-8"},
			Capabilities: &specs.LinuxCapabilities{Bounding: noCaps, Effective: noCaps, Permitted: noCaps,
				Inheritable: noCaps, Ambient: noCaps},
			Rlimits: rlimits,
		},
		Root: &specs.Root{Path: b.RootFS, Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/workspace", Type: "bind", Source: work, Options: []string{"rbind", "rw", "nosuid", "nodev"}},
			{Destination: "/tmp", Type: "bind", Source: tmp, Options: []string{"rbind", "rw", "nosuid", "nodev"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace}},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
				Memory:  &specs.LinuxMemory{Limit: &mem, Swap: &mem},
				Pids:    &specs.LinuxPids{Limit: &pids},
				CPU:     &specs.LinuxCPU{Quota: &quota, Period: &period},
			},
			CgroupsPath: "/codebox-bench/" + id,
		},
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return "", "", err
	}
	return id, dir, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
}

func (b *Baseline) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, b.Runtime, append(slicesClone(b.Args), args...)...)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// runOut runs cmd with pipes for stdio (runsc must not share a regular file with its
// caller) and returns stdout, or an error carrying stderr.
func runOut(cmd *exec.Cmd) (string, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Run measures one `runtime run` of args in a fresh bundle (create, start, wait, delete)
// and checks that stdout contains want.
func (b *Baseline) Run(ctx context.Context, args []string, want string) (time.Duration, error) {
	id, dir, err := b.bundle(args)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	out, err := runOut(b.cmd(ctx, "run", "--bundle", dir, id))
	d := time.Since(start)
	if err != nil {
		b.cmd(context.WithoutCancel(ctx), "delete", "--force", id).Run()
		return 0, err
	}
	if !strings.Contains(out, want) {
		return 0, fmt.Errorf("%s run: stdout %q, want %q", b.Runtime, out, want)
	}
	return d, nil
}

// Running is a long-lived baseline container to exec into.
type Running struct {
	b   *Baseline
	id  string
	dir string
}

// Start runs a container whose init sleeps, for Exec measurements.
func (b *Baseline) Start(ctx context.Context) (*Running, error) {
	id, dir, err := b.bundle([]string{"sleep", "infinity"})
	if err != nil {
		return nil, err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	cmd := b.cmd(ctx, "run", "--detach", "--bundle", dir, id)
	// Detached, the init inherits these: they must be files, not pipes we would wait on.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s run --detach: %w", b.Runtime, err)
	}
	return &Running{b: b, id: id, dir: dir}, nil
}

// Exec measures one `runtime exec` of args and checks stdout contains want.
func (r *Running) Exec(ctx context.Context, args []string, want string) (time.Duration, error) {
	start := time.Now()
	out, err := runOut(r.b.cmd(ctx, append([]string{"exec", "--user", "1000:1000", "--cwd", "/workspace", r.id}, args...)...))
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if !strings.Contains(out, want) {
		return 0, fmt.Errorf("%s exec: stdout %q, want %q", r.b.Runtime, out, want)
	}
	return d, nil
}

// Close deletes the container.
func (r *Running) Close(ctx context.Context) error {
	_, err := runOut(r.b.cmd(context.WithoutCancel(ctx), "delete", "--force", r.id))
	os.RemoveAll(r.dir)
	return err
}

// MemoryUsage reads the container's cgroup v1 memory usage in bytes.
func (r *Running) MemoryUsage() (int64, error) {
	return cgroupMemory("/codebox-bench/" + r.id)
}

// cgroupMemory reads memory.usage_in_bytes of a cgroup v1 path such as /codebox/<id>.
func cgroupMemory(cgroup string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", cgroup, "memory.usage_in_bytes"))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}
