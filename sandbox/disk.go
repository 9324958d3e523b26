package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/codebox-dev/codebox/errdefs"
)

// A container's writable storage is a sparse ext4 image of Limits.Disk bytes, loop-
// mounted on the host under its directory. Its size is the quota: a full disk is
// ENOSPC inside that container only, for every runtime. It holds workspace/ (mounted
// at /workspace) and tmp/ (at /tmp), so both persist across stops and restarts.

// makeDisk creates the image as a sparse copy of a template made once per size with
// mkfs.ext4. Lazy inode-table and journal initialisation keep the template at a few
// megabytes, and copying only its data extents takes a fraction of running mkfs. The
// copies share the template's filesystem UUID, which ext4 does not mind. A disk
// whose space is not promised (a pool container's) is made only if the blocks it
// copies fit beside every promise.
func (m *Manager) makeDisk(ctx context.Context, path string, size int64, promised bool) error {
	tmpl, err := m.diskTemplate(ctx, size)
	if err != nil {
		return err
	}
	if !promised {
		var st syscall.Stat_t
		if err := syscall.Stat(tmpl, &st); err != nil {
			return err
		}
		if err := m.cfg.Space.Check(st.Blocks * 512); err != nil {
			return err
		}
	}
	return copySparse(tmpl, path, size)
}

// diskTemplate returns the path of the empty filesystem image of size bytes, making it
// on first use.
func (m *Manager) diskTemplate(ctx context.Context, size int64) (string, error) {
	m.templateMu.Lock()
	defer m.templateMu.Unlock()
	path := filepath.Join(m.cfg.Dir, fmt.Sprintf(".empty-ext4-%d.img", size))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-m", "0",
		"-E", "lazy_itable_init=1,lazy_journal_init=1", tmp).CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("%w: mkfs.ext4: %v: %s", errdefs.ErrUnavailable, err, strings.TrimSpace(string(out)))
	}
	return path, os.Rename(tmp, path)
}

// copySparse copies src's data extents to a new file dst of size bytes, leaving the
// holes holes.
func copySparse(src, dst string, size int64) (retErr error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err := out.Close(); retErr == nil {
			retErr = err
		}
		if retErr != nil {
			os.Remove(dst)
		}
	}()
	if err := out.Truncate(size); err != nil {
		return err
	}
	ifd, ofd := int(in.Fd()), int(out.Fd())
	var off int64
	for off < size {
		data, err := unix.Seek(ifd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			return err
		}
		hole, err := unix.Seek(ifd, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		for roff, woff := data, data; roff < hole; {
			n, err := unix.CopyFileRange(ifd, &roff, ofd, &woff, int(hole-roff), 0)
			if err != nil {
				return err
			}
			if n == 0 {
				return io.ErrUnexpectedEOF
			}
		}
		off = hole
	}
	return nil
}

// tmpMode is the mode of the container's /tmp: everyone's, but only a file's owner
// removes or renames it. (In an os.FileMode the sticky bit is os.ModeSticky; the octal
// 01000 of chmod(1) is another bit, and Chmod drops it.)
const tmpMode = os.ModeSticky | 0o777

// initDisk creates the disk's two directories, owned by the container's user (host ID
// uid).
func initDisk(mnt string, uid int) error {
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"workspace", 0o755}, {"tmp", tmpMode}} {
		p := filepath.Join(mnt, d.name)
		if err := os.Mkdir(p, d.mode); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
		if err := os.Chown(p, uid, uid); err != nil {
			return err
		}
	}
	return nil
}

// repairTmp gives back the sticky bit to the /tmp of a disk made without it. The
// caller has mounted the disk.
func repairTmp(mnt string) error {
	p := filepath.Join(mnt, "tmp")
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() && fi.Mode()&os.ModeSticky == 0 {
		return os.Chmod(p, fi.Mode().Perm()|os.ModeSticky)
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
	if err := m.fetchDiskLocked(ctx, inst); err != nil {
		return err
	}
	mnt := inst.mntDir()
	ok, err := isMountpoint(mnt)
	if err != nil {
		return err
	}
	if err := m.markDiskModified(inst); err != nil {
		return err
	}
	inst.mu.Lock()
	pooled := inst.c.Workspace == ""
	inst.mu.Unlock()
	if !pooled {
		if err := m.promiseDisk(ctx, inst, true); err != nil {
			return err
		}
	}
	if !ok {
		if err := loopMount(inst.diskPath(), mnt); err != nil {
			m.cfg.Space.Release(inst.id)
			return &errdefs.Public{Kind: errdefs.ErrUnavailable, Message: "the container's disk could not be mounted; try again",
				Err: fmt.Errorf("mount workspace disk: %w", err)}
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
	busy := len(inst.holds) > 0
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
		if err := trim(mnt); err != nil {
			m.logger.Warn("trim container disk", "container", inst.id, "err", err)
		}
		if err := syscall.Unmount(mnt, 0); err != nil {
			// A process that has not finished dying may still hold it; detach now,
			// the kernel finishes when it lets go.
			if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
				return fmt.Errorf("unmount %s: %w", mnt, err)
			}
		}
	}
	inst.mounted = false
	m.cfg.Space.Release(inst.id)
	return nil
}

// promiseDisk promises the host space the container's disk may still take: its size
// less the blocks its image has allocated. A disk is promised while it is mounted and
// a workspace owns it, the only time it can grow: a pool container runs no one's code,
// so a pool grown for a burst does not hold the host's space against the containers
// in use (its disk is promised when it is handed over, handOver). When the space is short, least recently used idle
// containers are stopped (their disks unmounted, their promises ended) to make room,
// as the kubelet evicts under disk pressure (with evict); what is still short is
// insufficient_storage.
func (m *Manager) promiseDisk(ctx context.Context, inst *instance, evict bool) error {
	size, img := m.cfg.Limits.Disk, inst.diskPath()
	outstanding := func() int64 {
		var st syscall.Stat_t
		if err := syscall.Stat(img, &st); err != nil {
			return size
		}
		return size - st.Blocks*512
	}
	for {
		err := m.cfg.Space.Promise(inst.id, outstanding)
		if !evict || !errors.Is(err, errdefs.ErrInsufficientStorage) || !m.evictLRU(ctx, "", inst) {
			return err
		}
	}
}
