package oci

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
)

// gVisor (runsc) specifics. runsc reads the same config.json as runc; what differs is
// its global flags and two resource settings (see Spec: RLIMIT_NPROC inside, a high
// host pids limit outside). Measured facts behind each choice, on the pinned version
// scripts/install-runsc.sh installs:
//
//   - --platform=systrap: the KVM platform hangs on hosts whose /dev/kvm is paravirtual
//     (PVM), and systrap needs no virtualisation at all.
//   - --network=none: the sandbox gets a loopback interface and nothing else; no host
//     network stack is reachable.
//   - --host-uds=all: the agent listens on a unix socket in a host directory
//     bind-mounted into the container ("create": without it the socket exists only
//     inside the gVisor kernel and the host cannot connect to it), and an allow-listed
//     container's agent connects to the egress proxy's socket in that directory
//     ("open"). Only host sockets in the container's own mounts are reachable.
//   - --sidecar-usage-policy=LEGACY_DEPRECATED_SLOW_EMBEDDED_FALLBACK: a runsc built
//     from source has no sidecar binaries (they ship only in the release tarball), and
//     the default policy is becoming STRICT, which refuses to start without them.
//   - The OCI seccomp profile is ignored inside gVisor (no --oci-seccomp): the sentry
//     installs its own host filter, and the guest's syscalls never reach the host kernel.
//   - A memory-limit kill can take the whole sandbox (when the host OOM killer picks
//     the sentry rather than the guest's own OOM handling ending the process), not
//     only the offending process as with runc; the Manager sees the container gone
//     and restarts it on the next use.

// gvisorArgs are runsc's global flags, placed before any caller-supplied ones so that a
// caller can still override them.
func gvisorArgs() []string {
	return []string{
		"--network=none",
		"--platform=systrap",
		"--host-uds=all",
		"--sidecar-usage-policy=LEGACY_DEPRECATED_SLOW_EMBEDDED_FALLBACK",
	}
}

// Close releases what the runtime keeps in its state root beyond its containers: the
// overlays of the image and the agent (layers.go), and, for runsc --network=none, the
// one empty network namespace it bind-mounts at <root>/null-netns and shares between
// sandboxes. Call Close when the runtime is done (its root may then be removed);
// containers still running keep their mounts and namespace. The parent cgroup goes
// too once no container is left in it.
func (r *Runtime) Close() error {
	removeParent(r.parent, r.ownsParent)
	if !r.gvisor {
		return r.unmountLayers()
	}
	// Concurrent starts can each mount it, stacking mounts: unmount until none is left.
	for range 64 {
		err := syscall.Unmount(filepath.Join(r.root, "null-netns"), syscall.MNT_DETACH)
		if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("runsc: releasing null-netns: %w", err)
		}
	}
	return nil
}
