package oci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	runc "github.com/containerd/go-runc"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

var _ sandbox.Checkpointer = (*Runtime)(nil)

// CanCheckpoint reports whether containers can be saved with their memory: gVisor's
// runsc checkpoints the whole sandbox by itself. runc would need CRIU, which cannot
// save codebox's containers on this kernel (docs/checkpoint.md).
func (r *Runtime) CanCheckpoint() bool { return r.gvisor }

// Checkpoint saves the running container's memory and processes into dir and ends
// the container (it is then stopped, to be deleted or restored).
func (r *Runtime) Checkpoint(ctx context.Context, id, dir string) error {
	if err := r.rc.Checkpoint(ctx, id, &runc.CheckpointOpts{ImagePath: dir}); err != nil {
		return fmt.Errorf("%s checkpoint %s: %w", filepath.Base(r.binary), id, err)
	}
	return nil
}

// Restore starts the container again from the checkpoint in dir, with the bundle's
// config.json as it was at its start.
func (r *Runtime) Restore(ctx context.Context, id, bundleDir, dir string) error {
	logPath := filepath.Join(bundleDir, "init.log")
	stdio, err := initStdio(logPath)
	if err != nil {
		return err
	}
	defer stdio.close()
	opts := &runc.RestoreOpts{CheckpointOpts: runc.CheckpointOpts{ImagePath: dir}, IO: stdio, Detach: true}
	if _, err := r.rc.Restore(ctx, id, bundleDir, opts); err != nil {
		msg, _ := os.ReadFile(logPath)
		r.Delete(context.WithoutCancel(ctx), id)
		return fmt.Errorf("%w: %s restore: %v: %s", errdefs.ErrUnavailable, filepath.Base(r.binary), err, tail(msg, 2048))
	}
	return nil
}

// Signal sends sig to the container's init.
func (r *Runtime) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	return r.rc.Kill(ctx, id, int(sig), nil)
}
