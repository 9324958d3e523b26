package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Wheel is a Python package installed from the Python package index, pinned by
// version and by the SHA-256 of the one file that may be installed.
type Wheel struct {
	// Name is the PyPI project name.
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

func (w Wheel) String() string { return w.Name + "==" + w.Version }

// requirement is w as a line of a pip requirements file in hash-checking mode.
func (w Wheel) requirement() string { return w.String() + " --hash=sha256:" + w.SHA256 }

// installerName is the lock entry that is the installer: pip runs from its wheel
// inside the image and is not installed into it.
const installerName = "pip"

// wheelsLock is the default image's lock file: pip's requirements format, one
// `name==version --hash=sha256:…` line per wheel, comments with '#'.
//
//go:embed wheels.lock
var wheelsLock string

var (
	reWheelName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	reSHA256    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ParseLock reads a lock file in pip's hash-checking requirements format. Every line
// must pin one exact version and one sha256 hash: a lock that allowed a choice would
// not say which file is installed.
func ParseLock(r io.Reader) ([]Wheel, error) {
	var out []Wheel
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i == 0 || i > 0 && line[i-1] == ' ' {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		name, version, ok := strings.Cut(fields[0], "==")
		if !ok || len(fields) != 2 || !strings.HasPrefix(fields[1], "--hash=sha256:") {
			return nil, fmt.Errorf("image: lock line %d: %q: want name==version --hash=sha256:<64 hex digits>", n, line)
		}
		w := Wheel{Name: name, Version: version, SHA256: strings.TrimPrefix(fields[1], "--hash=sha256:")}
		if err := w.validate(); err != nil {
			return nil, fmt.Errorf("image: lock line %d: %w", n, err)
		}
		out = append(out, w)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("image: reading lock: %w", err)
	}
	return out, nil
}

func (w Wheel) validate() error {
	switch {
	case !reWheelName.MatchString(w.Name):
		return fmt.Errorf("wheel %q: not a valid project name", w.Name)
	case w.Version == "" || strings.ContainsAny(w.Version, " =<>!~*,;"):
		return fmt.Errorf("wheel %s: version %q is not one exact version", w.Name, w.Version)
	case !reSHA256.MatchString(w.SHA256):
		return fmt.Errorf("wheel %s: sha256 %q is not 64 lowercase hex digits", w, w.SHA256)
	}
	return nil
}

// defaultWheels returns the embedded lock's wheels; a broken lock is a defect of the
// build, caught by the tests.
func defaultWheels() []Wheel {
	ws, err := ParseLock(strings.NewReader(wheelsLock))
	if err != nil {
		panic(err)
	}
	return ws
}

// wheelCacheDir is where downloaded wheels are kept, under the image directory and
// shared by every recipe: <image dir>/.wheels/<sha256>/<file name>.
func wheelCacheDir(imageDir string) string { return filepath.Join(imageDir, ".wheels") }

// pythonTags are the pip download options selecting wheels for the image's
// interpreter, whatever the host's Python is: CPython 3.11 on x86_64 with glibc 2.36
// (bookworm), so any manylinux wheel up to glibc 2.36.
func pythonTags(python string) []string {
	nodot := strings.ReplaceAll(python, ".", "")
	args := []string{"--python-version", python, "--implementation", "cp", "--abi", "cp" + nodot,
		"--platform", "manylinux2014_x86_64", "--platform", "linux_x86_64"}
	for minor := 5; minor <= 36; minor++ {
		args = append(args, "--platform", fmt.Sprintf("manylinux_2_%d_x86_64", minor))
	}
	return args
}

// fetchWheels makes sure the cache holds every wheel with the locked hash, downloading
// the missing ones with the host's pip, and returns their paths in order. A cached
// file whose hash is wrong is deleted and downloaded again.
func (b *builder) fetchWheels(ctx context.Context, cache string, wheels []Wheel) ([]string, error) {
	paths := make([]string, len(wheels))
	var pip []string
	for i, w := range wheels {
		path, err := cachedWheel(cache, w)
		if err != nil {
			return nil, err
		}
		if path != "" {
			paths[i] = path
			continue
		}
		if pip == nil {
			if pip, err = hostPip(ctx); err != nil {
				return nil, err
			}
		}
		b.p.Printf("downloading %s", w)
		if paths[i], err = b.downloadWheel(ctx, pip, cache, w); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// cachedWheel returns the cached file of w, or "" when there is none with the right
// hash.
func cachedWheel(cache string, w Wheel) (string, error) {
	dir := filepath.Join(cache, w.SHA256)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("image: wheel cache: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !strings.HasSuffix(e.Name(), ".whl") {
			continue
		}
		if sum, err := fileSHA256(path); err == nil && sum == w.SHA256 {
			return path, nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("image: wheel cache: %w", err)
	}
	return "", nil
}

// downloadWheel downloads w with pip in hash-checking, binary-only mode into a
// temporary directory, checks the file's hash once more, and moves it into the cache.
func (b *builder) downloadWheel(ctx context.Context, pip []string, cache string, w Wheel) (string, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("image: wheel cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cache, ".download-")
	if err != nil {
		return "", fmt.Errorf("image: wheel cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	req := filepath.Join(tmp, "requirements.txt")
	if err := os.WriteFile(req, []byte(w.requirement()+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	dl := filepath.Join(tmp, "files")
	args := append(pip[1:len(pip):len(pip)], "download", "--no-deps", "--only-binary", ":all:", "--require-hashes",
		"--no-cache-dir", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-d", dl, "-r", req)
	args = append(args, pythonTags(b.recipe.Python)...)
	var out strings.Builder
	cmd, lw := b.command(ctx, nil, pip[0], args...)
	// One writer for both streams: exec then copies them in one goroutine, so out is
	// never written from two at once.
	both := io.MultiWriter(&out, lw)
	cmd.Stdout, cmd.Stderr = both, both
	err = cmd.Run()
	lw.Flush()
	fmt.Fprintf(b.log, "%s", out.String())
	if err != nil {
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		return "", fmt.Errorf("image: wheel %s: %s", w, pipFailure(out.String()))
	}
	files, _ := filepath.Glob(filepath.Join(dl, "*.whl"))
	if len(files) != 1 {
		return "", fmt.Errorf("image: wheel %s: pip downloaded %d wheel files, want 1", w, len(files))
	}
	sum, err := fileSHA256(files[0])
	if err != nil {
		return "", err
	}
	if sum != w.SHA256 {
		return "", fmt.Errorf("image: wheel %s: the downloaded file's sha256 is %s, the lock says %s", w, sum, w.SHA256)
	}
	dir := filepath.Join(cache, w.SHA256)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("image: wheel cache: %w", err)
	}
	final := filepath.Join(dir, filepath.Base(files[0]))
	if err := os.Rename(files[0], final); err != nil {
		return "", fmt.Errorf("image: wheel cache: %w", err)
	}
	return final, nil
}

// pipFailure picks out of pip's output the lines that say why it failed: its ERROR
// lines and, for a hash mismatch, the expected and actual hashes.
func pipFailure(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "ERROR:") || strings.HasPrefix(l, "Expected sha256") || strings.HasPrefix(l, "Got") ||
			strings.Contains(l, "DO NOT MATCH THE HASHES") {
			keep = append(keep, strings.Join(strings.Fields(l), " "))
		}
	}
	if len(keep) == 0 {
		return "pip download failed: " + strings.TrimSpace(out)
	}
	return strings.Join(keep, "; ")
}

// hostPip finds a pip to download with: the host's python3 with its pip module
// (scripts/deps.sh installs python3-pip).
func hostPip(ctx context.Context) ([]string, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("image: python3 with pip is required to download wheels (scripts/deps.sh installs python3-pip): %w", err)
	}
	if out, err := exec.CommandContext(ctx, py, "-m", "pip", "--version").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("image: %s has no pip module, required to download wheels (scripts/deps.sh installs python3-pip): %w: %s", py, err, strings.TrimSpace(string(out)))
	}
	return []string{py, "-m", "pip"}, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("image: %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// wheelStage is where the wheels are put inside the root filesystem for installation;
// it is removed afterwards.
const wheelStage = "/var/tmp/codebox-wheels"

// installWheels installs the recipe's wheels into the image's Python with the locked
// pip, run from its wheel by the image's own interpreter: binary only, hash-checked,
// no dependency resolution (every dependency is in the lock or a Debian package), and
// no index, so nothing is downloaded inside the image.
func (b *builder) installWheels(ctx context.Context, installer string, wheels []Wheel, paths []string) error {
	stage := filepath.Join(b.rootfs, wheelStage)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer os.RemoveAll(stage)
	var req strings.Builder
	for i, w := range wheels {
		if err := copyFile(paths[i], filepath.Join(stage, filepath.Base(paths[i]))); err != nil {
			return err
		}
		fmt.Fprintln(&req, w.requirement())
	}
	pipWheel := filepath.Join(wheelStage, filepath.Base(installer))
	if err := copyFile(installer, filepath.Join(b.rootfs, pipWheel)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(stage, "requirements.txt"), []byte(req.String()), 0o644); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return b.chroot(ctx, nil, "0:0", []string{"PIP_NO_CACHE_DIR=1", "PIP_CONFIG_FILE=/dev/null"},
		"python3", pipWheel+"/pip", "install", "--no-index", "--find-links", wheelStage,
		"--no-deps", "--only-binary", ":all:", "--require-hashes", "--disable-pip-version-check",
		"--no-input", "--progress-bar", "off", "--root-user-action", "ignore", "--break-system-packages",
		"--no-warn-script-location", "-r", wheelStage+"/requirements.txt")
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("image: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}
