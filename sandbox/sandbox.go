// Package sandbox runs untrusted code in isolated containers and manages their lifecycle.
//
// A Manager owns every container of a server. Each container is an OCI bundle started
// by a Runtime (package sandbox/oci: runc, or gVisor's runsc) on the shared read-only
// image, with its own sparse ext4 disk (loop-mounted on the host) holding /workspace and
// /tmp, so files survive stops, restarts and server restarts. Its init is the codebox
// binary's agent (package sandbox/agent), which the Manager drives over a unix socket:
// bash commands, the persistent Python REPL and the editor's file access go through it,
// while uploads, listings and downloads read the disk on the host through os.Root.
//
// Lifecycle: Create takes a pre-started container from the warm pool (or starts one);
// an idle container is stopped and restarted transparently on its next use; at its hard
// expiry it is destroyed with its disk; Start reconciles with the runtime after a
// restart, adopting containers that kept running. Every method is scoped to a
// workspace: another workspace's container is errdefs.ErrNotFound.
package sandbox

import (
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// Container is one sandbox: a persistent workspace plus, while it runs, an isolated
// process tree. It belongs to exactly one workspace.
type Container struct {
	ID        string
	Workspace codebox.WorkspaceID
	Name      string
	// Image is the name of the custom image it runs; "" is the default image.
	Image string
	// NetworkPolicy is what it may reach: nothing when it allows no domain.
	NetworkPolicy egress.Policy
	Status        Status
	CreatedAt     time.Time
	// LastActiveAt is the last time a command, file operation or request used it.
	LastActiveAt time.Time
	// IdleExpiresAt is when it will be stopped for idleness (the rolling expires_at the
	// Messages API reports). A stopped container restarts on its next use.
	IdleExpiresAt time.Time
	// ExpiresAt is the hard limit (default 30 days after creation), after which the
	// container and its files are destroyed and it cannot be used again.
	ExpiresAt time.Time
	// MemoryLimit is the memory limit the container asked for at creation, in bytes;
	// 0 is the server's (Limits.Memory).
	MemoryLimit int64
	// ExpiresAfter, when set, makes the container expire (destroyed with its files)
	// this long after its last activity, rather than only at the hard expiry:
	// ExpiresAt then moves with every use, never past CreatedAt plus Config.Expiry.
	ExpiresAfter time.Duration
	// Provisional marks a container created for a request that has not answered yet
	// (CreateOptions.Provisional). Until Confirm it lives only while the request may
	// still use it: the next server start, or Config.ProvisionalGrace without a use,
	// destroys it with its record, since no client ever learnt its ID.
	Provisional bool
	// Node names the codebox node that hosts the container (its disk and processes):
	// "" on a single machine. In a cluster each node's Manager runs only the
	// containers of its Config.Node; the others are reached through that node.
	Node string
	// DiskGeneration numbers the latest archive of its disk in Config.DiskArchive (0:
	// never archived); each archive takes the next number. DiskChecksum is that
	// archive's checksum as the archive store reported it.
	DiskGeneration int64
	DiskChecksum   string
}

// Status is a container's lifecycle state.
type Status string

const (
	StatusRunning Status = "running"
	StatusStopped Status = "stopped" // idle; its files are kept and the next use restarts it
	StatusExpired Status = "expired" // past ExpiresAt; unusable
)

// CreateOptions are the choices a caller may make when creating a container.
type CreateOptions struct {
	Name string
	// FileIDs are files of the workspace copied into the working directory at creation.
	FileIDs []string
	// Provisional creates the container unconfirmed (see Container.Provisional).
	Provisional bool
	// Image names the image to run; "" means the workspace's default image, and
	// DefaultImage the built-in one.
	Image string
	// MemoryLimit is the container's memory limit in bytes, at most the server's
	// Limits.Memory; 0 means the server's.
	MemoryLimit int64
	// ExpiresAfter is how long after its last activity the container expires (see
	// Container.ExpiresAfter); 0 keeps the server's idle policy. It is capped at
	// Config.Expiry.
	ExpiresAfter time.Duration
	// NetworkPolicy is checked against Config.Egress; the zero policy is no network.
	NetworkPolicy egress.Policy
}

// DefaultImage names the built-in image.
const DefaultImage = "default"

// ExecRequest is one bash command.
type ExecRequest struct {
	Command string
	// Timeout is the wall-clock limit; zero means the server's default. At the limit the
	// command's whole process tree is killed and ExecResult.TimedOut is set.
	Timeout time.Duration
	// Output, when set, receives the output as it arrives ("stdout" or "stderr"),
	// up to the same cap as the result. It must not block for long.
	Output func(stream string, p []byte)
}

// PythonRequest is one cell for the container's persistent Python REPL.
type PythonRequest struct {
	Code    string
	Timeout time.Duration
	// Output is as in ExecRequest.
	Output func(stream string, p []byte)
	// Tools, when it names functions, lets the cell's code call client tools; the
	// time the code waits for their answers does not count against Timeout. Its Bound
	// is set by the sandbox.
	Tools *CellTools
}

// CellTools, ToolCall and ToolReply are how a cell's code calls client tools (see
// agent.CellOptions).
type (
	CellTools = agent.CellOptions
	ToolCall  = agent.Call
	ToolReply = agent.Reply
)

// ExecResult is what a command or a REPL cell produced. A command that fails, is killed
// or times out is still a result; only infrastructure failures are errors.
type ExecResult struct {
	Stdout     string
	Stderr     string
	ExitCode   int
	TimedOut   bool // killed at the wall-clock limit
	OOMKilled  bool // killed by the memory limit
	Truncated  bool // stdout or stderr was longer than the capture cap and was cut
	Duration   time.Duration
	Files      []OutputFile // files the run created or modified, stored through the Files API
	FilesError *OutputError // set when some outputs were not stored (too many, too large)
}

// OutputFile is a generated file stored through the Files API as downloadable.
type OutputFile struct {
	FileID   string
	Path     string // relative to the working directory
	Size     int64
	MimeType string
}

// OutputError says why generated files were not all stored. Code is a stable code such
// as "output_file_too_large".
type OutputError struct {
	Code    string
	Message string
}

// ViewResult is the text editor's view of a file.
type ViewResult struct {
	FileType   string // "text", "image" or "pdf"
	Content    string // text with line numbers for text; base64 bytes for image and pdf
	NumLines   int
	StartLine  int
	TotalLines int
}

// ReplaceResult describes a str_replace as a unified-diff hunk.
type ReplaceResult struct {
	OldStart, OldLines int
	NewStart, NewLines int
	Lines              []string // "-old" and "+new" lines
}

// FileInfo describes a file in a container's workspace.
type FileInfo struct {
	Path    string // relative to the working directory
	Size    int64
	ModTime time.Time
	IsDir   bool
}
