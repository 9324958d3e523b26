package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// eachRuntime runs fn once per runtime under test, each on its own Manager.
func eachRuntime(t *testing.T, configure func(*sandbox.Config), fn func(t *testing.T, e *sandboxtest.Env)) {
	for _, rt := range sandboxtest.Runtimes() {
		t.Run(rt, func(t *testing.T) { fn(t, sandboxtest.NewWithRuntime(t, rt, configure)) })
	}
}

// TestNoBlockDeviceLeaks: a container sees neither the host's loop devices (whose
// backing files name every container's disk) nor their I/O counters (a side channel
// on other tenants' writes).
func TestNoBlockDeviceLeaks(t *testing.T) {
	eachRuntime(t, nil, func(t *testing.T, e *sandboxtest.Env) {
		a := create(t, e, sandbox.CreateOptions{})
		b := create(t, e, sandbox.CreateOptions{})
		run(t, e, a.ID, "head -c 1000000 /dev/urandom > noise; sync")
		res := run(t, e, b.ID, `for f in /sys/block/*/loop/backing_file /sys/class/block/*/loop/backing_file \
			/sys/dev/block/*/loop/backing_file /sys/devices/virtual/block/*/loop/backing_file \
			/sys/block/*/stat /sys/devices/virtual/block/*/stat /sys/fs/ext4/*/lifetime_write_kbytes \
			/proc/diskstats /proc/partitions; do test -r "$f" && echo "== $f" && cat "$f"; done; ls /sys/block /sys/class/block /sys/fs/ext4`)
		out := res.Stdout + res.Stderr
		for _, leak := range []string{"container_", e.Config.Dir, "loop"} {
			if strings.Contains(out, leak) {
				t.Errorf("container sees %q:\n%s", leak, out)
			}
		}
	})
}

// TestEditorReachesNoHostFile: the editor never follows a magic link. /dev/stderr and
// /proc/*/fd/* once led to the init's stdio, a host file outside the disk quota.
func TestEditorReachesNoHostFile(t *testing.T) {
	eachRuntime(t, nil, func(t *testing.T, e *sandboxtest.Env) {
		ctx := context.Background()
		c := create(t, e, sandbox.CreateOptions{})
		initLog := filepath.Join(e.Config.Dir, c.ID, "bundle", "init.log")
		before, err := os.ReadFile(initLog)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/dev/stderr", "/dev/stdout", "/dev/stdin", "/dev/fd/2", "/proc/self/fd/2", "/proc/1/fd/1", "/proc/thread-self/fd/2"} {
			if v, err := e.Manager.ViewFile(ctx, ws, c.ID, p, nil); err == nil {
				t.Errorf("view %s succeeded: %.80q", p, v.Content)
			}
			if _, err := e.Manager.CreateFile(ctx, ws, c.ID, p, "overwritten from the container\n"); err == nil {
				t.Errorf("create %s succeeded", p)
			}
		}
		// Nor does a command reach the init's stdio, whatever its permissions.
		res := run(t, e, c.ID, "for f in /proc/1/fd/*; do echo overwritten >> $f; done 2>/dev/null; ls -l /proc/1/fd 2>&1")
		if strings.Contains(res.Stdout, "init.log") || strings.Contains(res.Stdout, e.Config.Dir) {
			t.Errorf("the init's descriptors show a host file:\n%s", res.Stdout)
		}
		after, err := os.ReadFile(initLog)
		if err != nil {
			t.Fatal(err)
		}
		if string(after) != string(before) {
			t.Errorf("init.log changed from %q to %.200q", before, after)
		}
		// Ordinary paths still work, symlinks within a mount included.
		if _, err := e.Manager.CreateFile(ctx, ws, c.ID, "dir/sub/new.txt", "hello\n"); err != nil {
			t.Fatalf("create dir/sub/new.txt: %v", err)
		}
		run(t, e, c.ID, "ln -s dir/sub/new.txt link.txt")
		for _, p := range []string{"link.txt", "/workspace/dir/sub/new.txt", "/tmp/../workspace/link.txt"} {
			if v, err := e.Manager.ViewFile(ctx, ws, c.ID, p, nil); err != nil || !strings.Contains(v.Content, "hello") {
				t.Errorf("view %s = %+v, %v", p, v, err)
			}
		}
		if v, err := e.Manager.ViewFile(ctx, ws, c.ID, "/etc/os-release", nil); err != nil || !strings.Contains(v.Content, "Debian") {
			t.Errorf("view /etc/os-release = %+v, %v", v, err)
		}
	})
}

// TestMountsShowNoHostPath: the container's mount table names no host path: not the
// image's, the agent binary's, nor the container's directory (with its ID).
func TestMountsShowNoHostPath(t *testing.T) {
	eachRuntime(t, nil, func(t *testing.T, e *sandboxtest.Env) {
		c := create(t, e, sandbox.CreateOptions{})
		res := run(t, e, c.ID, "cat /proc/self/mountinfo /proc/self/mounts /proc/self/mountstats")
		if !strings.Contains(res.Stdout, " /workspace ") {
			t.Fatalf("no mount table:\n%s%s", res.Stdout, res.Stderr)
		}
		for _, leak := range []string{filepath.Dir(e.Config.Dir), e.Config.RootFS, filepath.Dir(e.Config.Agent), c.ID} {
			if strings.Contains(res.Stdout, leak) {
				t.Errorf("mount table shows %q:\n%s", leak, res.Stdout)
			}
		}
	})
}
