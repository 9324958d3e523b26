package sandbox_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/oci"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// The files' blobs stores (blobs/disk, blobs/s3) are what archives disks.
var _ sandbox.DiskArchive = files.Blobs(nil)

// otherNode starts a second Manager, node-b, sharing e's store, files and archive but
// nothing on the host: its own directory, runtime state and user ID ranges.
func otherNode(t *testing.T, e *sandboxtest.Env) *sandbox.Manager {
	t.Helper()
	dir := t.TempDir()
	rt, err := oci.New(oci.Config{Binary: e.RuntimeBinary, Root: filepath.Join(dir, "runtime")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	cfg := e.Config
	cfg.Dir = filepath.Join(dir, "containers")
	cfg.Node = "node-b"
	cfg.IDBase = sandbox.DefaultIDBase + 4096*sandbox.IDRangeSize
	m, err := sandbox.New(cfg, rt, e.Store, e.Files)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

const filesScript = `cd /workspace && echo kept > w.txt && mkdir -p d/e && echo deep > d/e/f.txt && echo tmp > /tmp/t.txt &&
head -c 10000000 /dev/urandom > big.bin && md5sum big.bin > big.md5`

const checkScript = `cat /workspace/w.txt /workspace/d/e/f.txt /tmp/t.txt && md5sum -c --quiet big.md5 && stat -c %u w.txt && echo new >> w.txt`

// TestDiskArchiveRestoresFiles: an idle-stopped container's disk is archived (about
// the size of its data, on a mostly empty 5 GiB disk); with its local image gone it
// starts with its files, on this node or on another one, where it starts again with
// what it wrote there; deleting it removes the archive.
func TestDiskArchiveRestoresFiles(t *testing.T) {
	sandboxtest.ForEachRuntime(t, testDiskArchiveRestoresFiles)
}

func testDiskArchiveRestoresFiles(t *testing.T, runtime string) {
	archive := sandboxtest.NewDisks(t)
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) {
		c.Idle = time.Minute
		c.Limits.Disk = 5 << 30
		c.Disks = archive
	})
	ctx := context.Background()
	c := create(t, e, sandbox.CreateOptions{})
	if res := run(t, e, c.ID, filesScript); res.ExitCode != 0 {
		t.Fatalf("writing files: %+v", res)
	}
	idleStop(t, e, c.ID)
	rec := sandboxtest.WaitArchived(t, e.Store, ws, c.ID, 1)
	if rec.DiskGeneration != 1 || !strings.HasPrefix(rec.DiskChecksum, "crc32c:") {
		t.Errorf("record after the first archive: generation %d, checksum %q", rec.DiskGeneration, rec.DiskChecksum)
	}
	fi, err := os.Stat(filepath.Join(archive.Dir(), c.ID))
	if err != nil {
		t.Fatal(err)
	}
	// 10 MB of random data (incompressible) on a 5 GiB disk; the rest is ext4's
	// metadata.
	t.Logf("archive of a 5 GiB disk holding 10 MB of random data: %d bytes", fi.Size())
	if fi.Size() < 10_000_000 || fi.Size() > 10_000_000+4<<20 {
		t.Errorf("archive is %d bytes, want about 10 MB", fi.Size())
	}

	img := filepath.Join(e.Config.Dir, c.ID, "disk.img")
	if err := os.Remove(img); err != nil {
		t.Fatal(err)
	}
	res := run(t, e, c.ID, checkScript)
	if res.ExitCode != 0 || res.Stdout != "kept\ndeep\ntmp\n1000\n" {
		t.Fatalf("after restoring the disk on its node: %+v", res)
	}
	idleStop(t, e, c.ID)
	sandboxtest.WaitArchived(t, e.Store, ws, c.ID, 2)

	// Another node adopts it (its first node is gone, say) and starts it cold.
	other := otherNode(t, e)
	if err := e.Store.MoveContainer(ctx, c.ID, "", "node-b"); err != nil {
		t.Fatal(err)
	}
	res, err = other.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "cat w.txt && md5sum -c --quiet big.md5 && id -u && echo there > there.txt"})
	if err != nil || res.ExitCode != 0 || res.Stdout != "kept\nnew\n1000\n" {
		t.Fatalf("on the other node: %+v, %v", res, err)
	}
	if _, err := other.Stop(ctx, ws, c.ID); err != nil {
		t.Fatal(err)
	}
	sandboxtest.WaitArchived(t, e.Store, ws, c.ID, 3)

	// Back on the first node, restarted, whose local image (generation 2) is older:
	// the archive wins.
	if err := e.Store.MoveContainer(ctx, c.ID, "node-b", ""); err != nil {
		t.Fatal(err)
	}
	first := e.Start(t)
	res, err = first.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "cat there.txt"})
	if err != nil || res.Stdout != "there\n" {
		t.Fatalf("back on the first node: %+v, %v", res, err)
	}
	if err := first.Delete(ctx, ws, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Open(ctx, c.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("archive after delete: %v, want not found", err)
	}
}

