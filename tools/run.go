package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

// Runner executes sub-tool calls in a workspace's containers.
type Runner struct {
	sb Sandbox
	// Timeout is the wall-clock limit of one bash command or legacy Python run; zero
	// means the sandbox's default.
	Timeout time.Duration
	// CellTimeout is the limit of one REPL cell for code_execution_20260521, whose tool
	// description promises 90 seconds.
	CellTimeout time.Duration
	// Limiter bounds concurrent execution (nil: no bound). A call made under a seat
	// from Admit runs in it; any other call takes a seat of its own, and one that
	// cannot get it in time gets too_many_requests.
	Limiter *Limiter
	// Logger gets the full error of a failed call, which the model is not shown (nil:
	// slog.Default()).
	Logger *slog.Logger
}

// NewRunner returns a Runner over sb with the defaults.
func NewRunner(sb Sandbox) *Runner {
	return &Runner{sb: sb, CellTimeout: 90 * time.Second, Limiter: DefaultLimiter()}
}

// Admit waits for an execution seat in workspace ws for a request that will run calls,
// and returns ctx holding it (the request's calls run in it) and the function that
// frees it. When no seat frees up in time the error is ErrRateLimited or ErrUnavailable
// with a retry-after (see Limiter).
func (r *Runner) Admit(ctx context.Context, ws codebox.WorkspaceID) (context.Context, func(), error) {
	if r.Limiter == nil {
		return ctx, func() {}, nil
	}
	return r.Limiter.Acquire(ctx, ws)
}

// TryAdmit takes an execution seat in workspace ws only if one is free now (see
// Limiter.TryAcquire); ok is false when none is.
func (r *Runner) TryAdmit(ctx context.Context, ws codebox.WorkspaceID) (_ context.Context, release func(), ok bool) {
	if r.Limiter == nil {
		return ctx, func() {}, true
	}
	return r.Limiter.TryAcquire(ctx, ws)
}

// maxLegacyCode caps the legacy tool's code, which travels on a command line.
const maxLegacyCode = 96 << 10

// Run executes one call of sub-tool name with the model's input in container id, for
// the tool version the request declared. Bad input, limits and missing files are
// results; an error means the sandbox infrastructure failed (or ctx ended).
func (r *Runner) Run(ctx context.Context, ws codebox.WorkspaceID, id, version, name string, input json.RawMessage) (*Result, error) {
	return r.run(ctx, ws, id, version, name, input, nil)
}

