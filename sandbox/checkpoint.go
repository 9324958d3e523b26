package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// A container stopped for idleness keeps its memory: the runtime saves the whole
// sandbox (the REPL's variables, background processes) into the container's directory,
// and its next use restores it from there instead of starting it cold. A container the
// runtime cannot save (one with network access: its proxy's host socket cannot be
// checkpointed) is stopped as before, and so is one whose checkpoint fails. A restore
// that fails starts the container cold: its files are on its disk, not in the
// checkpoint, and are never lost.

// checkpointDir holds the container's saved memory while it is stopped.
func (inst *instance) checkpointDir() string { return filepath.Join(inst.dir, "checkpoint") }

// checkpointer is the runtime as a Checkpointer when checkpoints are on and it can.
func (m *Manager) checkpointer() Checkpointer {
	cp, ok := m.rt.(Checkpointer)
	if !m.cfg.Checkpoint || !ok || !cp.CanCheckpoint() {
		return nil
	}
	return cp
}

// idleStopLocked stops an idle container, checkpointing it first when it can. The
// caller holds sem.
func (m *Manager) idleStopLocked(ctx context.Context, inst *instance) error {
	if cp := m.checkpointer(); cp != nil && inst.client != nil {
		if inst.snapshot().NetworkPolicy.Enabled() {
			m.logger.Info("idle container stopped without checkpoint: it has network access", "container", inst.id)
		} else if err := m.checkpointLocked(ctx, cp, inst); err != nil {
			m.logger.Warn("idle container stopped without checkpoint", "container", inst.id, "err", err)
		}
	}
	return m.stopLocked(ctx, inst)
}

// checkpointLocked saves the running container into its checkpoint directory, which
// ends it. On failure no checkpoint is left, and the container is still to be stopped.
func (m *Manager) checkpointLocked(ctx context.Context, cp Checkpointer, inst *instance) error {
	dir := inst.checkpointDir()
	os.RemoveAll(dir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	began := time.Now()
	// The agent removes its socket (suspend.go); the container ends right after, and
	// its next start gives the directory back to the host's root (lockRunDir).
	err := os.Chown(inst.runDir(), int(inst.hostID), int(inst.hostID))
	if err == nil {
		err = inst.client.Suspend(ctx)
	}
	if err == nil {
		err = cp.Checkpoint(ctx, inst.id, dir)
	}
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	size, _ := dirSize(dir)
	m.logger.Debug("container checkpointed", "container", inst.id, "bytes", size, "took", time.Since(began))
	return nil
}

// restoreLocked starts the container from its checkpoint, if it has one, and reports
// whether it did. The checkpoint is used once: it is gone afterwards whatever
// happened. On failure the container is left absent, to be started cold. The caller
// holds sem and has mounted the disk.
func (m *Manager) restoreLocked(ctx context.Context, inst *instance) bool {
	dir := inst.checkpointDir()
	if _, err := os.Stat(dir); err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	cp := m.checkpointer()
	if cp == nil {
		return false
	}
	began := time.Now()
	client, err := m.restore(ctx, cp, inst, dir)
	if err != nil {
		m.rt.Delete(context.WithoutCancel(ctx), inst.id)
		m.logger.Warn("restoring container failed; starting it afresh", "container", inst.id, "err", err)
		return false
	}
	m.logger.Debug("container restored", "container", inst.id, "took", time.Since(began))
	inst.client, inst.running = client, true
	return true
}

func (m *Manager) restore(ctx context.Context, cp Checkpointer, inst *instance, dir string) (*agent.Client, error) {
	token, err := os.ReadFile(inst.tokenPath())
	if err != nil {
		return nil, err
	}
	// The agent binds its socket anew, as at a start (bootLocked).
	os.Remove(filepath.Join(inst.runDir(), agent.SocketName))
	if err := os.Chown(inst.runDir(), int(inst.hostID), int(inst.hostID)); err != nil {
		return nil, err
	}
	// The stop took the container out of the runtime, so no delete goes first: it
	// would be one more runtime command on every resume. One left there (its delete
	// at the stop failed) makes the restore fail and is deleted with the failure, so
	// the second attempt finds its name free.
	err = cp.Restore(ctx, inst.id, inst.bundleDir(), dir, agent.ResumeSignal)
	if err != nil {
		m.logger.Debug("restoring container failed; trying once more", "container", inst.id, "err", err)
		err = cp.Restore(ctx, inst.id, inst.bundleDir(), dir, agent.ResumeSignal)
	}
	if err != nil {
		return nil, err
	}
	client := &agent.Client{Socket: filepath.Join(inst.runDir(), agent.SocketName), Token: string(token)}
	if err := waitAgent(ctx, client); err != nil {
		return nil, fmt.Errorf("agent after restore: %w", err)
	}
	return client, lockRunDir(inst)
}

// CheckpointSize returns the bytes of ws's container's saved memory: what its idle stop
// (or Suspend) wrote and its next use will restore; 0 when it has none.
func (m *Manager) CheckpointSize(ctx context.Context, ws codebox.WorkspaceID, id string) (int64, error) {
	inst, err := m.lookup(ctx, ws, id, false)
	if err != nil {
		return 0, err
	}
	n, err := dirSize(inst.checkpointDir())
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return n, err
}

// dirSize is the bytes of the regular files directly in dir.
func dirSize(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	var errs []error
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n += fi.Size()
	}
	return n, errors.Join(errs...)
}
