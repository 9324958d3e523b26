package sandboxtest

import (
	"context"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/sandbox"
)

// Disks is a disk archive (sandbox.Config.Disks) that the Managers of a test share, as
// the nodes of a cluster share a bucket: a blobs directory, counting the archives
// fetched from it.
type Disks struct {
	*disk.Store
	// Fetches counts the archives opened.
	Fetches atomic.Int32
}

var _ sandbox.DiskArchive = (*Disks)(nil)

// NewDisks makes an empty archive in a directory of the test.
func NewDisks(t testing.TB) *Disks {
	t.Helper()
	s, err := disk.Open(filepath.Join(t.TempDir(), "disks"))
	if err != nil {
		t.Fatal(err)
	}
	return &Disks{Store: s}
}

// Open implements sandbox.DiskArchive.
func (d *Disks) Open(ctx context.Context, key string) (io.ReadSeekCloser, error) {
	d.Fetches.Add(1)
	return d.Store.Open(ctx, key)
}

// WaitArchived waits until store records archive generation gen, or a later one, of
// ws's container id (archives are written in the background after a stop), and
// returns the record.
func WaitArchived(t testing.TB, store sandbox.Store, ws codebox.WorkspaceID, id string, gen int64) *sandbox.Container {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		c, err := store.GetContainer(context.Background(), ws, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.DiskGeneration >= gen {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: disk archive generation %d, want %d", id, c.DiskGeneration, gen)
		}
	}
}
