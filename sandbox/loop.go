package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loopMu serializes loop-device allocation within this process; the flock on
// /dev/loop-control serializes it with other codebox processes on the host (a second
// server, parallel test binaries). Between LOOP_CTL_GET_FREE and LOOP_CONFIGURE the
// device it named is free for anyone to take: without the lock, concurrent creates
// raced for the same device and lost with EBUSY.
var loopMu sync.Mutex

// Retries of an allocation that lost to a process outside the lock (losetup, another
// program), with a growing pause, and of a device the kernel has not finished
// detaching.
const (
	loopAttempts  = 8
	loopBaseDelay = 5 * time.Millisecond
)

// loopMount attaches img to a free loop device and mounts it at mnt (nosuid, nodev,
// noatime, discard) with the ioctls and the syscall directly: mount(8) costs several
// times more. The device is autoclear, so it detaches itself when the filesystem is
// unmounted. With discard, blocks a container frees (rm) are punched out of the
// sparse image, so the host gets them back; without it the image only grew.
func loopMount(img, mnt string) error {
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	dev, loop, err := attachedLoop(f)
	if err != nil {
		return err
	}
	if loop == nil {
		if dev, loop, err = attachLoop(f); err != nil {
			return err
		}
	}
	err = unix.Mount(dev, mnt, "ext4", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOATIME, "discard")
	// Closing the device after the mount holds it leaves autoclear to detach it at
	// unmount; closing it after a failed mount detaches it now.
	loop.Close()
	if err != nil {
		return fmt.Errorf("mount %s: %w", dev, err)
	}
	return nil
}

// attachedLoop returns the loop device f is still attached to, open, or no device.
// A disk unmounted here lives on while another mount namespace holds a copy of its
// mount: every container a runtime sets up clones the host's mounts until it has
// moved into its own root, and a command run in an image being built (unshare
// --mount) for its whole run. The kernel keeps that filesystem, with changes not yet
// written to the image, until the copy goes. A second loop device on the image would
// be a second ext4 on the same blocks, blind to them: a container started again that
// way lost files it had just written. On the device that is still attached, the mount
// gets the kernel's live filesystem.
func attachedLoop(f *os.File) (string, *os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", nil, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	// The kernel names the backing file by its absolute path with no symbolic link
	// in it, as the containers' directory is (resolvePaths).
	img, err := filepath.Abs(f.Name())
	if err != nil {
		return "", nil, err
	}
	devs, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return "", nil, err
	}
	for _, p := range devs {
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)") != img {
			continue // detached meanwhile, or another image
		}
		dev := "/dev/" + filepath.Base(filepath.Dir(filepath.Dir(p)))
		loop, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		// Held open, the device cannot detach (autoclear) and be reused for another
		// image: what it is bound to now is what gets mounted.
		info, err := unix.IoctlLoopGetStatus64(int(loop.Fd()))
		if err == nil && info.Device == st.Dev && info.Inode == st.Ino {
			return dev, loop, nil
		}
		loop.Close()
	}
	return "", nil, nil
}

// attachLoop binds f to a free loop device (autoclear) and returns its path and an
// open handle on it.
func attachLoop(f *os.File) (string, *os.File, error) {
	loopMu.Lock()
	defer loopMu.Unlock()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", nil, err
	}
	defer ctl.Close()
	if err := unix.Flock(int(ctl.Fd()), unix.LOCK_EX); err != nil {
		return "", nil, fmt.Errorf("lock loop-control: %w", err)
	}
	// Closing ctl releases the lock.
	delay := loopBaseDelay
	for attempt := 1; ; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", nil, fmt.Errorf("loop-control: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		loop, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			return "", nil, err
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		err = unix.IoctlLoopConfigure(int(loop.Fd()), &cfg)
		if err == nil {
			return dev, loop, nil
		}
		loop.Close()
		if !errors.Is(err, unix.EBUSY) || attempt == loopAttempts {
			return "", nil, fmt.Errorf("%s: %w", dev, err)
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// fitrim is FITRIM, _IOWR('X', 121, struct fstrim_range), which x/sys/unix lacks.
const fitrim = 0xC0185879

// trim discards the free blocks of the filesystem mounted at mnt, so that its image
// gives back whatever online discard has not (ext4 issues it after the journal
// commits, and skips blocks freed while it was busy).
func trim(mnt string) error {
	f, err := os.Open(mnt)
	if err != nil {
		return err
	}
	defer f.Close()
	// Blocks freed in a transaction not yet committed are not free to trim.
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", mnt, err)
	}
	r := struct{ start, length, minlen uint64 }{0, ^uint64(0), 0}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fitrim, uintptr(unsafe.Pointer(&r))); errno != 0 {
		return fmt.Errorf("FITRIM %s: %w", mnt, errno)
	}
	return nil
}
