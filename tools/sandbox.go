package tools

import (
	"context"
	"io"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
)

// Sandbox is what the code execution tools need from the sandbox layer; *sandbox.Manager
// satisfies it. Every method is scoped to a workspace: another workspace's container is
// errdefs.ErrNotFound, exactly like an unknown id.
//
// Errors: errdefs.ErrNotFound (unknown container, or a file that does not exist);
// errdefs.ErrInvalid with code "container_expired" (past its hard expiry); errdefs.ErrInvalid
// for bad input (a path that is a directory, an old_str that matches zero or several times
// — code "string_not_found" or "string_not_unique"); errdefs.ErrTooLarge for a file over the
// editor's cap; errdefs.ErrUnavailable when the runtime cannot run the container. A command
// that fails or times out is not an error: it is an ExecResult.
type Sandbox interface {
	Create(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.CreateOptions) (*sandbox.Container, error)
	Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error)
	Exec(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.ExecRequest) (*sandbox.ExecResult, error)
	RunPython(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.PythonRequest) (*sandbox.ExecResult, error)
	// ViewFile reads unsafePath (absolute, or relative to the working directory);
	// viewRange is nil or [start, end] with 1-based lines and end -1 meaning the last line.
	ViewFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, viewRange []int) (*sandbox.ViewResult, error)
	// CreateFile writes text to unsafePath, creating parent directories; updated reports
	// whether the file existed before.
	CreateFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, text string) (updated bool, err error)
	StrReplace(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, oldStr, newStr string) (*sandbox.ReplaceResult, error)
	// Upload writes r to unsafePath in the container (uploaded files land in the working
	// directory under their own names).
	Upload(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, r io.Reader) error
}
