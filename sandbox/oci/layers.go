package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// A bind mount shows its source's path within its filesystem in the container's
// /proc/self/mountinfo: binding the image and the agent binary straight from the host
// would tell every container where the server keeps them. Under runc both are instead
// bound from read-only overlays of their directories, mounted once per runtime, whose
// layers are given as /proc/self/fd paths: mountinfo then shows "/" (or the binary's
// base name) and "lowerdir=/proc/self/fd/N:…", nothing of the host. (gVisor shows its
// own mount table, free of host paths.)

// layersDir holds the runtime's overlays. runc mounts the root from inside the
// container's user namespace, whose users may not traverse the runtime's private
// state root, so they live under /run, one directory per state root.
func (r *Runtime) layersDir() string {
	sum := sha256.Sum256([]byte(r.root))
	return filepath.Join("/run/codebox/layers", hex.EncodeToString(sum[:8]))
}

// layer returns the mount point of a read-only overlay of dir, mounting it on first use.
func (r *Runtime) layer(dir string) (string, error) {
	r.layersMu.Lock()
	defer r.layersMu.Unlock()
	sum := sha256.Sum256([]byte(dir))
	mp := filepath.Join(r.layersDir(), hex.EncodeToString(sum[:8]))
	empty := filepath.Join(r.layersDir(), "empty")
	for _, d := range []string{mp, empty} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	if mounted, err := mountinfo.Mounted(mp); err != nil || mounted {
		return mp, err // a previous run of the server may have left it: reuse it
	}
	lower, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(lower)
	bottom, err := unix.Open(empty, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(bottom)
	// An overlay without an upper layer needs two lower ones; the empty one adds nothing.
	opts := "lowerdir=/proc/self/fd/" + strconv.Itoa(lower) + ":/proc/self/fd/" + strconv.Itoa(bottom)
	if err := unix.Mount("codebox", mp, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return "", fmt.Errorf("overlay of %s: %w", dir, err)
	}
	return mp, nil
}

// unmountLayers detaches every overlay of the runtime. Running containers keep theirs:
// each holds its own copy of the mount in its mount namespace.
func (r *Runtime) unmountLayers() error {
	r.layersMu.Lock()
	defer r.layersMu.Unlock()
	entries, err := os.ReadDir(r.layersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		mp := filepath.Join(r.layersDir(), e.Name())
		if mounted, err := mountinfo.Mounted(mp); err == nil && mounted {
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
			}
		}
	}
	if len(errs) == 0 {
		errs = append(errs, os.RemoveAll(r.layersDir()))
	}
	return errors.Join(errs...)
}
