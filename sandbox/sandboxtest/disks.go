package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

// DiskCopy is a sandbox.DiskSource that copies the disk a stopped container left in
// another Manager's directory (Dir, read at each fetch), as a node of a cluster fetches
// the copy saved when the container stopped.
type DiskCopy struct {
	Dir func() string
	// Fetches counts the disks copied.
	Fetches atomic.Int32
}

var _ sandbox.DiskSource = (*DiskCopy)(nil)

// FetchDisk implements sandbox.DiskSource.
func (d *DiskCopy) FetchDisk(ctx context.Context, c *sandbox.Container, path string) error {
	src, err := os.Open(filepath.Join(d.Dir(), c.ID, "disk.img"))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no saved disk of %s: %w", c.ID, errdefs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	d.Fetches.Add(1)
	return dst.Close()
}
