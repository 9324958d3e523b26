package sandbox_test

import (
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
