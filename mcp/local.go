package mcp

import (
	"bytes"
	"context"
	"io"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools"
)

// Containers is the part of the sandbox Local uses; *sandbox.Manager satisfies it.
type Containers interface {
	tools.Editor
	Create(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.CreateOptions) (*sandbox.Container, error)
	Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error)
	Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error
	Exec(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.ExecRequest) (*sandbox.ExecResult, error)
	RunPython(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.PythonRequest) (*sandbox.ExecResult, error)
	Upload(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, r io.Reader) error
	OpenFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string) (io.ReadCloser, sandbox.FileInfo, error)
	Files(ctx context.Context, ws codebox.WorkspaceID, id, unsafeDir string) ([]*sandbox.ContainerFile, error)
}

// Local is the Backend of one workspace's caller in the server's process: the
// operations the containers API runs, with its Runner's checks and execution seats.
type Local struct {
	Containers Containers
	Runner     *tools.Runner
	Workspace  codebox.WorkspaceID
}

func (l *Local) NewContainer(ctx context.Context) (string, error) {
	c, err := l.Containers.Create(ctx, l.Workspace, sandbox.CreateOptions{Name: "mcp"})
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

func (l *Local) CheckContainer(ctx context.Context, id string) error {
	_, err := l.Containers.Get(ctx, l.Workspace, id)
	return err
}

func (l *Local) DeleteContainer(ctx context.Context, id string) error {
	return l.Containers.Delete(ctx, l.Workspace, id)
}

func (l *Local) Exec(ctx context.Context, id, command string) (*sandbox.ExecResult, error) {
	req, err := l.Runner.ExecRequest(command, 0)
	if err != nil {
		return nil, err
	}
	return l.seated(ctx, func(ctx context.Context) (*sandbox.ExecResult, error) {
		return l.Containers.Exec(ctx, l.Workspace, id, req)
	})
}

func (l *Local) Python(ctx context.Context, id, code string) (*sandbox.ExecResult, error) {
	req, err := l.Runner.PythonRequest(code, 0)
	if err != nil {
		return nil, err
	}
	return l.seated(ctx, func(ctx context.Context) (*sandbox.ExecResult, error) {
		return l.Containers.RunPython(ctx, l.Workspace, id, req)
	})
}

// seated runs run under an execution seat of the Runner's limiter, as the containers
// API's exec and python routes do.
func (l *Local) seated(ctx context.Context, run func(context.Context) (*sandbox.ExecResult, error)) (*sandbox.ExecResult, error) {
	ctx, release, err := l.Runner.Admit(ctx, l.Workspace)
	if err != nil {
		return nil, err
	}
	defer release()
	return run(ctx)
}

func (l *Local) Edit(ctx context.Context, id string, in tools.EditInput) (*tools.EditResult, error) {
	return tools.Edit(ctx, l.Containers, l.Workspace, id, in)
}

func (l *Local) Upload(ctx context.Context, id, path string, data []byte) error {
	return l.Containers.Upload(ctx, l.Workspace, id, path, bytes.NewReader(data))
}

func (l *Local) ReadFile(ctx context.Context, id, path string, limit int64) ([]byte, error) {
	rc, info, err := l.Containers.OpenFile(ctx, l.Workspace, id, path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if info.IsDir {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "path: %s is a directory", truncate(path, 200))
	}
	return readLimited(rc, path, limit)
}

// readLimited reads r whole, or fails when it is longer than limit.
func readLimited(r io.Reader, path string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errdefs.New(errdefs.ErrTooLarge, "", "%s is larger than %d bytes; download it through the containers API", truncate(path, 200), limit)
	}
	return data, nil
}

func (l *Local) ListFiles(ctx context.Context, id, dir string) ([]File, error) {
	fs, err := l.Containers.Files(ctx, l.Workspace, id, dir)
	if err != nil {
		return nil, err
	}
	out := make([]File, 0, len(fs))
	for _, f := range fs {
		out = append(out, File{Path: f.Path, Bytes: f.Size})
	}
	return out, nil
}
