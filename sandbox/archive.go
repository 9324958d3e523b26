package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/codebox-dev/codebox/diskimage"
	"github.com/codebox-dev/codebox/errdefs"
)

// With Config.Disks set, a container's disk outlives its node: after a stop
// (for idleness, to make room, or asked for) the unmounted, trimmed image is archived
// (package diskimage: its data only, checksummed) under the container's ID, and the
// archive's generation is recorded with the container. A start that finds no local
// image, or one older than the recorded generation, fetches and restores the archive
// before mounting, so any node can start the container with its files. The runsc
// memory checkpoint (checkpoint.go) stays on the node that took it: a container that
// moved starts cold, with its files.
//
// The archive store's Put is atomic, so an archive cut short (a crash, a shutdown)
// leaves the previous one whole; the local image is only read meanwhile. Whether the
// local image has changed since its last archive is kept in a small file beside it,
// so that a stop missed by a crash is archived at the next start of the server.

// DiskArchive stores archived container disks by container ID; files.Blobs satisfies
// it.
type DiskArchive interface {
	// Put stores r under key, atomically, and returns its size and checksum.
	Put(ctx context.Context, key string, r io.Reader) (size int64, checksum string, err error)
	// Open returns errdefs.ErrNotFound for a missing key.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// Remove deletes key; a missing key is not an error.
	Remove(ctx context.Context, key string) error
}

// maxConcurrentArchives bounds the archives written at once.
const maxConcurrentArchives = 2

// diskStatePath holds "<generation>" when the local image is that archive exactly, or
// "<generation> modified" when it has been mounted since. No file is generation 0,
// modified: a disk never archived.
func (inst *instance) diskStatePath() string { return filepath.Join(inst.dir, "disk.gen") }

const modifiedSuffix = " modified"

// localDisk reads the generation the local image descends from and whether it has
// changed since.
func (inst *instance) localDisk() (gen int64, modified bool) {
	b, err := os.ReadFile(inst.diskStatePath())
	if err != nil {
		return 0, true
	}
	s, modified := strings.CutSuffix(strings.TrimSpace(string(b)), modifiedSuffix)
	gen, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, true
	}
	return gen, modified
}

func (inst *instance) setLocalDisk(gen int64, modified bool) error {
	s := strconv.FormatInt(gen, 10)
	if modified {
		s += modifiedSuffix
	}
	tmp := inst.diskStatePath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(s+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, inst.diskStatePath())
}

// markDiskModified records, before a mount, that the local image is about to change.
// The caller holds sem.
func (m *Manager) markDiskModified(inst *instance) error {
	if m.cfg.Disks == nil {
		return nil
	}
	gen, modified := inst.localDisk()
	if modified {
		return nil
	}
	return inst.setLocalDisk(gen, true)
}

