package agent

import (
	"bufio"
	"errors"
	"os"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// File requests resolve their paths with openat2 from the mount the path lies on,
// never following a magic link (/proc/*/fd/*, and so /dev/stderr, which would reach
// the descriptors the agent was started with) and never crossing into another mount
// (procfs, sysfs, /dev). A symlink or ".." that leaves its mount is refused.
const resolveFlags = unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// errCrossesMount is a path whose resolution left the mount it started on.
var errCrossesMount = errors.New("the path leads out of its mount (a symlink or .. out of /workspace, /tmp or the image)")

// mountPoints are the container's mount points, longest first. Code in the container
// cannot mount, so they are read once.
var mountPoints []string

// loadMounts reads the mount points from /proc/self/mountinfo.
func loadMounts() error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	seen := map[string]bool{"/": true}
	mps := []string{"/"}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if !seen[mp] {
			seen[mp] = true
			mps = append(mps, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	mountPoints = mps
	return nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space, …).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, ok := octal(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal(s string) (byte, bool) {
	var v int
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	return byte(v), v < 256
}

// mountOf splits p, a clean absolute path, into the mount point it lies on and the
// rest ("." for the mount point itself).
func mountOf(p string) (mnt, rel string) {
	for _, m := range mountPoints {
		if m == "/" {
			break
		}
		if p == m {
			return m, "."
		}
		if strings.HasPrefix(p, m+"/") {
			return m, p[len(m)+1:]
		}
	}
	if p == "/" {
		return "/", "."
	}
	return "/", p[1:]
}

// openAt opens rel beneath dirfd without magic links or mount crossings.
func openAt(dirfd int, rel string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat2(dirfd, rel, &unix.OpenHow{
			Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode), Resolve: resolveFlags,
		})
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			continue // a concurrent rename; try again
		case err == unix.EXDEV:
			return -1, errCrossesMount
		case err == unix.ELOOP:
			return -1, errString("the path goes through a link the editor does not follow")
		}
		return fd, err
	}
}

// openMount opens the mount p lies on and returns it with the rest of p.
func openMount(p string) (int, string, error) {
	mnt, rel := mountOf(p)
	d, err := unix.Open(mnt, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", err
	}
	return d, rel, nil
}

// openFile opens p, a clean absolute container path, as described above.
func openFile(p string, flags int, mode uint32) (*os.File, error) {
	d, rel, err := openMount(p)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(d)
	fd, err := openAt(d, rel, flags, mode)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// mkdirAll creates dir and its missing parents (mode 0755), resolving each step the
// way openFile does.
func mkdirAll(dir string) error {
	d, rel, err := openMount(dir)
	if err != nil {
		return err
	}
	defer func() { unix.Close(d) }()
	if rel == "." {
		return nil
	}
	for _, name := range strings.Split(rel, "/") {
		next, err := openAt(d, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		if errors.Is(err, syscall.ENOENT) {
			if err := unix.Mkdirat(d, name, 0o755); err != nil && !errors.Is(err, syscall.EEXIST) {
				return err
			}
			next, err = openAt(d, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		}
		if err != nil {
			return err
		}
		unix.Close(d)
		d = next
	}
	return nil
}
