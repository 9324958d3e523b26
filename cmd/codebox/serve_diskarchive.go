package main

import (
	"context"
	"fmt"

	"github.com/codebox-dev/codebox/sandbox"
)

// Values of --disk-archive.
const (
	diskArchiveOff  = "off"
	diskArchiveOn   = "on"
	diskArchiveAuto = "auto" // on when --blobs is a bucket every node shares
)

// openDiskArchive opens the store that stopped containers' disks are archived in, as
// --disk-archive says: the disks namespace of --blobs (<data-dir>/disks, or disks/ in
// the bucket), or nil when off.
func openDiskArchive(ctx context.Context, a *app) (sandbox.DiskArchive, error) {
	switch mode := a.cfg.DiskArchive; mode {
	case diskArchiveOff:
		return nil, nil
	case diskArchiveAuto:
		if a.cfg.Blobs == "" {
			return nil, nil
		}
	case diskArchiveOn:
	default:
		return nil, fmt.Errorf("--disk-archive %q: want %s, %s or %s", mode, diskArchiveAuto, diskArchiveOn, diskArchiveOff)
	}
	s, err := a.openBlobs(ctx, blobsDisks)
	if err != nil {
		return nil, fmt.Errorf("disk archive: %w", err)
	}
	return s, nil
}
