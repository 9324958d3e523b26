package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/codebox-dev/codebox/errdefs"
)

// A container's writable storage is a sparse ext4 image of Limits.Disk bytes, loop-
// mounted on the host under its directory. Its size is the quota: a full disk is
// ENOSPC inside that container only, for every runtime. It holds workspace/ (mounted
// at /workspace) and tmp/ (at /tmp), so both persist across stops and restarts.

// makeDisk creates the image. Lazy inode-table and journal initialisation keep mkfs at
// a few milliseconds and the new image at a few megabytes on the host.
func makeDisk(ctx context.Context, path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-m", "0",
		"-E", "lazy_itable_init=1,lazy_journal_init=1", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: mkfs.ext4: %v: %s", errdefs.ErrUnavailable, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// initDisk creates the disk's two directories, owned by the container's user.
func initDisk(mnt string) error {
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"workspace", 0o755}, {"tmp", 0o1777}} {
		p := filepath.Join(mnt, d.name)
		if err := os.Mkdir(p, d.mode); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
		if err := os.Chown(p, 1000, 1000); err != nil {
			return err
		}
	}
	return nil
}

// isMountpoint reports whether dir is the root of a mount other than its parent's.
func isMountpoint(dir string) (bool, error) {
	var st, pst syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return false, err
	}
	if err := syscall.Stat(filepath.Dir(dir), &pst); err != nil {
		return false, err
	}
	return st.Dev != pst.Dev, nil
}

// mountLocked mounts the disk if it is not mounted. The caller holds sem.
func (m *Manager) mountLocked(ctx context.Context, inst *instance) error {
	if inst.mounted {
		return nil
	}
	mnt := inst.mntDir()
	ok, err := isMountpoint(mnt)
	if err != nil {
		return err
	}
	if !ok {
		out, err := exec.CommandContext(ctx, "mount", "-o", "loop,nosuid,nodev,noatime", inst.diskPath(), mnt).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: mount workspace disk: %v: %s", errdefs.ErrUnavailable, err, strings.TrimSpace(string(out)))
		}
	}
	inst.mounted = true
	inst.mu.Lock()
	inst.diskReady = true
	inst.mu.Unlock()
	return nil
}

// unmountLocked unmounts the disk unless a reader holds it open. The caller holds sem
// and has stopped the container.
func (m *Manager) unmountLocked(inst *instance) error {
	inst.mu.Lock()
	busy := inst.readers > 0
	if !busy {
		inst.diskReady = false
	}
	inst.mu.Unlock()
	if busy {
		return nil
	}
	mnt := inst.mntDir()
	ok, err := isMountpoint(mnt)
	if errors.Is(err, os.ErrNotExist) {
		inst.mounted = false
		return nil
	}
	if err != nil {
		return err
	}
	if ok {
		if err := syscall.Unmount(mnt, 0); err != nil {
			// A process that has not finished dying may still hold it; detach now,
			// the kernel finishes when it lets go.
			if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
				return fmt.Errorf("unmount %s: %w", mnt, err)
			}
		}
	}
	inst.mounted = false
	return nil
}
