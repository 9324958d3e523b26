package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The kernel charges a user's inotify instances and watches in its own user namespace
// and again, in every ancestor namespace, to the namespace's owner. runc creates each
// container's namespace as host root, so without more every container would share
// host root's budget (fs.inotify.max_user_instances, 128 by default): one container
// holding 128 instances made inotify_init1 fail in all the others. Each container's
// namespace therefore gets its own limits (Linux's defaults for one user), and host
// root's budget is raised to hold many containers' worth. gVisor implements inotify in
// its own kernel and needs neither.
const (
	containerInotifyInstances = 128
	containerInotifyWatches   = 65536
	hostInotifyInstances      = 1 << 16
	hostInotifyWatches        = 1 << 22
)

// raiseHostInotify raises host root's inotify limits to at least the values above.
func raiseHostInotify() error {
	for _, s := range []struct {
		path string
		min  int
	}{
		{"/proc/sys/fs/inotify/max_user_instances", hostInotifyInstances},
		{"/proc/sys/fs/inotify/max_user_watches", hostInotifyWatches},
	} {
		b, err := os.ReadFile(s.path)
		if err != nil {
			return err
		}
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v >= s.min {
			continue
		}
		if err := os.WriteFile(s.path, []byte(strconv.Itoa(s.min)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// limitUserNamespace sets the per-user inotify limits inside container id's user
// namespace, from a process that joins it (only a member with CAP_SYS_RESOURCE there
// may, and the container's own /proc/sys is read-only).
func (r *Runtime) limitUserNamespace(ctx context.Context, id string) error {
	pid, err := r.initPID(ctx, id)
	if err != nil {
		return err
	}
	script := fmt.Sprintf("echo %d > /proc/sys/user/max_inotify_instances && echo %d > /proc/sys/user/max_inotify_watches",
		containerInotifyInstances, containerInotifyWatches)
	out, err := exec.CommandContext(ctx, "nsenter", "--user=/proc/"+strconv.Itoa(pid)+"/ns/user", "--", "/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("limit user namespace of %s: %v: %s", id, err, tail(out, 512))
	}
	return nil
}

// initPID returns the host PID of container id's init.
func (r *Runtime) initPID(ctx context.Context, id string) (int, error) {
	st, err := r.rc.State(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("state %s: %w", id, err)
	}
	if st.Pid <= 0 {
		return 0, errors.New("state " + id + ": no init pid")
	}
	return st.Pid, nil
}
