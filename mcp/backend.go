// Package mcp serves codebox's sandbox to MCP clients: tools to run bash and Python,
// edit, upload, read and list files, and manage the container they run in. The tool
// set is one implementation over a Backend: Local runs the sandbox operations in the
// server's process (codebox serve's /mcp), Remote calls a server's containers API
// (codebox mcp over stdio).
package mcp

import (
	"context"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools"
)

// Backend is what the tools need: the containers API's operations on one caller's
// containers. Errors carry the containers API's messages; every one of them is shown
// to the client as a failed tool call.
type Backend interface {
	NewContainer(ctx context.Context) (id string, err error)
	// CheckContainer reports whether container id exists for the caller.
	CheckContainer(ctx context.Context, id string) error
	DeleteContainer(ctx context.Context, id string) error
	Exec(ctx context.Context, id, command string) (*sandbox.ExecResult, error)
	Python(ctx context.Context, id, code string) (*sandbox.ExecResult, error)
	Edit(ctx context.Context, id string, in tools.EditInput) (*tools.EditResult, error)
	Upload(ctx context.Context, id, path string, data []byte) error
	// ReadFile returns at most limit bytes of the file; longer files are an error.
	ReadFile(ctx context.Context, id, path string, limit int64) ([]byte, error)
	// ListFiles lists the files under dir ("" is the working directory), recursively.
	ListFiles(ctx context.Context, id, dir string) ([]File, error)
}

// File is a file in a container.
type File struct {
	Path  string `json:"path"` // absolute
	Bytes int64  `json:"bytes"`
}