// TestDiskArchiveCorrupt: a damaged archive is a clear error on start, the container
// is not destroyed, and it starts once the archive is whole again.
func TestDiskArchiveCorrupt(t *testing.T) {
	archive := sandboxtest.NewDisks(t)
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.Idle = time.Minute; c.Disks = archive })
	ctx := context.Background()
	c := create(t, e, sandbox.CreateOptions{})
	run(t, e, c.ID, filesScript)
	idleStop(t, e, c.ID)
	sandboxtest.WaitArchived(t, e.Store, ws, c.ID, 1)
	blob := filepath.Join(archive.Dir(), c.ID)
	good, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{}, good...)
	bad[len(bad)/2] ^= 1
	if err := os.WriteFile(blob, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.Config.Dir, c.ID, "disk.img")); err != nil {
		t.Fatal(err)
	}
	_, err = e.Manager.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "true"})
	var pub *errdefs.Public
	if !errors.Is(err, errdefs.ErrUpstream) || !errors.As(err, &pub) || !strings.Contains(pub.Message, "saved disk could not be restored") {
		t.Fatalf("start with a damaged archive: %v; want an upstream error saying so", err)
	}
	if strings.Contains(pub.Message, e.Config.Dir) {
		t.Errorf("the message shows a host path: %q", pub.Message)
	}
	if got, err := e.Manager.Get(ctx, ws, c.ID); err != nil || got.DiskGeneration != 1 {
		t.Fatalf("after the failed start: %+v, %v; want the container as it was", got, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.Config.Dir, c.ID)); len(entries) == 0 {
		t.Error("the container's directory was emptied")
	}
	if err := os.WriteFile(blob, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := run(t, e, c.ID, checkScript); res.ExitCode != 0 {
		t.Fatalf("with the archive whole again: %+v", res)
	}
}

// failingArchive fails every Put after reading part of the archive, as a crash or a
// lost connection mid-upload would, while failing is set.
type failingArchive struct {
	*sandboxtest.Disks
	failing atomic.Bool
	failed  chan struct{}
}

func (f *failingArchive) Put(ctx context.Context, key string, r io.Reader) (int64, string, error) {
	if !f.failing.Load() {
		return f.Disks.Put(ctx, key, r)
	}
	io.CopyN(io.Discard, r, 1<<20)
	f.failed <- struct{}{}
	return 0, "", errors.New("connection reset")
}

// TestDiskArchiveCutShort: an archive that fails midway leaves the previous archive
// and the local disk as they were, and the disk is archived at the next start.
func TestDiskArchiveCutShort(t *testing.T) {
	archive := &failingArchive{Disks: sandboxtest.NewDisks(t), failed: make(chan struct{}, 1)}
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.Idle = time.Minute; c.Disks = archive })
	c := create(t, e, sandbox.CreateOptions{})
	run(t, e, c.ID, filesScript)
	idleStop(t, e, c.ID)
	sandboxtest.WaitArchived(t, e.Store, ws, c.ID, 1)
	run(t, e, c.ID, "echo second > second.txt")
	archive.failing.Store(true)
	idleStop(t, e, c.ID)
	<-archive.failed
	// The local disk has everything.
	if res := run(t, e, c.ID, "cat second.txt && md5sum -c --quiet big.md5"); res.ExitCode != 0 || res.Stdout != "second\n" {
		t.Fatalf("local disk after a failed archive: %+v", res)
	}
	if got, _ := e.Manager.Get(context.Background(), ws, c.ID); got.DiskGeneration != 1 {
		t.Errorf("generation after a failed archive: %d, want 1", got.DiskGeneration)
	}
	// The previous archive is whole: without the local disk, the container starts with
	// the files of generation 1.
	if _, err := e.Manager.Stop(context.Background(), ws, c.ID); err != nil {
		t.Fatal(err)
	}
	<-archive.failed
	if err := os.Remove(filepath.Join(e.Config.Dir, c.ID, "disk.img")); err != nil {
		t.Fatal(err)
	}
	if res := run(t, e, c.ID, "test ! -e second.txt && md5sum -c --quiet big.md5 && cat w.txt"); res.ExitCode != 0 || res.Stdout != "kept\n" {
		t.Fatalf("restored from the previous archive: %+v", res)
	}
	// A stop whose archive failed is archived when the server starts again.
	run(t, e, c.ID, "echo third > third.txt")
	idleStop(t, e, c.ID)
	<-archive.failed
	archive.failing.Store(false)
	restarted := e.Start(t)
	sandboxtest.WaitArchived(t, e.Store, ws, c.ID, 2)
	if err := os.Remove(filepath.Join(e.Config.Dir, c.ID, "disk.img")); err != nil {
		t.Fatal(err)
	}
	res, err := restarted.Exec(context.Background(), ws, c.ID, sandbox.ExecRequest{Command: "cat third.txt"})
	if err != nil || res.Stdout != "third\n" {
		t.Fatalf("restored from the archive written at the restart: %+v, %v", res, err)
	}
}
