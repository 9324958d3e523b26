package testenv

import (
	"testing"

	"golang.org/x/sys/unix"
)

// SmallDisk mounts a tmpfs of size (as mount(8) reads it: "24m") for the test and
// returns its directory: a real filesystem that fills, for tests of a full disk. It
// needs root (see NeedRoot) and is unmounted at cleanup.
func SmallDisk(t testing.TB, size string) string {
	t.Helper()
	NeedRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+size); err != nil {
		t.Fatalf("mount a %s tmpfs: %v", size, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}
