package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	runc "github.com/containerd/go-runc"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// Runtime runs containers as OCI bundles with an OCI runtime binary: runc by default,
// or gVisor's runsc, which gets the same config with its process limit moved inside the
// sandbox.
type Runtime struct {
	binary string
	root   string
	// rc drives the binary (runc's command line, which runsc shares) with the root and
	// the global flags.
	rc     *runc.Runc
	gvisor bool
	parent string
	// ownsParent is set when this runtime limits the parent cgroup, which makes it
	// the parent's only user.
	ownsParent bool

	// layersMu serializes mounting the read-only overlays (layers.go).
	layersMu sync.Mutex
}

var _ sandbox.Runtime = (*Runtime)(nil)

// Config configures a Runtime.
type Config struct {
	// Binary is the runtime: a name looked up in PATH or a path. Default "runc". A
	// binary named runsc is driven as gVisor (systrap platform, no network).
	Binary string
	// Root is the runtime's state directory, private to this server so that
	// reconciliation never touches another server's containers.
	Root string
	// Args are extra global flags for the binary.
	Args []string
	// CgroupParent is the cgroup every container's cgroup is made in (default
	// DefaultCgroupParent); ParentLimits, when set, are given to it at New.
	CgroupParent string
	ParentLimits ParentLimits
}

// New checks that the binary exists and returns a Runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.Binary == "" {
		cfg.Binary = "runc"
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: runtime %q: %v", errdefs.ErrUnavailable, cfg.Binary, err)
	}
	if err := checkBinary(bin); err != nil {
		return nil, err
	}
	if cfg.Root == "" {
		return nil, errors.New("oci: no state root")
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, err
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = DefaultCgroupParent
	}
	if !path.IsAbs(cfg.CgroupParent) {
		return nil, fmt.Errorf("oci: cgroup parent %q is not absolute", cfg.CgroupParent)
	}
	if err := limitParent(cfg.CgroupParent, cfg.ParentLimits); err != nil {
		return nil, fmt.Errorf("%w: limits of the containers' cgroup: %v", errdefs.ErrUnavailable, err)
	}
	r := &Runtime{binary: bin, root: cfg.Root, parent: path.Clean(cfg.CgroupParent),
		ownsParent: cfg.ParentLimits != (ParentLimits{})}
	r.rc = &runc.Runc{Command: bin, Root: cfg.Root, ExtraArgs: cfg.Args}
	if filepath.Base(bin) == "runsc" {
		r.gvisor = true
		r.rc.ExtraArgs = append(gvisorArgs(), cfg.Args...) // flags and why: runsc.go
	} else if err := raiseHostInotify(); err != nil {
		return nil, fmt.Errorf("%w: raising the host's inotify limits for containers: %v", errdefs.ErrUnavailable, err) // why: userns.go
	}
	return r, nil
}

// versionTimeout bounds the start-time check that the runtime binary runs at all.
const versionTimeout = 30 * time.Second

// checkBinary runs "bin --version", so that a runtime binary that is not one (a
// truncated download, a wrapper script that fails, the wrong architecture) stops the
// server at start with what it printed, instead of failing every container start.
func checkBinary(bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("runtime %s does not work: %s --version: %v: %s", bin, filepath.Base(bin), err, tail(out, 1024))
	}
	return nil
}

// Start writes config.json into the bundle and runs the container detached. The
// container's stdio is a log file in the bundle, never a pipe: a detached init keeps
// its stdio open, and a pipe would tie its life to this process.
func (r *Runtime) Start(ctx context.Context, cs *sandbox.ContainerSpec) error {
	if err := ensureMountpoints(cs.RootFS); err != nil {
		return fmt.Errorf("%w: rootfs: %v", errdefs.ErrUnavailable, err)
	}
	if !r.gvisor {
		// The image and the agent come from overlays that hide their host paths.
		layered := *cs
		root, err := r.layer(cs.RootFS)
		if err != nil {
			return fmt.Errorf("%w: rootfs: %v", errdefs.ErrUnavailable, err)
		}
		bin, err := r.layer(filepath.Dir(cs.Agent))
		if err != nil {
			return fmt.Errorf("%w: agent: %v", errdefs.ErrUnavailable, err)
		}
		layered.RootFS, layered.Agent = root, filepath.Join(bin, filepath.Base(cs.Agent))
		cs = &layered
	}
	spec, err := Spec(cs, r.gvisor)
	if err != nil {
		return err
	}
	if err := WithCgroupsPath(r.CgroupOf(cs.ID))(spec); err != nil {
		return err
	}
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cs.BundleDir, "config.json"), b, 0o600); err != nil {
		return err
	}
	logPath := filepath.Join(cs.BundleDir, "init.log")
	stdio, err := initStdio(logPath)
	if err != nil {
		return err
	}
	defer stdio.close()
	if _, err := r.rc.Run(ctx, cs.ID, cs.BundleDir, &runc.CreateOpts{Detach: true, IO: stdio}); err != nil {
		msg, _ := os.ReadFile(logPath)
		// A half-created container must not linger.
		r.Delete(context.WithoutCancel(ctx), cs.ID)
		return fmt.Errorf("%w: %s run: %v: %s", errdefs.ErrUnavailable, filepath.Base(r.binary), err, tail(msg, 2048))
	}
	if cs.HostID != 0 && !r.gvisor {
		if err := r.limitUserNamespace(ctx, cs.ID); err != nil {
			r.Delete(context.WithoutCancel(ctx), cs.ID)
			return fmt.Errorf("%w: %v", errdefs.ErrUnavailable, err)
		}
	}
	return nil
}

