package sandbox

import (
	"context"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// Exec runs a bash command in the container (starting it if it was stopped) in
// /workspace, under the request's wall-clock limit, and stores the files it created or
// modified there. A command that fails, is killed or times out is a result, not an
// error. If ctx ends first, the command is killed and ctx's error returned.
func (m *Manager) Exec(ctx context.Context, ws codebox.WorkspaceID, id string, req ExecRequest) (*ExecResult, error) {
	return m.ExecStream(ctx, ws, id, req, req.Output)
}

// RunPython runs one cell in the container's persistent Python REPL: variables and
// imports survive between calls, and a trailing expression's value is printed. A cell
// that outlives its limit is interrupted (KeyboardInterrupt); one that does not stop
// costs the REPL its state, never the container.
func (m *Manager) RunPython(ctx context.Context, ws codebox.WorkspaceID, id string, req PythonRequest) (res *ExecResult, err error) {
	defer m.observeExec(ExecKindPython, time.Now(), &res, &err)
	return m.runPython(ctx, ws, id, req, req.Output)
}

// runPython runs req's cell with its output going to out.
func (m *Manager) runPython(ctx context.Context, ws codebox.WorkspaceID, id string, req PythonRequest, out OutputFunc) (*ExecResult, error) {
	if req.Tools != nil && len(req.Tools.Functions) > 0 {
		return m.run(ctx, ws, id, req.Timeout, false, func(c *agent.Client, cmdID string, timeout time.Duration) (*agent.Result, error) {
			opts := *req.Tools
			opts.Bound = timeout + agent.KillGrace + hostGrace
			return c.Cell(ctx, cmdID, req.Code, timeout, &opts, agent.Output(out))
		})
	}
	return m.run(ctx, ws, id, req.Timeout, true, func(c *agent.Client, cmdID string, timeout time.Duration) (*agent.Result, error) {
		return c.Python(ctx, cmdID, req.Code, timeout, agent.Output(out))
	})
}

// hostGrace is how much longer than a command's limit the host waits for its result.
const hostGrace = 30 * time.Second

func (m *Manager) timeout(t time.Duration) time.Duration {
	if t <= 0 {
		return m.cfg.ExecTimeout
	}
	return min(t, m.cfg.MaxExecTimeout)
}

// run runs call in container id. bounded says whether the host bounds the wait by the
// timeout; a cell whose code calls client tools bounds it itself, without the time it
// waits for answers.
func (m *Manager) run(ctx context.Context, ws codebox.WorkspaceID, id string, timeout time.Duration, bounded bool,
	call func(c *agent.Client, cmdID string, timeout time.Duration) (*agent.Result, error)) (*ExecResult, error) {
	inst, err := m.use(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	defer inst.release()
	m.commands.Add(1)
	defer m.commands.Add(-1)
	timeout = m.timeout(timeout)
	// The agent enforces the limit; the host bounds the wait as well, so that a
	// container whose agent stopped answering cannot hold a request forever.
	if bounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout+agent.KillGrace+hostGrace)
		defer cancel()
	}
	var (
		ar      *agent.Result
		before  *workspaceScan
		oomBase uint64
		oomErr  error
	)
	err = m.withAgent(ctx, inst, func(c *agent.Client) error {
		if m.files != nil {
			var serr error
			if before, serr = m.scanWorkspace(ctx, inst.mntDir()); serr != nil {
				m.logger.Warn("scan workspace", "container", id, "err", serr)
			}
		}
		oomBase, oomErr = m.rt.OOMKills(ctx, id)
		var err error
		ar, err = call(c, ids.New("cmd_"), timeout)
		return err
	})
	m.touch(ctx, inst)
	if err != nil {
		if res := m.diedDuringRun(ctx, inst, oomBase, oomErr, err); res != nil { // died.go
			return res, nil
		}
		return nil, err
	}
	res := &ExecResult{
		Stdout:    string(ar.Stdout),
		Stderr:    string(ar.Stderr),
		ExitCode:  ar.End.ExitCode,
		TimedOut:  ar.End.TimedOut,
		Truncated: ar.End.Truncated,
		Duration:  time.Duration(ar.End.DurationMS) * time.Millisecond,
	}
	if oomErr == nil {
		if n, err := m.rt.OOMKills(ctx, id); err == nil && n > oomBase {
			res.OOMKilled = true
		}
	}
	if ar.End.Restarted {
		res.Stderr += "\n[the Python REPL was restarted; variables and imports were lost]\n"
	}
	m.collectOutputs(ctx, ws, inst, before, res)
	return res, nil
}
