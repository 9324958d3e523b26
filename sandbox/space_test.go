package sandbox_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/internal/testenv"

	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestDiskGivesSpaceBack: what a container deletes goes back to the host; the disk
// image used to keep every block it ever held.
func TestDiskGivesSpaceBack(t *testing.T) { sandboxtest.ForEachRuntime(t, testDiskGivesSpaceBack) }

func testDiskGivesSpaceBack(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	img := filepath.Join(e.Config.Dir, c.ID, "disk.img")
	base := allocated(t, img)
	if res := run(t, e, c.ID, "head -c 100000000 /dev/urandom > big && sync"); res.ExitCode != 0 {
		t.Fatalf("write: %+v", res)
	}
	if grown := allocated(t, img) - base; grown < 90_000_000 {
		t.Fatalf("image grew by %d bytes for a 100 MB file", grown)
	}
	if res := run(t, e, c.ID, "rm big"); res.ExitCode != 0 {
		t.Fatalf("rm: %+v", res)
	}
	// Online discard returns the blocks once the journal commits; the stop's trim
	// returns whatever is left, so that the check does not race the commit.
	if _, err := e.Manager.Stop(context.Background(), ws, c.ID); err != nil {
		t.Fatal(err)
	}
	if left := allocated(t, img) - base; left > 10_000_000 {
		t.Errorf("image still holds %d bytes more than at creation after the file was removed", left)
	}
}

// TestDiskSpacePromised: container disks are sparse, so the host's free space must
// cover what each mounted disk may still take. When it does not, the least recently
// used idle container is stopped to make room; with every container busy a create is
// 507 insufficient_storage. The containers that run can fill their disks without
// losing a write the kernel reported done.
func TestDiskSpacePromised(t *testing.T) { sandboxtest.ForEachRuntime(t, testDiskSpacePromised) }

func testDiskSpacePromised(t *testing.T, runtime string) {
	dir := testenv.SmallDisk(t, "90m")
	space, err := diskspace.New(dir, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) {
		c.Dir, c.Limits.Disk, c.Space = filepath.Join(dir, "containers"), 32<<20, space
	})
	a := create(t, e, sandbox.CreateOptions{})
	b := create(t, e, sandbox.CreateOptions{})
	stopA, stopB := busy(t, e, a.ID), busy(t, e, b.ID)
	_, err = e.Manager.Create(context.Background(), ws, sandbox.CreateOptions{})
	if !errors.Is(err, errdefs.ErrInsufficientStorage) || errdefs.Code(err) != diskspace.Code {
		t.Errorf("third 32 MiB disk on a 90 MiB filesystem, both others busy: %v, want insufficient storage", err)
	}
	stopA()
	e.Clock.Advance(time.Second)
	stopB()
	c := create(t, e, sandbox.CreateOptions{})
	if got := status(t, e, ws, a.ID); got != sandbox.StatusStopped {
		t.Errorf("least recently used container is %s after a create short of space, want stopped", got)
	}
	for _, id := range []string{b.ID, c.ID} {
		res := run(t, e, id, "head -c 20000000 /dev/urandom > f && sha256sum f > f.sum && sync && echo written")
		if res.Stdout != "written\n" {
			t.Fatalf("filling %s: %+v", id, res)
		}
		if _, err := e.Manager.Stop(context.Background(), ws, id); err != nil {
			t.Fatal(err)
		}
		// Mounted again from the image: what was written is there.
		if res := run(t, e, id, "sha256sum -c f.sum"); !strings.Contains(res.Stdout, "f: OK") {
			t.Errorf("%s after a restart: %+v, want its file intact", id, res)
		}
	}
}

// TestPoolDisksNotPromised: a container waiting in the pool runs no one's code, so its
// disk holds none of the host's space; it is promised when a create takes it. Before,
// a pool grown for a burst promised every disk in full and refused creates for space
// that nothing could use.
func TestPoolDisksNotPromised(t *testing.T) {
	dir := testenv.SmallDisk(t, "90m")
	space, err := diskspace.New(dir, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	e := sandboxtest.New(t, func(c *sandbox.Config) {
		c.Dir, c.Limits.Disk, c.Space = filepath.Join(dir, "containers"), 32<<20, space
		c.PoolSize, c.PoolMax = 3, 3
	})
	// Three 32 MiB disks do not fit in 90 MiB less the reserve; three waiting do.
	waitPoolSize(t, e, 3)
	a := create(t, e, sandbox.CreateOptions{})
	b := create(t, e, sandbox.CreateOptions{})
	stopA, stopB := busy(t, e, a.ID), busy(t, e, b.ID)
	defer stopB()
	defer stopA()
	waitPoolSize(t, e, 3)
	// The third is refused at hand-over, and the pool keeps its container.
	_, err = e.Manager.Create(context.Background(), ws, sandbox.CreateOptions{})
	if !errors.Is(err, errdefs.ErrInsufficientStorage) || errdefs.Code(err) != diskspace.Code {
		t.Errorf("third 32 MiB disk handed over on a 90 MiB filesystem, both others busy: %v, want insufficient storage", err)
	}
	if ready, _ := e.Manager.PoolReady(); ready != 3 {
		t.Errorf("pool holds %d containers after a refused hand-over, want 3", ready)
	}
}
