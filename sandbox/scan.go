package sandbox

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// The host walks a container's disk after every command (to find generated files)
// and for listings. That work is the server's CPU, outside the container's cgroup,
// and the tree is the tenant's to shape, so the walk is bounded every way: it opens
// each directory relative to its parent's descriptor (resolving a path from the root
// at every level cost the square of the depth: 13 s per command at depth 4,000), it
// stops at maxScanDepth levels, maxScanEntries names and maxScanTime, and at most
// maxConcurrentScans walks run at once.
const (
	// maxScanEntries bounds the names one walk looks at, stored or not.
	maxScanEntries = 20000
	// maxScanDepth bounds how deep a walk descends below its top.
	maxScanDepth = 64
	// maxScanTime bounds how long one walk may take.
	maxScanTime = 5 * time.Second
	// maxConcurrentScans bounds the walks running at once on the server.
	maxConcurrentScans = 2
)

// scanEntry is a directory or regular file a walk found.
type scanEntry struct {
	path string // on the disk, e.g. "workspace/out/chart.png"
	dir  bool
	st   unix.Stat_t
}

// scanResult says what a walk left out.
type scanResult struct {
	truncated bool // a bound stopped it
	badNames  int  // names that cannot be stored (control characters, invalid UTF-8)
}

// storableName reports whether a file name can be stored and shown: valid UTF-8
// without control characters.
func storableName(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	return strings.IndexFunc(name, unicode.IsControl) < 0
}

// walkDisk calls fn for every directory and regular file below top (a disk path,
// resolved inside root) depth first, never following a symlink. skipDir, when set,
// says which directories not to enter. Walks beyond maxConcurrentScans wait for a
// turn.
func (m *Manager) walkDisk(ctx context.Context, root *os.Root, top string, skipDir func(name string) bool, fn func(e *scanEntry) error) (scanResult, error) {
	var res scanResult
	select {
	case m.scans <- struct{}{}:
	case <-ctx.Done():
		return res, context.Cause(ctx)
	}
	defer func() { <-m.scans }()
	wctx, cancel := context.WithTimeout(ctx, maxScanTime)
	defer cancel()
	f, err := root.OpenFile(top, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return res, err
	}
	// walkDir owns the descriptor from here.
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		return res, err
	}
	w := &walker{ctx: wctx, skipDir: skipDir, fn: fn, res: &res}
	err = w.dir(fd, top, 0)
	// The walk's own bounds cut it short; the caller's context ends it.
	if errors.Is(err, errScanBound) || err != nil && wctx.Err() != nil && ctx.Err() == nil {
		res.truncated = true
		err = nil
	}
	return res, err
}

var errScanBound = errors.New("scan bound reached")

type walker struct {
	ctx     context.Context
	skipDir func(string) bool
	fn      func(*scanEntry) error
	res     *scanResult
	seen    int
}

// dir walks the directory open at fd (which it closes), found at path, depth levels
// below the top.
func (w *walker) dir(fd int, path string, depth int) error {
	d := os.NewFile(uintptr(fd), path)
	defer d.Close()
	for {
		// At the end, or on a directory that cannot be read (skipped like one
		// that vanished), no names come back.
		names, _ := d.Readdirnames(256)
		if len(names) == 0 {
			return nil
		}
		for _, name := range names {
			if err := w.ctx.Err(); err != nil {
				return err
			}
			if w.seen++; w.seen > maxScanEntries {
				return errScanBound
			}
			if !storableName(name) {
				w.res.badNames++
				continue
			}
			e := scanEntry{path: path + "/" + name}
			if err := unix.Fstatat(fd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				continue // gone since it was listed
			}
			switch e.st.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				if err := w.fn(&e); err != nil {
					return err
				}
			case unix.S_IFDIR:
				if w.skipDir != nil && w.skipDir(name) {
					continue
				}
				e.dir = true
				if err := w.fn(&e); err != nil {
					return err
				}
				if depth+1 >= maxScanDepth {
					w.res.truncated = true
					continue
				}
				cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				if err != nil {
					continue
				}
				if err := w.dir(cfd, e.path, depth+1); err != nil {
					return err
				}
			}
		}
	}
}

// workspaceScan is the state of a working directory: its files' stamps by disk path,
// and what the walk left out.
type workspaceScan struct {
	files map[string]stamp
	scanResult
}

// scanWorkspace records every regular file under the working directory, skipping
// hidden directories (caches, configs) so they never count as generated files.
func (m *Manager) scanWorkspace(ctx context.Context, mnt string) (*workspaceScan, error) {
	root, err := os.OpenRoot(mnt)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	files := make(map[string]stamp)
	hidden := func(name string) bool { return strings.HasPrefix(name, ".") }
	res, err := m.walkDisk(ctx, root, "workspace", hidden, func(e *scanEntry) error {
		if !e.dir {
			files[e.path] = stamp{size: e.st.Size, mtime: e.st.Mtim.Nano(), ino: e.st.Ino, ctime: e.st.Ctim.Nano()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &workspaceScan{files: files, scanResult: res}, nil
}
