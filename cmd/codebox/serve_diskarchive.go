package main

import (
	"fmt"
	"path/filepath"

	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/sandbox"
)

// Values of --disk-archive.
const (
	diskArchiveOff = "off"
	diskArchiveOn  = "on"
)

// openDiskArchive opens the store that stopped containers' disks are archived in, as
// --disk-archive says: nil when off.
func openDiskArchive(a *app) (sandbox.DiskArchive, error) {
	switch mode := a.cfg.DiskArchive; mode {
	case diskArchiveOff:
		return nil, nil
	case diskArchiveOn:
		s, err := disk.Open(filepath.Join(a.cfg.DataDir, "disks"))
		if err != nil {
			return nil, fmt.Errorf("disk archive: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("--disk-archive %q: want %s or %s", mode, diskArchiveOn, diskArchiveOff)
	}
}
