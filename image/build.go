package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotBuilt is returned by Lookup when the directory holds no image for the recipe.
var ErrNotBuilt = errors.New("image not built")

// Paths inside the root filesystem that the sandbox relies on.
const (
	// WorkspaceDir is the user's working directory and HOME, a mount point.
	WorkspaceDir = "/workspace"
	// AgentDir is an empty directory, a mount point for the codebox binary (the
	// container's init) for runtimes that want it on the read-only root.
	AgentDir = "/opt/codebox"
	// UID and GID are the unprivileged user ("user") commands run as.
	UID = 1000
	GID = 1000
)

// Image is a built root filesystem.
type Image struct {
	// Dir is the image directory, <image dir>/<hash>.
	Dir string
	// RootFS is the root filesystem, Dir/rootfs. Containers mount it read-only.
	RootFS string
	// Hash is the recipe's hash, the image's cache key.
	Hash     string
	Manifest *Manifest
}

// Options configure Build.
type Options struct {
	// Dir holds images, one subdirectory per recipe hash.
	Dir string
	// Recipe is what to build; nil means DefaultRecipe().
	Recipe *Recipe
	// Progress receives a human-readable display of the build (a terminal gets a
	// live status line); nil discards it.
	Progress io.Writer
	// Force rebuilds even if an image for the recipe exists.
	Force bool
}

// Lookup returns the image in dir built from DefaultRecipe, or an error wrapping
// ErrNotBuilt.
func Lookup(dir string) (*Image, error) { return LookupRecipe(dir, DefaultRecipe()) }

// LookupRecipe returns the image in dir built from r, or an error wrapping ErrNotBuilt.
func LookupRecipe(dir string, r *Recipe) (*Image, error) {
	hash := r.Hash()
	imgDir := filepath.Join(dir, hash)
	m, err := ReadManifest(imgDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("image: %s: %w", imgDir, ErrNotBuilt)
	}
	if err != nil {
		return nil, err
	}
	if m.Hash != hash {
		return nil, fmt.Errorf("image: %s: manifest hash %s, want %s: %w", imgDir, m.Hash, hash, ErrNotBuilt)
	}
	rootfs := filepath.Join(imgDir, "rootfs")
	if _, err := os.Stat(filepath.Join(rootfs, "usr/bin/python3")); err != nil {
		return nil, fmt.Errorf("image: %s: %w", rootfs, err)
	}
	return &Image{Dir: imgDir, RootFS: rootfs, Hash: hash, Manifest: m}, nil
}

// EnsureBuilt returns the image in dir for DefaultRecipe, building it first (which
// takes a few minutes and shows progress) when it is missing, damaged, or the recipe
// changed. A damaged image is moved aside, for Prune to delete.
func EnsureBuilt(ctx context.Context, dir string, progress io.Writer) (*Image, error) {
	if img, err := Lookup(dir); err == nil {
		return img, nil
	}
	return Build(ctx, Options{Dir: dir, Progress: progress})
}

