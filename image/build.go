package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
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
	// Base is the recipe Recipe adds to (a custom image's is DefaultRecipe). When
	// Base's image is built, the new image is made from a copy of it, installing only
	// what Recipe adds, instead of from scratch.
	Base *Recipe
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
	if r.Name != "" {
		// Until the build succeeds, the name keeps its previous build, or answers
		// "still being built" when it has none.
		done, merr := markBuilding(dir, r.Name)
		if merr != nil {
			return nil, merr
		}
		defer done()
		defer func() {
			if err == nil {
				err = publish(dir, r.Name, img.Hash)
			}
		}()
	}

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
	var base *Image
	var extraPkgs []string
	var extraWheels []Wheel
	if opts.Base != nil {
		if pkgs, wheels, ok := derivable(r, opts.Base); ok {
			if img, err := LookupRecipe(dir, opts.Base); err == nil {
				base, extraPkgs, extraWheels = img, pkgs, wheels
			}
		}
	}
	tools := []string{"unshare", "chroot", "mount", "cp"}
	if base == nil {
		tools = append(tools, "mmdebstrap")
	}
	for _, bin := range tools {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("image: %s is required to build the image (scripts/deps.sh installs it): %w", bin, err)
		}
	}

	b := &builder{recipe: r, hash: r.Hash(), dir: dir, p: p, start: time.Now()}
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

	var m *Manifest
	if base != nil {
		p.Stage("build", "image %s from image %s, with %d more packages and %d more wheels, in %s", b.hash, base.Hash, len(extraPkgs), len(extraWheels), dir)
		m, err = b.derive(ctx, base, extraPkgs, extraWheels)
	} else {
		p.Stage("build", "image %s (Debian %s, %d packages) in %s", b.hash, r.Suite, len(r.Packages), dir)
		m, err = b.run(ctx)
	}
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
	p.Stage("done", "%s, %s, built in %s", final, humanize.IBytes(uint64(m.SizeBytes)), time.Since(b.start).Round(time.Second))
	return &Image{Dir: final, RootFS: filepath.Join(final, "rootfs"), Hash: b.hash, Manifest: m}, nil
}

// builder holds the state of one build.
type builder struct {
	recipe *Recipe
	hash   string
	dir    string // the image directory
	tmp    string // <dir>/<hash>.tmp
	rootfs string // tmp/rootfs
	p      *progress
	log    io.Writer
	start  time.Time
	// failedLog is where the build log is kept if the build fails.
	failedLog string
}

// run performs the build steps into b.rootfs and returns the manifest.
func (b *builder) run(ctx context.Context) (*Manifest, error) {
	r := b.recipe
	// Wheels are fetched first: a wrong hash or a missing release fails the build
	// before minutes of bootstrapping.
	wheels, _ := r.installedWheels()
	wheelPaths, installerPath, err := b.fetchAll(ctx, wheels)
	if err != nil {
		return nil, err
	}
	b.p.Stage("bootstrap", "mmdebstrap --variant=%s %s from %d sources (takes a few minutes)", r.Variant, r.Suite, len(r.Sources))
	args := []string{
		"--mount", "--propagation", "private", "--",
		"mmdebstrap", "--verbose", "--mode=root", "--format=directory", "--variant=" + r.Variant,
		`--aptopt=APT::Install-Recommends "false"`, `--aptopt=Acquire::Retries "3"`,
		// dpkg's fsync per file makes unpacking several times slower; the build
		// syncs the whole filesystem once before the manifest is written instead.
		"--dpkgopt=force-unsafe-io",
		// Manual pages are path-excluded, but update-alternatives still links into
		// man1 (Java's postinst fails without the directory).
		`--essential-hook=mkdir -p "$1/usr/share/man/man1"`,
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
		return nil, b.explainBootstrap(err)
	}

	if len(wheels) > 0 {
		b.p.Stage("pip", "installing %d wheels into Python %s (binary only, hash-checked, no index)", len(wheels), r.Python)
		if err := b.installWheels(ctx, installerPath, wheels, wheelPaths); err != nil {
			return nil, err
		}
	}
	purged, err := b.trim(ctx)
	if err != nil {
		return nil, err
	}
	b.p.Stage("setup", "sandbox user, mount points, matplotlib, hostname")
	if err := b.setup(); err != nil {
		return nil, err
	}
	return b.finish(ctx, purged)
}

// finish completes a root filesystem whose packages and wheels are installed: the
// recipe's files, bytecode, privileges, verification; and returns its manifest.
func (b *builder) finish(ctx context.Context, purged []string) (*Manifest, error) {
	r := b.recipe
	if err := b.copyFiles(); err != nil {
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

	b.p.Stage("verify", "importing every module and using each library as uid %d", UID)
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

// fetchAll fetches wheels and the recipe's installer into the wheel cache and returns
// their paths; nothing when wheels is empty.
func (b *builder) fetchAll(ctx context.Context, wheels []Wheel) (paths []string, installer string, err error) {
	if len(wheels) == 0 {
		return nil, "", nil
	}
	_, inst := b.recipe.installedWheels()
	b.p.Stage("wheels", "%d wheels from the Python package index, hash-checked, into %s", len(wheels), wheelCacheDir(b.dir))
	all, err := b.fetchWheels(ctx, wheelCacheDir(b.dir), append(slices.Clone(wheels), inst))
	if err != nil {
		return nil, "", err
	}
	return all[:len(wheels)], all[len(wheels)], nil
}

// reAptMissing matches apt's words for a package the sources do not have.
var reAptMissing = regexp.MustCompile(`E: (?:Unable to locate package (\S+)|Package '([^']+)' has no installation candidate)`)

// explainBootstrap names the packages apt could not find when the bootstrap failed
// because of them: the usual mistake in a recipe.
func (b *builder) explainBootstrap(err error) error {
	log, rerr := os.ReadFile(filepath.Join(b.tmp, "build.log"))
	if rerr != nil || ctxErr(err) {
		return err
	}
	var missing []string
	for _, m := range reAptMissing.FindAllStringSubmatch(string(log), -1) {
		if name := m[1] + m[2]; !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return err
	}
	return fmt.Errorf("image: Debian package %s: no such package in %s (%s): %w",
		strings.Join(missing, ", "), b.recipe.Suite, strings.Join(b.recipe.Sources, "; "), err)
}

func ctxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
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
	b.p.Printf("%s → %s", humanize.IBytes(uint64(before)), humanize.IBytes(uint64(after)))
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
		"/usr/lib/python3/dist-packages", "/usr/local/lib/python"+b.recipe.Python+"/dist-packages",
		"/usr/lib/python"+b.recipe.Python)
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
