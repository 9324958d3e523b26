package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

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

// Stale returns the entries of dir that Prune would delete: images built from other
// recipes (but the current builds of custom images), leftovers of interrupted builds and logs of failed ones.
func Stale(dir string, keep *Recipe) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	hash := keep.Hash()
	named := inUse(dir)
	var out []string
	for _, e := range entries {
		if e.Name() == hash || named[e.Name()] || strings.HasPrefix(e.Name(), ".") || !e.IsDir() && !strings.HasSuffix(e.Name(), ".failed.log") {
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
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(abs))
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	out := make([]string, 0, len(infos))
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	return out, nil
}