// Build builds the image for opts.Recipe into opts.Dir and returns it. An image that
// already exists is returned as is unless opts.Force is set. Concurrent builders of
// the same directory wait for each other. Build needs root.
func Build(ctx context.Context, opts Options) (img *Image, err error) {
	r := opts.Recipe
	if r == nil {
		r = DefaultRecipe()
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, errors.New("image: no image directory")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	p := newProgress(opts.Progress)
	defer p.Close()

	unlock, err := lock(ctx, filepath.Join(dir, ".lock"), p)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !opts.Force {
		// Another builder may have finished while we waited for the lock.
		if img, err := LookupRecipe(dir, r); err == nil {
			p.Stage("cached", "image %s is already built (use --force to rebuild)", img.Hash)
			return img, nil
		}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("image: building the image needs root (mmdebstrap, chroot)")
	}
	for _, bin := range []string{"mmdebstrap", "unshare", "chroot", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("image: %s is required to build the image (scripts/deps.sh installs it): %w", bin, err)
		}
	}

	b := &builder{recipe: r, hash: r.Hash(), p: p, start: time.Now()}
	b.tmp = filepath.Join(dir, b.hash+".tmp")
	b.rootfs = filepath.Join(b.tmp, "rootfs")
	if err := removeTree(b.tmp); err != nil {
		return nil, err
	}
	if err := os.Mkdir(b.tmp, 0o755); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	b.failedLog = filepath.Join(dir, b.hash+".failed.log")
	defer func() {
		if err != nil {
			// Keep the log of a failed build; the partial root filesystem goes.
			os.Rename(filepath.Join(b.tmp, "build.log"), b.failedLog)
			if rmErr := removeTree(b.tmp); rmErr != nil {
				err = errors.Join(err, rmErr)
			}
		}
	}()
	logf, err := os.Create(filepath.Join(b.tmp, "build.log"))
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	defer logf.Close()
	b.log = logf

	p.Stage("build", "image %s (Debian %s, %d packages) in %s", b.hash, r.Suite, len(r.Packages), dir)
	m, err := b.run(ctx)
	if err != nil {
		return nil, err
	}
	if err := syncFS(b.rootfs); err != nil {
		return nil, err
	}
	if err := WriteManifest(b.tmp, m); err != nil {
		return nil, err
	}
	if err := logf.Sync(); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}

	final := filepath.Join(dir, b.hash)
	if _, err := os.Lstat(final); err == nil {
		// Forced, or the old image is damaged: move it aside, since rename cannot
		// replace a non-empty directory. It is not deleted here because running
		// containers may still use it; Prune deletes it.
		old := fmt.Sprintf("%s.old-%d", final, time.Now().UnixNano())
		if err := os.Rename(final, old); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
		p.Printf("previous image moved to %s (delete it with `codebox image prune` once no container uses it)", old)
	}
	if err := os.Rename(b.tmp, final); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	os.Remove(b.failedLog)
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	p.Stage("done", "%s, %s, built in %s", final, formatBytes(m.SizeBytes), time.Since(b.start).Round(time.Second))
	return &Image{Dir: final, RootFS: filepath.Join(final, "rootfs"), Hash: b.hash, Manifest: m}, nil
}

// syncFS flushes the filesystem holding path, so that an image whose manifest exists
// is complete on disk even after a crash.
func syncFS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("image: syncfs %s: %w", path, err)
	}
	return nil
}

