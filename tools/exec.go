package tools

import (
	"strings"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

// The bash and Python sub-tools and the containers API's exec and python routes run
// code with the same checks and timeouts: the Runner's ExecRequest and PythonRequest
// build what the sandbox runs, and its Admit holds the execution seat.

// ExecRequest checks a bash command and returns it as the sandbox runs it. timeout
// zero is the Runner's Timeout. Bad input is ErrInvalid with code invalid_tool_input
// and a message fit for the model or the client.
func (r *Runner) ExecRequest(command string, timeout time.Duration) (sandbox.ExecRequest, error) {
	if strings.TrimSpace(command) == "" {
		return sandbox.ExecRequest{}, invalidInput("command is required")
	}
	return sandbox.ExecRequest{Command: command, Timeout: r.timeout(timeout)}, nil
}

// PythonRequest checks code for a container's persistent interpreter and returns it as
// the sandbox runs it; timeout and errors as for ExecRequest.
func (r *Runner) PythonRequest(code string, timeout time.Duration) (sandbox.PythonRequest, error) {
	if code == "" {
		return sandbox.PythonRequest{}, invalidInput("code is required")
	}
	return sandbox.PythonRequest{Code: code, Timeout: r.timeout(timeout)}, nil
}

func (r *Runner) timeout(d time.Duration) time.Duration {
	if d == 0 {
		return r.Timeout
	}
	return d
}

func invalidInput(msg string) error {
	return &errdefs.Public{Kind: errdefs.ErrInvalid, Code: errdefs.CodeInvalidToolInput, Message: msg}
}