// fetchDiskLocked restores the container's disk from its archive when the local image
// is missing (the container was adopted from another node, or its directory was lost)
// or older than the archive recorded with the container. The caller holds sem and the
// instance does not count the disk mounted.
func (m *Manager) fetchDiskLocked(ctx context.Context, inst *instance) error {
	c := inst.snapshot()
	_, statErr := os.Stat(inst.diskPath())
	if statErr != nil && !errors.Is(statErr, os.ErrNotExist) {
		return statErr
	}
	missing := statErr != nil
	if m.cfg.Disks == nil || c.DiskGeneration == 0 {
		if !missing {
			return nil
		}
		if m.cfg.Disks == nil {
			return errdefs.New(errdefs.ErrUnreachable, errdefs.CodeContainerUnavailable,
				"the files of container %s are not on this node and no copy of them was saved", c.ID)
		}
		return errdefs.New(errdefs.ErrUnreachable, errdefs.CodeContainerUnavailable,
			"the files of container %s were not saved by the node that hosted it", c.ID)
	}
	if local, _ := inst.localDisk(); !missing && local >= c.DiskGeneration {
		return nil
	}
	if !missing {
		// Still mounted from before (a restart): that is the disk in use.
		if mounted, err := isMountpoint(inst.mntDir()); err != nil || mounted {
			return err
		}
	}
	for _, d := range []string{inst.dir, inst.bundleDir(), inst.mntDir()} {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	if err := m.promiseDisk(ctx, inst, true); err != nil {
		return err
	}
	began := time.Now()
	h, err := m.restoreDisk(ctx, inst, c.DiskGeneration)
	if err != nil {
		m.cfg.Space.Release(inst.id)
		if ctx.Err() != nil {
			return withCause(ctx, err)
		}
		// Not an overload: the archive store or the archive failed.
		return &errdefs.Public{Kind: errdefs.ErrUpstream,
			Message: "the container's saved disk could not be restored; its files are kept, try again later",
			Err:     fmt.Errorf("restore disk of %s: %w", inst.id, err)}
	}
	// A memory checkpoint belongs to the disk it was taken with.
	os.RemoveAll(inst.checkpointDir())
	if err := inst.setLocalDisk(int64(h.Generation), false); err != nil {
		return err
	}
	m.logger.Info("container disk restored from its archive", "container", inst.id, "generation", h.Generation,
		"took", time.Since(began))
	return nil
}

func (m *Manager) restoreDisk(ctx context.Context, inst *instance, want int64) (diskimage.Header, error) {
	rc, err := m.cfg.Disks.Open(ctx, inst.id)
	if err != nil {
		return diskimage.Header{}, err
	}
	defer rc.Close()
	return diskimage.Restore(ctx, rc, inst.diskPath(), diskimage.RestoreOptions{
		Check: func(h diskimage.Header) error {
			// A newer archive than recorded is one whose record update a crash cut
			// short; an older one is not this container's latest disk.
			if int64(h.Generation) < want {
				return fmt.Errorf("%w: archive generation %d, the container's is %d", diskimage.ErrCorrupt, h.Generation, want)
			}
			return nil
		},
	})
}

// scheduleArchive archives the container's disk in the background once the caller
// lets go of it, if it has changed since its last archive.
func (m *Manager) scheduleArchive(inst *instance) {
	if m.cfg.Disks == nil || inst.snapshot().Workspace == "" {
		return
	}
	ctx := m.bg
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		select {
		case m.archives <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-m.archives }()
		if err := inst.acquire(ctx); err != nil {
			return
		}
		defer inst.release()
		if err := m.archiveLocked(ctx, inst); err != nil && ctx.Err() == nil {
			m.logger.Warn("archive container disk", "container", inst.id, "err", err)
		}
	}()
}

// archiveLocked archives the stopped container's disk if it changed since its last
// archive. The caller holds sem.
func (m *Manager) archiveLocked(ctx context.Context, inst *instance) error {
	inst.mu.Lock()
	c, gone := inst.c, inst.gone
	inst.mu.Unlock()
	if gone || inst.running || inst.mounted || c.Workspace == "" {
		return nil // in use again: its next stop archives it
	}
	local, modified := inst.localDisk()
	if !modified && local >= c.DiskGeneration {
		return nil
	}
	if _, err := os.Stat(inst.diskPath()); err != nil {
		return nil // nothing here to archive (its disk is elsewhere)
	}
	gen := max(local, c.DiskGeneration) + 1
	began := time.Now()
	pr, pw := io.Pipe()
	written := make(chan diskimage.Stats, 1)
	go func() {
		st, err := diskimage.Write(ctx, pw, inst.diskPath(), uint64(gen))
		written <- st
		pw.CloseWithError(err)
	}()
	size, sum, err := m.cfg.Disks.Put(ctx, inst.id, pr)
	pr.CloseWithError(errors.New("archive store stopped reading"))
	st := <-written
	if err != nil {
		return err
	}
	if err := inst.setLocalDisk(gen, false); err != nil {
		return err
	}
	inst.mu.Lock()
	inst.c.DiskGeneration, inst.c.DiskChecksum = gen, sum
	c = inst.c
	inst.mu.Unlock()
	if err := m.store.UpdateContainer(context.WithoutCancel(ctx), &c); err != nil {
		return fmt.Errorf("record disk archive: %w", err)
	}
	m.logger.Info("container disk archived", "container", inst.id, "generation", gen, "data", st.Data,
		"bytes", size, "took", time.Since(began))
	return nil
}

// removeArchive deletes a destroyed container's archive.
func (m *Manager) removeArchive(ctx context.Context, inst *instance) {
	if m.cfg.Disks == nil || inst.snapshot().Workspace == "" {
		return
	}
	if err := m.cfg.Disks.Remove(ctx, inst.id); err != nil {
		m.logger.Warn("remove container disk archive", "container", inst.id, "err", err)
	}
}