// lock takes an exclusive flock on path, waiting (and saying so) while another
// builder holds it.
func lock(ctx context.Context, path string, p *progress) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("image: lock: %w", err)
	}
	said := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("image: lock %s: %w", path, err)
		}
		if !said {
			p.Stage("wait", "another build of this image directory is running; waiting for it")
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, context.Cause(ctx)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// removeTree deletes a (partial) image directory. A build killed at the wrong moment
// can leave mounts (proc, a bind of /dev) under it; deleting through those would
// delete host files, so they are detached first, and nothing is deleted while one
// remains.
func removeTree(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	mounts, err := mountsUnder(path)
	if err != nil {
		return err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("image: unmount %s: %w", mounts[i], err)
		}
	}
	if mounts, err = mountsUnder(path); err != nil {
		return err
	} else if len(mounts) > 0 {
		return fmt.Errorf("image: refusing to delete %s: %s is still mounted", path, mounts[0])
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}

// mountsUnder lists the mount points at or below path, in mount order.
func mountsUnder(path string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == abs || strings.HasPrefix(mp, abs+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				sb.WriteByte(v)
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// builder holds the state of one build.
type builder struct {
	recipe *Recipe
	hash   string
	tmp    string // <dir>/<hash>.tmp
	rootfs string // tmp/rootfs
	p      *progress
	log    io.Writer
	start  time.Time
	// failedLog is where the build log is kept if the build fails.
	failedLog string
}

// cleanEnv is the environment of every command the build runs: nothing of the
// caller's (API keys included) leaks into the image or its maintainer scripts.
func cleanEnv(extra ...string) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "HOME=/root", "DEBIAN_FRONTEND=noninteractive",
	}
	for _, k := range []string{"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// command prepares a command in its own process group, killed as a whole when ctx
// ends, with its output logged and passed line by line to the progress display.
func (b *builder) command(ctx context.Context, stdout io.Writer, name string, args ...string) (*exec.Cmd, *lineWriter) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	lw := &lineWriter{log: b.log, fn: b.p.Line}
	cmd.Stderr = lw
	if stdout != nil {
		cmd.Stdout = stdout
	} else {
		cmd.Stdout = lw
	}
	fmt.Fprintf(b.log, "+ %s %s\n", name, strings.Join(args, " "))
	return cmd, lw
}

func (b *builder) exec(ctx context.Context, stdout io.Writer, name string, args ...string) error {
	cmd, lw := b.command(ctx, stdout, name, args...)
	err := cmd.Run()
	lw.Flush()
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("image: %s: %w (see %s)", name, err, b.failedLog)
	}
	return nil
}

// chrootScript runs inside a private mount and PID namespace (so every mount it makes
// disappears with it, even if the build is killed): it gives the root filesystem the
// host's /dev and fresh tmpfs for /tmp and /workspace, so that running things inside
// leaves nothing behind in the image.
const chrootScript = `set -e
root=$1; user=$2; shift 2
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
if [ -d "$root/workspace" ]; then mount -t tmpfs -o mode=0755,uid=1000,gid=1000 tmpfs "$root/workspace"; fi
exec chroot --userspec="$user" "$root" "$@"
`

// chrootCommand returns a command that runs args inside root as user ("0:0" for root,
// "1000:1000" for the sandbox user) with a clean environment plus env.
func chrootCommand(ctx context.Context, root, user string, env []string, args ...string) *exec.Cmd {
	full := append([]string{
		"--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
		"--mount-proc=" + filepath.Join(root, "proc"),
		"/bin/sh", "-c", chrootScript, "sh", root, user, "/usr/bin/env", "-i",
	}, cleanEnv(env...)...)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "unshare", full...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (b *builder) chroot(ctx context.Context, stdout io.Writer, user string, env []string, args ...string) error {
	cmd := chrootCommand(ctx, b.rootfs, user, env, args...)
	lw := &lineWriter{log: b.log, fn: b.p.Line}
	cmd.Stderr = lw
	cmd.Stdout = lw
	if stdout != nil {
		cmd.Stdout = stdout
	}
	fmt.Fprintf(b.log, "+ chroot %s %s\n", user, strings.Join(args, " "))
	err := cmd.Run()
	lw.Flush()
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("image: in the image: %s: %w (see %s)", strings.Join(args, " "), err, b.failedLog)
	}
	return nil
}

// run performs the build steps into b.rootfs and returns the manifest.
func (b *builder) run(ctx context.Context) (*Manifest, error) {
	r := b.recipe
	b.p.Stage("bootstrap", "mmdebstrap --variant=%s %s from %d sources (takes a few minutes)", r.Variant, r.Suite, len(r.Sources))
	args := []string{
		"--mount", "--propagation", "private", "--",
		"mmdebstrap", "--verbose", "--mode=root", "--format=directory", "--variant=" + r.Variant,
		`--aptopt=APT::Install-Recommends "false"`, `--aptopt=Acquire::Retries "3"`,
		// dpkg's fsync per file makes unpacking several times slower; the build
		// syncs the whole filesystem once before the manifest is written instead.
		"--dpkgopt=force-unsafe-io",
	}
	for _, e := range r.Exclude {
		args = append(args, "--dpkgopt=path-exclude="+e)
	}
	for _, e := range r.Include {
		args = append(args, "--dpkgopt=path-include="+e)
	}
	args = append(args, "--include="+strings.Join(r.Packages, ","), r.Suite, b.rootfs)
	args = append(args, r.Sources...)
	if err := b.exec(ctx, nil, "unshare", args...); err != nil {
		return nil, err
	}

	purged, err := b.trim(ctx)
	if err != nil {
		return nil, err
	}
	b.p.Stage("setup", "sandbox user, mount points, matplotlib, hostname")
	if err := b.setup(); err != nil {
		return nil, err
	}
	b.p.Stage("compile", "byte-compiling Python libraries for a read-only root")
	if err := b.compile(ctx); err != nil {
		return nil, err
	}
	b.p.Stage("harden", "removing setuid/setgid bits and file capabilities")
	stripped, err := stripPrivileges(b.rootfs)
	if err != nil {
		return nil, err
	}
	b.p.Printf("%d files changed", len(stripped))
	fmt.Fprintf(b.log, "stripped privileges: %s\n", strings.Join(stripped, " "))

	b.p.Stage("verify", "importing every module and rendering a plot as uid %d", UID)
	rep, err := b.verify(ctx)
	if err != nil {
		return nil, err
	}
	if err := b.cleanup(); err != nil {
		return nil, err
	}

	st, err := os.Open(filepath.Join(b.rootfs, "var/lib/dpkg/status"))
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	pkgs, err := readDpkgStatus(st)
	st.Close()
	if err != nil {
		return nil, err
	}
	size, err := diskUsage(b.rootfs)
	if err != nil {
		return nil, err
	}
	return &Manifest{
		Hash:         b.hash,
		Recipe:       r,
		BuiltAt:      time.Now().UTC(),
		BuildSeconds: time.Since(b.start).Seconds(),
		SizeBytes:    size,
		Python:       rep.Python,
		Packages:     pkgs,
		Purged:       purged,
		Modules:      rep.Modules,
		Tools:        rep.Tools,
		Missing:      r.Missing,
	}, nil
}

// trim purges the build-time dependencies the recipe names.
func (b *builder) trim(ctx context.Context) ([]string, error) {
	st, err := os.Open(filepath.Join(b.rootfs, "var/lib/dpkg/status"))
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	pkgs, err := readDpkgStatus(st)
	st.Close()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(pkgs))
	for i, p := range pkgs {
		names[i] = p.Name
	}
	purge := b.recipe.purgeList(names)
	before, _ := diskUsage(b.rootfs)
	b.p.Stage("trim", "purging %d build-time packages (compilers, headers, pythran) and test suites", len(purge))
	if len(purge) > 0 {
		args := append([]string{"dpkg", "--purge", "--force-depends"}, purge...)
		if err := b.chroot(ctx, nil, "0:0", nil, args...); err != nil {
			return nil, err
		}
		if err := b.chroot(ctx, nil, "0:0", nil, "ldconfig"); err != nil {
			return nil, err
		}
	}
	for _, dir := range b.recipe.TestDirs {
		if err := removeTestDirs(filepath.Join(b.rootfs, dir)); err != nil {
			return nil, err
		}
	}
	after, _ := diskUsage(b.rootfs)
	b.p.Printf("%s → %s", formatBytes(before), formatBytes(after))
	return purge, nil
}

