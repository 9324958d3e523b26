package sandbox

import (
	"context"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// OutputFunc receives a command's output as it is produced: stream is "stdout" or
// "stderr", and p is only valid during the call. Calls are sequential.
type OutputFunc func(stream string, p []byte)

// ExecStream is Exec with the output also delivered to out while the command runs (the
// result still carries all of it, within the capture cap).
func (m *Manager) ExecStream(ctx context.Context, ws codebox.WorkspaceID, id string, req ExecRequest, out OutputFunc) (res *ExecResult, err error) {
	// Refused before a container is started for it: bad input is the caller's error.
	if err := agent.CheckCommand(req.Command); err != nil {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "%s", err)
	}
	defer m.observeExec(ExecKindBash, time.Now(), &res, &err)
	return m.run(ctx, ws, id, req.Timeout, true, func(c *agent.Client, cmdID string, timeout time.Duration) (*agent.Result, error) {
		return c.Exec(ctx, cmdID, req.Command, timeout, agent.Output(out))
	})
}

// RunPythonStream is RunPython with the cell's output also delivered to out.
func (m *Manager) RunPythonStream(ctx context.Context, ws codebox.WorkspaceID, id string, req PythonRequest, out OutputFunc) (res *ExecResult, err error) {
	defer m.observeExec(ExecKindPython, time.Now(), &res, &err)
	return m.runPython(ctx, ws, id, req, out)
}