// ensureMountpoints creates the mount points that must exist in the shared root
// (runc would otherwise create them there itself, racing other containers).
func ensureMountpoints(rootfs string) error {
	for _, d := range []string{"workspace", "tmp", "skills", "run", "proc", "sys", "dev"} {
		p := filepath.Join(rootfs, d)
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			continue
		}
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	// gVisor's gofer binds the agent and its socket directory onto paths of the
	// shared root itself, under the container's /run tmpfs, and cannot create them
	// there: they must exist in the image (runc makes them in the tmpfs).
	if err := os.Mkdir(filepath.Join(rootfs, agent.SocketDir), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(filepath.Join(rootfs, AgentPath), os.O_RDONLY|os.O_CREATE, 0o755)
	if err != nil {
		return err
	}
	return f.Close()
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Delete kills and removes the container; an absent one is not an error.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	if err := r.rc.Delete(ctx, id, &runc.DeleteOpts{Force: true}); err != nil {
		if st, serr := r.State(ctx, id); serr == nil && st == sandbox.StateAbsent {
			return nil
		}
		return fmt.Errorf("%s delete %s: %w", filepath.Base(r.binary), id, err)
	}
	return nil
}

// State reports whether the container exists and runs. A failed state command is
// told apart from an absent container by the runtime's list of containers, not by
// the wording of its error.
func (r *Runtime) State(ctx context.Context, id string) (sandbox.RunState, error) {
	c, err := r.rc.State(ctx, id)
	if err != nil {
		ids, lerr := r.List(ctx)
		if lerr != nil {
			return sandbox.StateAbsent, fmt.Errorf("%s state %s: %w", filepath.Base(r.binary), id, errors.Join(err, lerr))
		}
		if !slices.Contains(ids, id) {
			return sandbox.StateAbsent, nil
		}
		return sandbox.StateAbsent, fmt.Errorf("%s state %s: %w", filepath.Base(r.binary), id, err)
	}
	if c.Status == "running" {
		return sandbox.StateRunning, nil
	}
	return sandbox.StateStopped, nil
}

// List returns the IDs of the containers in this runtime's state root.
func (r *Runtime) List(ctx context.Context) ([]string, error) {
	list, err := r.rc.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s list: %w", filepath.Base(r.binary), err)
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// fileIO gives a runtime command files for its stdio instead of pipes (runc.IO).
type fileIO struct{ in, out *os.File }

// initStdio is a container init's stdio: nothing in, and out to the log file at
// logPath. Close it once the runtime command has returned.
func initStdio(logPath string) (fileIO, error) {
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fileIO{}, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		log.Close()
		return fileIO{}, err
	}
	return fileIO{devnull, log}, nil
}

func (f fileIO) close() {
	f.in.Close()
	f.out.Close()
}

func (f fileIO) Set(c *exec.Cmd) { c.Stdin, c.Stdout, c.Stderr = f.in, f.out, f.out }

func (fileIO) Close() error { return nil }

func (fileIO) Stdin() io.WriteCloser { return nil }

func (fileIO) Stdout() io.ReadCloser { return nil }

func (fileIO) Stderr() io.ReadCloser { return nil }

// OOMKills reads the memory cgroup's OOM-kill counter (cgroup v1 memory.oom_control, or
// v2 memory.events).
func (r *Runtime) OOMKills(ctx context.Context, id string) (uint64, error) {
	cg := r.CgroupOf(id)
	for _, f := range []struct{ path, key string }{
		{"/sys/fs/cgroup/memory" + cg + "/memory.oom_control", "oom_kill"},
		{"/sys/fs/cgroup" + cg + "/memory.events", "oom_kill"},
	} {
		b, err := os.ReadFile(f.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, f.key+" "); ok {
				return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			}
		}
		return 0, nil
	}
	return 0, fmt.Errorf("no memory cgroup for %s", id)
}

// CgroupOf is the absolute cgroup of container id.
func (r *Runtime) CgroupOf(id string) string { return path.Join(r.parent, id) }

// MemoryUsage returns what the containers use of memory together: the working set of
// their parent cgroup.
func (r *Runtime) MemoryUsage(ctx context.Context) (int64, error) {
	return memoryWorkingSet(r.parent)
}