// compile byte-compiles the Python libraries. Debian compiles packaged modules on
// installation already; this catches the rest, because on a read-only root Python
// cannot cache bytecode and would recompile on every import.
func (b *builder) compile(ctx context.Context) error {
	// compileall exits non-zero for the odd test file with deliberately invalid
	// syntax; the verification step is what decides whether the libraries work.
	var out strings.Builder
	err := b.chroot(ctx, &out, "0:0", nil, "python3", "-m", "compileall", "-q", "-j", "0",
		"/usr/lib/python3/dist-packages", "/usr/lib/python3.11")
	if err != nil && ctx.Err() != nil {
		return err
	}
	fmt.Fprintf(b.log, "%s", out.String())
	// matplotlib's font list takes about a second to build; build it once here, and
	// sitecustomize seeds each container's cache directory with it.
	if _, err := os.Stat(filepath.Join(b.rootfs, "usr/lib/python3/dist-packages/matplotlib")); err != nil {
		return nil
	}
	return b.chroot(ctx, nil, "0:0", []string{"MPLCONFIGDIR=" + fontCacheDir}, "python3", "-c", "import matplotlib.font_manager")
}

// verifyReport is what verify.py prints.
type verifyReport struct {
	Python  string         `json:"python"`
	Modules []ModuleStatus `json:"modules"`
	Tools   []ToolStatus   `json:"tools"`
	Errors  []string       `json:"errors"`
}