func (r *Runner) run(ctx context.Context, ws codebox.WorkspaceID, id, version, name string, input json.RawMessage, ct *sandbox.CellTools) (*Result, error) {
	if !Offers(version, name) && (ct == nil || name != Python) {
		return errorResult(name, errdefs.CodeInvalidToolInput, "tool %s is not available with %s", name, version), nil
	}
	seated, release, err := r.Admit(ctx, ws)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return errorResult(name, errdefs.CodeTooManyRequests, "too many code execution calls running at once; retry shortly"), nil
	}
	defer release()
	ctx = seated

	var res *Result
	switch name {
	case Bash:
		res, err = r.bash(ctx, ws, id, input)
	case TextEditor:
		res, err = r.edit(ctx, ws, id, input)
	case Python:
		res, err = r.python(ctx, ws, id, version, input, ct)
	}
	if err != nil {
		if res := r.sandboxErrorResult(name, err); res != nil && ctx.Err() == nil {
			return res, nil
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}

// publicMessages are what the model and the client are told of a sandbox failure whose
// error carries no client-safe message: the error's own text may hold host paths,
// runtime output or an agent's log, which belong in the server's log only.
var publicMessages = map[string]string{
	errdefs.CodeContainerExpired:      "the container has expired",
	errdefs.CodeStringNotFound:        "old_str was not found in the file",
	errdefs.CodeFileNotFound:          "the file does not exist",
	errdefs.CodeUnavailable:           "the container is unavailable right now; try again",
	errdefs.CodeInvalidToolInput:      "the input cannot be used",
	errdefs.CodeTooManyRequests:       "too many code execution calls running at once; retry shortly",
	errdefs.CodeExecutionTimeExceeded: "execution exceeded the time limit",
}

// sandboxErrorResult maps the sandbox's documented error kinds to result codes, or
// returns nil for an infrastructure failure. Only an *errdefs.Public message is passed
// on; any other error gets its code's public message, and its full chain is logged.
func (r *Runner) sandboxErrorResult(tool string, err error) *Result {
	var code string
	switch c := errdefs.Code(err); {
	case c == errdefs.CodeContainerExpired:
		code = errdefs.CodeContainerExpired
	case c == errdefs.CodeStringNotFound:
		code = errdefs.CodeStringNotFound
	case errors.Is(err, errdefs.ErrNotFound) && tool == TextEditor:
		code = errdefs.CodeFileNotFound
	case errors.Is(err, errdefs.ErrNotFound):
		// The container vanished under a running call (deleted by its owner).
		code = errdefs.CodeUnavailable
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, errdefs.ErrTooLarge):
		code = errdefs.CodeInvalidToolInput
	case errors.Is(err, errdefs.ErrRateLimited):
		code = errdefs.CodeTooManyRequests
	case errors.Is(err, errdefs.ErrTimeout):
		code = errdefs.CodeExecutionTimeExceeded
	case errors.Is(err, errdefs.ErrUnavailable):
		code = errdefs.CodeUnavailable
	default:
		return nil
	}
	var pub *errdefs.Public
	if errors.As(err, &pub) && pub.Message != "" {
		return errorResult(tool, code, "%s", pub.Message)
	}
	r.logger().Warn("code execution call failed", "tool", tool, "error_code", code, "err", err)
	return errorResult(tool, code, "%s", publicMessages[code])
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// decodeInput decodes the model's input strictly enough to catch wrong types, and
// reports a message for invalid_tool_input.
func decodeInput(input json.RawMessage, v any) string {
	if len(bytes.TrimSpace(input)) == 0 {
		return "input is empty"
	}
	if err := json.Unmarshal(input, v); err != nil {
		return "input is not a valid JSON object of the expected shape: " + err.Error()
	}
	return ""
}

func (r *Runner) bash(ctx context.Context, ws codebox.WorkspaceID, id string, input json.RawMessage) (*Result, error) {
	var in struct {
		Command *string `json:"command"`
		Restart bool    `json:"restart"`
	}
	if msg := decodeInput(input, &in); msg != "" {
		return errorResult(Bash, errdefs.CodeInvalidToolInput, "%s", msg), nil
	}
	if in.Command == nil || *in.Command == "" {
		if in.Restart {
			// Every command runs in a fresh shell, so a restart has nothing to reset.
			return &Result{Tool: Bash, Stdout: "", ReturnCode: 0}, nil
		}
	}
	req, err := r.ExecRequest(deref(in.Command), 0)
	if err != nil {
		return nil, err
	}
	res, err := r.sb.Exec(ctx, ws, id, req)
	if err != nil {
		return nil, err
	}
	return execResult(Bash, res), nil
}

func (r *Runner) python(ctx context.Context, ws codebox.WorkspaceID, id, version string, input json.RawMessage, ct *sandbox.CellTools) (*Result, error) {
	var in struct {
		Code *string `json:"code"`
	}
	if msg := decodeInput(input, &in); msg != "" {
		return errorResult(Python, errdefs.CodeInvalidToolInput, "%s", msg), nil
	}
	var timeout time.Duration
	if version == CodeExecution20260521 {
		timeout = r.CellTimeout
	}
	req, err := r.PythonRequest(deref(in.Code), timeout)
	if err != nil {
		return nil, err
	}
	if ct != nil {
		// Code that calls client tools runs in the REPL's machinery: in the persistent
		// interpreter where the version has one, else in a fresh one.
		ct.Fresh = !PersistentPython(version)
		req.Tools = ct
		res, err := r.sb.RunPython(ctx, ws, id, req)
		if err != nil {
			return nil, err
		}
		return execResult(Python, res), nil
	}
	if PersistentPython(version) {
		res, err := r.sb.RunPython(ctx, ws, id, req)
		if err != nil {
			return nil, err
		}
		return execResult(Python, res), nil
	}
	// The legacy tool runs each call in a fresh interpreter. The code travels base64
	// encoded in the command line, so no quoting can break out of it.
	if len(req.Code) > maxLegacyCode {
		return errorResult(Python, errdefs.CodeInvalidToolInput, "code is longer than %d bytes", maxLegacyCode), nil
	}
	cmd := "exec python3 -c 'import base64,sys; sys.argv=[\"-c\"]; " +
		"exec(compile(base64.b64decode(\"" + base64.StdEncoding.EncodeToString([]byte(req.Code)) + "\").decode(), \"<code>\", \"exec\"))'"
	res, err := r.sb.Exec(ctx, ws, id, sandbox.ExecRequest{Command: cmd, Timeout: req.Timeout})
	if err != nil {
		return nil, err
	}
	return execResult(Python, res), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func execResult(tool string, res *sandbox.ExecResult) *Result {
	switch {
	case res.TimedOut:
		return errorResult(tool, errdefs.CodeExecutionTimeExceeded, "execution exceeded the time limit and was killed")
	case res.FilesError != nil:
		code := res.FilesError.Code
		if code == "" {
			code = errdefs.CodeOutputFileTooLarge
		}
		return errorResult(tool, code, "%s", res.FilesError.Message)
	}
	out := &Result{Tool: tool, Stdout: res.Stdout, Stderr: res.Stderr, ReturnCode: res.ExitCode, Files: res.Files}
	if res.OOMKilled {
		out.Stderr += "\n[killed: the container ran out of memory]"
		if out.ReturnCode == 0 {
			out.ReturnCode = 137
		}
	}
	if res.Truncated {
		out.Stderr += "\n[output truncated]"
	}
	return out
}

func (r *Runner) edit(ctx context.Context, ws codebox.WorkspaceID, id string, input json.RawMessage) (*Result, error) {
	var in EditInput
	if msg := decodeInput(input, &in); msg != "" {
		return errorResult(TextEditor, errdefs.CodeInvalidToolInput, "%s", msg), nil
	}
	res, err := Edit(ctx, r.sb, ws, id, in)
	if err != nil {
		return nil, err
	}
	return &Result{Tool: TextEditor, Edit: res}, nil
}
