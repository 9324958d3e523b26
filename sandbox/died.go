package sandbox

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

// diedDuringRun turns a broken agent connection into a result when the container itself
// is gone. Under gVisor a memory-limit kill takes the whole sandbox (the host OOM killer
// picks the sentry), so the run ends with the connection cut instead of an exit status.
// The command was killed, which is a result, not an infrastructure failure: the
// container is marked stopped, and its next use starts it again with its files intact.
// It returns nil when err is anything else or the container still runs. inst must be
// held.
func (m *Manager) diedDuringRun(ctx context.Context, inst *instance, oomBase uint64, oomErr, err error) *ExecResult {
	if !connectionCut(err) || ctx.Err() != nil {
		return nil
	}
	// The runtime may not have noticed yet (runsc still says "running" right after its
	// sentry is killed), so ask the agent itself.
	if inst.client != nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		alive := inst.client.Ping(pctx) == nil
		cancel()
		if alive {
			return nil
		}
	}
	res := &ExecResult{ExitCode: 137, Files: []OutputFile{}}
	if oomErr == nil {
		if n, err := m.rt.OOMKills(context.WithoutCancel(ctx), inst.id); err == nil && n > oomBase {
			res.OOMKilled = true
		}
	}
	if res.OOMKilled {
		res.Stderr = "[the container was killed by its memory limit; it restarts on the next command with its files kept, the Python REPL's state is lost]\n"
	} else {
		res.Stderr = "[the container stopped during the command; it restarts on the next command with its files kept, the Python REPL's state is lost]\n"
	}
	m.logger.Warn("container died during a command", "container", inst.id, "oom", res.OOMKilled, "err", err)
	if err := m.stopLocked(ctx, inst); err != nil {
		m.logger.Warn("removing a dead container", "container", inst.id, "err", err)
	}
	return res
}

// connectionCut reports whether err is the agent connection ending mid-request.
func connectionCut(err error) bool {
	var ne *net.OpError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, &ne)
}