// verify imports every module of the recipe and exercises the stack (a pandas groupby
// plotted to a PNG, a scikit-learn fit) inside the image as the sandbox user, and
// checks every tool is on PATH with its shared libraries resolved.
func (b *builder) verify(ctx context.Context) (*verifyReport, error) {
	rep, err := runVerify(ctx, b.rootfs, b.recipe, b.log)
	if err != nil {
		return nil, err
	}
	var failed []string
	for _, m := range rep.Modules {
		if m.Error != "" {
			failed = append(failed, m.Name+": "+m.Error)
		} else {
			b.p.Printf("%-16s %s", m.Name, m.Version)
		}
	}
	for _, t := range rep.Tools {
		if t.Error != "" {
			failed = append(failed, t.Name+": "+t.Error)
		}
	}
	failed = append(failed, rep.Errors...)
	if len(failed) > 0 {
		return nil, fmt.Errorf("image: verification failed:\n  %s", strings.Join(failed, "\n  "))
	}
	b.p.Printf("Python %s: %d modules import, %d tools present, plot rendered", rep.Python, len(rep.Modules), len(rep.Tools))
	return rep, nil
}

// runVerify runs verify.py inside root as the sandbox user and decodes its report.
func runVerify(ctx context.Context, root string, r *Recipe, log io.Writer) (*verifyReport, error) {
	in, err := json.Marshal(map[string]any{"modules": r.Modules, "tools": r.Tools})
	if err != nil {
		return nil, err
	}
	cmd := chrootCommand(ctx, root, fmt.Sprintf("%d:%d", UID, GID),
		[]string{"HOME=" + WorkspaceDir, "USER=user"}, "python3", "-c", verifyScript)
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader(string(in))
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if log == nil {
		log = io.Discard
	}
	var stderr strings.Builder
	cmd.Stderr = io.MultiWriter(log, &stderr)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("image: verification could not run: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var rep verifyReport
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		return nil, fmt.Errorf("image: verification output: %w: %q", err, stdout.String())
	}
	return &rep, nil
}

// diskUsage is the disk space a tree takes, counting hard-linked files once.
func diskUsage(root string) (int64, error) {
	type ino struct{ dev, ino uint64 }
	seen := map[ino]bool{}
	var total int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			total += info.Size()
			return nil
		}
		if st.Nlink > 1 && !d.IsDir() {
			k := ino{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += st.Blocks * 512
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("image: %w", err)
	}
	return total, nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Stale returns the entries of dir that Prune would delete: images built from other
// recipes, leftovers of interrupted builds and logs of failed ones.
func Stale(dir string, keep *Recipe) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	hash := keep.Hash()
	var out []string
	for _, e := range entries {
		if e.Name() == hash || strings.HasPrefix(e.Name(), ".") || !e.IsDir() && !strings.HasSuffix(e.Name(), ".failed.log") {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out, nil
}

// Prune deletes from dir every image not built from keep, and what interrupted builds
// left. It holds the build lock, so it never deletes a build in progress; containers
// still running on an old image must be stopped first.
func Prune(ctx context.Context, dir string, keep *Recipe) ([]string, error) {
	unlock, err := lock(ctx, filepath.Join(dir, ".lock"), newProgress(nil))
	if err != nil {
		return nil, err
	}
	defer unlock()
	stale, err := Stale(dir, keep)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, path := range stale {
		if err := removeTree(path); err != nil {
			return removed, err
		}
		removed = append(removed, path)
	}
	return removed, nil
}
