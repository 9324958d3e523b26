package sandbox_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestRestartWhileAnotherNamespaceHoldsTheDisk: a stopped container's filesystem lives
// on in any mount namespace cloned while its disk was mounted (another container being
// set up, an image build's chroot), with changes not yet written to the image. Started again,
// the container gets that same filesystem, its files as it left them, and not a second
// one over the image's stale blocks.
func TestRestartWhileAnotherNamespaceHoldsTheDisk(t *testing.T) {
	e := sandboxtest.New(t, nil)
	ctx := context.Background()
	c := create(t, e, sandbox.CreateOptions{})
	run(t, e, c.ID, "mkdir -p sub && echo kept > sub/kept.txt")
	holdMounts(t)
	if _, err := e.Manager.Stop(ctx, ws, c.ID); err != nil {
		t.Fatal(err)
	}
	res := run(t, e, c.ID, "cat sub/kept.txt")
	if res.Stdout != "kept\n" || res.ExitCode != 0 {
		t.Errorf("after a restart: %+v", res)
	}
	disk := filepath.Join(e.Config.Dir, c.ID, "disk.img")
	if devs := loopDevicesOf(t, disk); len(devs) != 1 {
		t.Errorf("the disk is attached to %v, want one loop device", devs)
	}
}

// holdMounts starts a process holding a private copy of the host's mounts until the
// test ends, as a runtime's container does while it is set up.
func holdMounts(t *testing.T) {
	t.Helper()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// unshare runs sleep once it has its own namespace.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "comm"))
		if string(comm) == "sleep\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("unshare did not start sleep: %q", comm)
		}
	}
}

// loopDevicesOf lists the loop devices the image file img is attached to.
func loopDevicesOf(t *testing.T, img string) []string {
	t.Helper()
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		t.Fatal(err)
	}
	var devs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && strings.TrimSpace(string(b)) == img {
			devs = append(devs, filepath.Base(filepath.Dir(filepath.Dir(f))))
		}
	}
	return devs
}

// TestTmpIsSticky: every user may create files in /tmp, and only a file's owner may
// remove or rename it; a disk made without the sticky bit gets it on its next start.
func TestTmpIsSticky(t *testing.T) {
	eachRuntime(t, nil, func(t *testing.T, e *sandboxtest.Env) {
		ctx := context.Background()
		c := create(t, e, sandbox.CreateOptions{})
		if res := run(t, e, c.ID, "stat -c %a /tmp"); res.Stdout != "1777\n" {
			t.Errorf("stat -c %%a /tmp in a new container: %+v", res)
		}
		// The disk as the previous release made it: /tmp 0777.
		if err := os.Chmod(filepath.Join(e.Config.Dir, c.ID, "mnt", "tmp"), 0o777); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Manager.Stop(ctx, ws, c.ID); err != nil {
			t.Fatal(err)
		}
		if res := run(t, e, c.ID, "stat -c %a /tmp"); res.Stdout != "1777\n" {
			t.Errorf("stat -c %%a /tmp after a restart: %+v", res)
		}
	})
}
