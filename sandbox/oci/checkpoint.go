package oci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	runc "github.com/containerd/go-runc"
	"golang.org/x/sys/unix"

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
// config.json as it was at its start, and sends resume to its init.
//
// Two choices keep the first use after an idle stop short (docs/checkpoint.md):
//   - --background: runsc returns once the sandbox's kernel state is loaded, while its
//     memory pages are still being read from the (uncompressed) image; a page touched
//     before it arrives waits for it inside the sandbox.
//   - resume goes to the sandbox process itself, whose host PID --pid-file gives:
//     gVisor forwards the signals its sandbox process receives to the container's
//     init, as `runsc kill` would deliver it, without starting another runsc. This
//     holds on systrap (runsc.go), where the application runs in stub processes of its
//     own: on a platform that runs it on the sandbox process's own threads (KVM),
//     a signal landing on such a thread is handled as gVisor's own, and SIGUSR2 is its
//     panic signal.
func (r *Runtime) Restore(ctx context.Context, id, bundleDir, dir string, resume syscall.Signal) error {
	logPath := filepath.Join(bundleDir, "init.log")
	stdio, err := initStdio(logPath)
	if err != nil {
		return err
	}
	defer stdio.close()
	pidFile := filepath.Join(bundleDir, "restore.pid")
	opts := &runc.RestoreOpts{
		CheckpointOpts: runc.CheckpointOpts{ImagePath: dir},
		IO:             stdio,
		Detach:         true,
		PidFile:        pidFile,
		ExtraArgs:      []string{"--background"},
	}
	if _, err := r.rc.Restore(ctx, id, bundleDir, opts); err != nil {
		msg, _ := os.ReadFile(logPath)
		r.Delete(context.WithoutCancel(ctx), id)
		return fmt.Errorf("%w: %s restore: %v: %s", errdefs.ErrUnavailable, filepath.Base(r.binary), err, tail(msg, 2048))
	}
	pid, err := runc.ReadPidFile(pidFile)
	if err == nil {
		err = unix.Kill(pid, resume)
	}
	if err != nil {
		r.Delete(context.WithoutCancel(ctx), id)
		return fmt.Errorf("%s restore: resuming the container: %w", filepath.Base(r.binary), err)
	}
	return nil
}
